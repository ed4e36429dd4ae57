/**
 * Readiness for `@nestjs/terminus` (v11+ `HealthIndicatorService` API; import from
 * `nestjs-zab/health`): up only while this instance's replica is in a working quorum — a
 * serving standalone replica, an established leader, or a follower/observer up to date with
 * one — with details: mode, leader, epoch, last zxid, commit lag, session state.
 *
 * Use it for READINESS, not liveness: restarting every instance because the ensemble lost
 * its quorum (a partition, a majority down) makes the outage worse and cannot restore the
 * quorum; taking instances out of the load balancer while they cannot write is what helps.
 */
import { Inject, Injectable, Optional } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { CoordinationClient } from '../node/coordination-client.js';
import type { ReplicaStatus } from '../node/replica-status.js';
import { ZAB_CLIENT, ZAB_REPLICA } from './zab.constants.js';

interface StatusSource {
  status(): ReplicaStatus | Promise<ReplicaStatus>;
}

@Injectable()
export class ZabHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    @Inject(ZAB_CLIENT) private readonly client: CoordinationClient,
    @Optional() @Inject(ZAB_REPLICA) private readonly replica?: StatusSource | null,
  ) {}

  /** `{ [key]: { status: 'up' | 'down', ...details } }` for a terminus health check. */
  async isReady(key = 'zab'): Promise<HealthIndicatorResult> {
    const indicator = this.health.check(key);
    const session = { session: this.client.state, connection: this.client.connectionState };
    if (this.replica === undefined || this.replica === null || typeof this.replica.status !== 'function') {
      // A client of a remote ensemble (`connect`: ZAB_REPLICA is null): ready while its
      // session is connected.
      const ready = this.client.state === 'connected' &&
        (this.client.connectionState === 'connected' || this.client.connectionState === 'reconnected');
      return ready ? indicator.up(session) : indicator.down(session);
    }
    let status: ReplicaStatus;
    try {
      status = await this.replica.status();
    } catch (error) {
      return indicator.down({ ...session, reason: (error as Error).message });
    }
    const details = {
      mode: status.mode,
      state: status.state,
      leader: status.leaderId ?? null,
      epoch: status.epoch,
      lastZxid: `0x${status.lastZxid.toString(16)}`,
      commitLagTxns: status.commitLagTxns,
      ...session,
    };
    const ready = status.established && this.client.state === 'connected';
    return ready ? indicator.up(details) : indicator.down(details);
  }
}
