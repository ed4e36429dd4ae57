/**
 * Typed failures of the lock and leadership recipes. They are not ZooKeeper result codes
 * (those arrive as `KeeperError`s): they say what happened to the lock or the leadership.
 */

/** The lock was not acquired within `waitMs` (0: it was busy and the caller would not wait). */
export class LockTimeoutError extends Error {
  override readonly name = 'LockTimeoutError';
  constructor(
    readonly keys: readonly string[],
    readonly waitMs: number,
  ) {
    super(waitMs === 0
      ? `lock ${keys.join(', ')} is held elsewhere`
      : `lock ${keys.join(', ')} not acquired within ${waitMs} ms`);
  }
}

export type LockLossReason = 'suspended' | 'lost' | 'deleted' | 'shutdown';

/**
 * A held lock can no longer be trusted: the connection was suspended (under the default
 * policy) or lost, the lock node was deleted, or the application shut down. It is the reason
 * of the holder's aborted `signal`.
 */
export class LockLostError extends Error {
  override readonly name = 'LockLostError';
  constructor(
    readonly keys: readonly string[],
    readonly reason: LockLossReason,
  ) {
    super(`lock ${keys.join(', ')} lost: ${reason}`);
  }
}

/** This instance does not lead `group` (thrown by `assertLeader`, `@LeaderOnly` with 'throw'). */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
  constructor(
    readonly group: string,
    detail = 'this instance is not the leader',
  ) {
    super(`${detail} of group ${group}`);
  }
}

/** What a connection `suspended` state means to a lock or leadership holder. */
export type SuspendedPolicy = 'lost' | 'keep';
