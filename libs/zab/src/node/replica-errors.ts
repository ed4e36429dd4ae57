/** Environment failures of the replica driver. */

/** The replica fail-stopped (storage failure or broken invariant) or is closing/closed. */
export class ReplicaStoppedError extends Error {
  override readonly name = 'ReplicaStoppedError';
  constructor(cause?: Error, message?: string) {
    super(
      message ??
        `the replica stopped accepting writes after a failure: ${cause?.message ?? 'unknown'}; ` +
          'check the disk and the log above, then restart the instance',
      cause === undefined ? undefined : { cause },
    );
  }
}

/** The data directory cannot be recovered into a consistent state. */
export class RecoveryError extends Error {
  override readonly name = 'RecoveryError';
}
