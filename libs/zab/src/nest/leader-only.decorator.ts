import { SetMetadata } from '@nestjs/common';
import type { SuspendedPolicy } from '../recipes/lock-errors.js';
import { LEADER_ONLY_METADATA } from './leadership.constants.js';

export interface LeaderOnlyOptions {
  /** 'skip' (default): on a follower the call returns undefined; 'throw': `NotLeaderError`. */
  onFollower?: 'skip' | 'throw';
  /** 'lost' (default): leadership ends when the connection is suspended; 'keep': when lost. */
  suspendedPolicy?: SuspendedPolicy;
}

export interface LeaderOnlyMetadata {
  group: string;
  onFollower: 'skip' | 'throw';
  suspendedPolicy: SuspendedPolicy;
}

/**
 * Runs the method only on the instance that leads `group` (default `'default'`): a real
 * election per group (Curator LeaderLatch semantics), so different groups spread over the
 * instances. Composes with `@Cron`, `@Interval` and `@Timeout` in either order: this only sets
 * metadata; `CoordinationExplorer` wraps the method once the module is instantiated, keeping
 * its metadata, `name` and `length`. Inside the call `currentLeadership()` gives the term's
 * `signal`, aborted when leadership ends. On a class, it names the group `LeaderOnlyGuard`
 * checks for the class's handlers (no wrapping).
 */
export function LeaderOnly(group = 'default', options: LeaderOnlyOptions = {}): MethodDecorator & ClassDecorator {
  const metadata: LeaderOnlyMetadata = {
    group,
    onFollower: options.onFollower ?? 'skip',
    suspendedPolicy: options.suspendedPolicy ?? 'lost',
  };
  return SetMetadata(LEADER_ONLY_METADATA, metadata);
}
