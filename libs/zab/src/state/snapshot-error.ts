/** Raised by `DataTree.fromSnapshot` when the body is not a valid snapshot (bad or truncated). */
export class SnapshotDecodeError extends Error {
  override readonly name: string = 'SnapshotDecodeError';
}

/** The snapshot decoded, but the tree it describes does not hash to the digest it carries. */
export class SnapshotDigestMismatchError extends SnapshotDecodeError {
  override readonly name = 'SnapshotDigestMismatchError';

  constructor(
    readonly expected: bigint,
    readonly actual: bigint,
  ) {
    super(
      `snapshot digest mismatch: recorded 0x${expected.toString(16)}, ` +
        `recomputed 0x${actual.toString(16)}`,
    );
  }
}
