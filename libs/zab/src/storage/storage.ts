/**
 * Storage ports. The driver (node/) is their only user; `file/` implements them on a real
 * disk and `memory/` in memory (`dataDir: ':memory:'`, tests, the simulator).
 *
 * Durability contract: a record is durable only once a `flush()` that started after its
 * `append()` has resolved. A failed write or fsync puts the store into a failed state: every
 * later call rejects with `StorageFailedError` and nothing is retried (a failed fsync may have
 * dropped dirty pages, so retrying could report data durable that is not).
 */
import type { Zxid } from '../core/ids.js';

export interface LogRecord {
  zxid: Zxid;
  /** Encoded transaction (opaque to storage). Owned by the reader of the record. */
  payload: Buffer;
}

/** Something to tell the operator about (torn tail truncated, corrupt snapshot skipped...). */
export type StorageWarn = (message: string) => void;

export interface TxnLog {
  /** Zxid of the last record appended (durable or not); 0n when the log is empty. */
  readonly lastZxid: Zxid;
  /** Zxid of the last record made durable by `flush()`. */
  readonly durableZxid: Zxid;

  /**
   * Buffers one record. Zxids must strictly increase. Does no I/O and does not wait; the
   * payload is copied before this returns, so the caller may reuse its buffer.
   */
  append(zxid: Zxid, payload: Uint8Array): void;

  /**
   * Writes every record appended so far and fdatasyncs it: one sync for the whole batch
   * (group commit). Resolves with the durable zxid. Calls made while a flush is in flight are
   * queued and served by the next write+sync, so N concurrent callers cause at most two syncs.
   */
  flush(): Promise<Zxid>;

  /**
   * Records with zxid > `afterZxid`, in zxid order (replay at start, DIFF sync later). Flushes
   * first, so it includes every record appended before the call. Must not run concurrently
   * with `truncateAfter` or `purgeThrough`.
   */
  read(afterZxid: Zxid): AsyncIterable<LogRecord>;

  /**
   * Removes every record with zxid > `zxid` durably (Zab TRUNC); buffered records are flushed
   * first. A crash part-way leaves a prefix of the log that still holds every record <= zxid.
   * Afterwards `lastZxid` and `durableZxid` are the last remaining record (0n if none).
   */
  truncateAfter(zxid: Zxid): Promise<void>;

  /** Starts a new segment at the next append (called before a snapshot is taken). */
  roll(): Promise<void>;

  /**
   * Deletes whole segments that hold only records with zxid <= `zxid`, keeping the segment
   * that contains `zxid + 1` and everything after it.
   */
  purgeThrough(zxid: Zxid): Promise<void>;

  /**
   * Flushes what is buffered, then releases files. Idempotent. On a fail-stopped log it only
   * releases files and resolves (there is nothing it could persist).
   */
  close(): Promise<void>;
}

export interface SnapshotInfo {
  /** Zxid of the last transaction the snapshot includes. */
  zxid: Zxid;
  /** Where it lives, for messages (file path, or `memory:<zxid>`). */
  name: string;
}

export interface SnapshotWriter {
  readonly zxid: Zxid;
  /** Appends body bytes; chunks may be written in the background between calls. */
  write(chunk: Uint8Array): Promise<void>;
  /** Seals (checksum), fsyncs and atomically publishes the snapshot; only then is it loadable. */
  commit(): Promise<SnapshotInfo>;
  /** Discards a snapshot that will not be committed. */
  abort(): Promise<void>;
}

export interface SnapshotStore {
  /** Starts writing the snapshot of the state after `zxid`. */
  begin(zxid: Zxid): Promise<SnapshotWriter>;
  /**
   * Newest snapshot whose checksum verifies, with its whole body. A corrupt newer snapshot is
   * skipped with a warning; null when there is none.
   */
  loadLatest(): Promise<{ info: SnapshotInfo; body: Buffer } | null>;
  /** Committed snapshots, oldest first. */
  list(): Promise<SnapshotInfo[]>;
  /**
   * The body of one listed snapshot if its checksum verifies, else null (with a warning), so
   * a caller that cannot decode the newest one can fall back to an older one.
   */
  load(info: SnapshotInfo): Promise<Buffer | null>;
  /** Deletes all but the newest `keep` valid snapshots; returns the oldest kept (or null). */
  purge(keep: number): Promise<SnapshotInfo | null>;
  close(): Promise<void>;
}

/**
 * The whole durable protocol record of an ensemble member (ready.ts `EpochWrite`): written
 * as one unit, so a crash never leaves a new `currentEpoch` beside an old `acceptedEpoch`.
 */
export interface EpochRecord {
  acceptedEpoch: number;
  currentEpoch: number;
  /** False for a wiped data directory: the member does not vote until synced (ZK-261). */
  hasData: boolean;
}

/** The Zab epochs (issue 3). Each `set` is atomic and durable when it resolves. */
export interface EpochStore {
  readonly acceptedEpoch: number;
  readonly currentEpoch: number;
  /**
   * True unless a record saying otherwise was written. The ensemble driver does not trust it
   * for an empty directory (epochs 0, no snapshot, no log record: new or wiped), which does
   * not vote until synced unless the ensemble is new (`ensembleState`, ZK-261).
   */
  readonly hasData: boolean;
  setAcceptedEpoch(epoch: number): Promise<void>;
  setCurrentEpoch(epoch: number): Promise<void>;
  /** Replaces the whole record atomically; the getters change once it is durable. */
  setEpochs(record: EpochRecord): Promise<void>;
  close(): Promise<void>;
}

/** Everything a replica keeps on disk (or in memory). */
export interface ReplicaStorage {
  log: TxnLog;
  snapshots: SnapshotStore;
  epochs: EpochStore;
  /**
   * Zab SNAP on a learner: publishes `body` as the snapshot after `zxid` and empties the log
   * (every record in it is superseded), atomically: after a crash at any point the next open
   * finds either the old snapshots and log untouched or the new snapshot and an empty log
   * (snapshot-install.ts). The log must be idle (no flush, roll or purge in flight).
   */
  installSnapshot(zxid: Zxid, body: Uint8Array): Promise<SnapshotInfo>;
  close(): Promise<void>;
}
