import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { LEADER_ONLY_METADATA } from './leadership.constants.js';
import type { LeaderOnlyMetadata } from './leader-only.decorator.js';
import { ZabElections } from './zab-elections.service.js';

/**
 * Lets a request through only on the leader of the group named by `@LeaderOnly(group)` on the
 * handler or its class (default group `'default'`); elsewhere Nest answers as for any denying
 * guard (HTTP 403, an RpcException for microservices). Works for HTTP, microservice and
 * gateway handlers alike.
 */
@Injectable()
export class LeaderOnlyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly elections: ZabElections,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const metadata = this.reflector.getAllAndOverride<LeaderOnlyMetadata | undefined>(
      LEADER_ONLY_METADATA, [context.getHandler(), context.getClass()]);
    const election = await this.elections.join(metadata?.group ?? 'default', metadata?.suspendedPolicy ?? 'lost');
    return election.isLeader;
  }
}
