/** Environment failures of the storage layer (typed, one class each). */

/** A write or fsync failed: the store is fail-stopped; nothing will be retried. */
export class StorageFailedError extends Error {
  override readonly name = 'StorageFailedError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Data before the tail of the log (or a snapshot's framing) does not verify: the replica
 * refuses to start rather than silently lose data. Names the file and the byte offset.
 */
export class StorageCorruptionError extends Error {
  override readonly name = 'StorageCorruptionError';
  constructor(
    readonly file: string,
    readonly offset: number,
    reason: string,
  ) {
    super(`corrupt data in ${file} at byte offset ${offset}: ${reason}`);
  }
}

/**
 * Another live process holds the data directory's lock: two replicas must never share a
 * data directory. Names the directory and the holder's pid.
 */
export class StorageLockedError extends Error {
  override readonly name = 'StorageLockedError';
  constructor(
    readonly directory: string,
    readonly holderPid: number,
  ) {
    super(
      `data directory ${directory} is in use by process ${holderPid}; ` +
        `two replicas must not share a data directory`,
    );
  }
}
