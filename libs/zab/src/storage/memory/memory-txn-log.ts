/**
 * Transaction log in memory, with the `TxnLog` contract of the file log: appends are
 * buffered until a `flush()`, which resolves on a later microtask with the durable zxid and
 * is shared by callers that arrive while one is pending; segments exist (as boundaries) so
 * `purgeThrough` keeps the same records as on disk (segments start after `roll()`, after
 * `truncateAfter` and at the first flush; there is no size-based roll in memory).
 *
 * Fail-stop for tests: `flushesBeforeFailure: n` makes flush n+1 fail, or call `failStop()`;
 * from then on every call rejects with `StorageFailedError`, like the file log.
 */
import type { Zxid } from '../../core/ids.js';
import { zxidToHex } from '../../core/ids.js';
import { assert, invariantFailed } from '../../util/assert.js';
import { StorageFailedError } from '../storage-errors.js';
import type { LogRecord, TxnLog } from '../storage.js';

export interface MemoryTxnLogOptions {
  /** Successful flushes (that had records to write) before the next one fails. */
  flushesBeforeFailure?: number;
}

export class MemoryTxnLog implements TxnLog {
  /** Records written by completed flushes, in zxid order. */
  private records: LogRecord[] = [];
  /** Index in `records` where each segment starts (the first is always 0 when non-empty). */
  private segmentStarts: number[] = [];
  private rollPending = true;
  private buffered: LogRecord[] = [];
  private lastAppendedZxid: Zxid = 0n;
  private durable: Zxid = 0n;
  private pendingFlush: Promise<Zxid> | null = null;
  private failure: StorageFailedError | null = null;
  private closed = false;
  private flushesLeft: number;

  constructor(options: MemoryTxnLogOptions = {}) {
    this.flushesLeft = options.flushesBeforeFailure ?? Number.POSITIVE_INFINITY;
  }

  get lastZxid(): Zxid {
    return this.lastAppendedZxid;
  }

  get durableZxid(): Zxid {
    return this.durable;
  }

  /** Puts the log in the failed state, as a failed fdatasync would. */
  failStop(reason = 'injected failure'): StorageFailedError {
    this.failure ??= new StorageFailedError(
      `memory transaction log: ${reason}; the replica stopped accepting writes`,
    );
    return this.failure;
  }

  append(zxid: Zxid, payload: Uint8Array): void {
    if (this.failure) throw this.failure;
    assert(!this.closed, 'append on a closed transaction log');
    if (zxid <= this.lastAppendedZxid) invariantFailed(`zxid ${zxidToHex(zxid)} does not increase`);
    this.buffered.push({ zxid, payload: Buffer.from(payload) });
    this.lastAppendedZxid = zxid;
  }

  flush(): Promise<Zxid> {
    if (this.failure) return Promise.reject(this.failure);
    this.pendingFlush ??= Promise.resolve().then(() => this.flushNow());
    return this.pendingFlush;
  }

  private flushNow(): Zxid {
    this.pendingFlush = null;
    if (this.failure) throw this.failure;
    if (this.buffered.length === 0) return this.durable;
    if (this.flushesLeft <= 0) throw this.failStop('injected flush failure');
    this.flushesLeft -= 1;
    if (this.rollPending) {
      this.segmentStarts.push(this.records.length);
      this.rollPending = false;
    }
    this.records.push(...this.buffered);
    this.buffered = [];
    this.durable = this.records[this.records.length - 1]!.zxid;
    return this.durable;
  }

  async *read(afterZxid: Zxid): AsyncIterable<LogRecord> {
    await this.flush();
    const snapshot = this.records.filter((record) => record.zxid > afterZxid);
    for (const record of snapshot) {
      yield { zxid: record.zxid, payload: Buffer.from(record.payload) };
    }
  }

  async truncateAfter(zxid: Zxid): Promise<void> {
    await this.flush();
    const kept = this.records.filter((record) => record.zxid <= zxid).length;
    this.records.length = kept;
    this.segmentStarts = this.segmentStarts.filter((start) => start < kept);
    this.rollPending = true; // the file log starts a new segment after a truncation too
    this.lastAppendedZxid = kept === 0 ? 0n : this.records[kept - 1]!.zxid;
    this.durable = this.lastAppendedZxid;
  }

  async roll(): Promise<void> {
    await this.flush();
    this.rollPending = true;
  }

  async purgeThrough(zxid: Zxid): Promise<void> {
    if (this.failure) throw this.failure;
    let deleted = 0;
    while (deleted + 1 < this.segmentStarts.length) {
      if (this.records[this.segmentStarts[deleted + 1]!]!.zxid > zxid + 1n) break;
      deleted += 1;
    }
    if (deleted === 0) return;
    const removedRecords = this.segmentStarts[deleted]!;
    this.records = this.records.slice(removedRecords);
    this.segmentStarts = this.segmentStarts.slice(deleted).map((start) => start - removedRecords);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.failure) await this.flush();
  }

  /** Segment boundaries as first zxids (for tests comparing with the file log). */
  segmentFirstZxids(): Zxid[] {
    return this.segmentStarts.map((start) => this.records[start]!.zxid);
  }
}
