import { SetMetadata } from '@nestjs/common';
import type { SuspendedPolicy } from '../recipes/lock-errors.js';
import { LEADER_ONLY_METADATA } from './leadership.constants.js';

export interface LeaderOnlyOptions {
  /** 'skip' (default): on a follower the call returns undefined; 'throw': `NotLeaderError`. */
  onFollower?: 'skip' | 'throw';
  /** 'lost' (default): leadership ends when the connection is suspended; 'keep': when lost. */
  suspendedPolicy?: SuspendedPolicy;
  /**
   * For a `@Cron` method: each scheduled fire runs at most once across the instances, even
   * when a hand-over or clock skew makes two instances' timers fire for the same time. The
   * fire is recorded (compare-and-set) in `/zab/jobs/<group>/<job>` before the body runs;
   * `currentLeadership().fireTime` is the fire's scheduled time. Default false.
   */
  oncePerFire?: boolean;
  /**
   * With `oncePerFire`, fires missed while no instance led (a hand-over): 'skip' (default)
   * drops them; 'runOnce' runs the body once, for the latest missed fire, when leadership is
   * gained.
   */
  misfire?: 'skip' | 'runOnce';
  /**
   * With `oncePerFire`: how late (or how far a skewed clock behind) a timer may fire and still
   * stand for a scheduled time. Default: half the schedule's period, at most 1000 ms.
   */
  toleranceMs?: number;
  /** With `oncePerFire`: the job's name under the group. Default: `@Cron`'s name, else `Class.method`. */
  job?: string;
}

export interface LeaderOnlyMetadata {
  group: string;
  onFollower: 'skip' | 'throw';
  suspendedPolicy: SuspendedPolicy;
  oncePerFire: boolean;
  misfire: 'skip' | 'runOnce';
  toleranceMs: number | undefined;
  job: string | undefined;
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
    oncePerFire: options.oncePerFire ?? false,
    misfire: options.misfire ?? 'skip',
    toleranceMs: options.toleranceMs,
    job: options.job,
  };
  return SetMetadata(LEADER_ONLY_METADATA, metadata);
}
