/**
 * The leader's view of its own log for synchronising learners (core `HistoryView`), for a
 * real replica: the most recent logged txns kept in memory, so the core's synchronous
 * questions never touch the disk.
 *
 * Contract with the driver: every txn after `base` up to `lastZxid` is retained, in zxid
 * order. The driver fills it from the log at start (everything after the recovered
 * snapshot), `append`s every txn it appends to the log, `truncateAfter`s on TRUNC and
 * `reset`s on a snapshot install, each before the Ready's `advance()`. The cache is bounded
 * by count and bytes, but only committed-and-applied txns (zxid <= the tree's) are ever
 * dropped: uncommitted ones must stay, since they are what the driver applies at commit and
 * what `snapshot()` promises to follow its zxid.
 */
import type { Zxid } from '../core/ids.js';
import type { HistoryView, LoggedTxn } from '../core/ready.js';
import type { DataTree } from '../state/data-tree.js';
import { assert, invariantFailed } from '../util/assert.js';

export interface HistoryLimits {
  /** Txns kept at most (more only while uncommitted). */
  readonly countMax: number;
  /** Payload bytes kept at most (more only while uncommitted). */
  readonly bytesMax: number;
}

export const HISTORY_LIMITS_DEFAULT: HistoryLimits = { countMax: 10_000, bytesMax: 64 << 20 };

const SNAPSHOT_CHUNK_BYTES = 1 << 20;
const DROPPED: LoggedTxn = { zxid: -1n, txn: Buffer.alloc(0) };

/** A dead prefix this long (and at least half the array) is cut off in one copy. */
const COMPACT_AFTER_ENTRIES = 1024;

export class ReplicaHistory implements HistoryView {
  /** Retained txns are `entries[head..]`; the dead prefix is compacted in amortised O(1). */
  private entries: LoggedTxn[] = [];
  private head = 0;
  private bytes = 0;

  /**
   * @param tree the committed state (a getter: a snapshot install replaces the tree)
   * @param base every txn after it is retained (the recovered snapshot's zxid at start)
   */
  constructor(
    private readonly tree: () => DataTree,
    private base: Zxid,
    private readonly limits: HistoryLimits = HISTORY_LIMITS_DEFAULT,
  ) {}

  /** Last retained zxid (the log's last zxid), or the base when nothing is retained. */
  get lastZxid(): Zxid {
    return this.entries.length > this.head ? this.entries[this.entries.length - 1]!.zxid
      : this.base;
  }

  get size(): number {
    return this.entries.length - this.head;
  }

  /** Appends without trimming: the driver trims once per applied batch (`trim`). */
  append(txn: LoggedTxn): void {
    if (txn.zxid <= this.lastZxid) {
      invariantFailed(`history append 0x${txn.zxid.toString(16)} out of order`);
    }
    this.entries.push(txn);
    this.bytes += txn.txn.length;
  }

  /** TRUNC: forget every txn after `zxid`. */
  truncateAfter(zxid: Zxid): void {
    assert(zxid >= this.base, 'history truncated below its base (a committed txn)');
    const keep = this.entries.length - this.countAfter(zxid);
    for (const dropped of this.entries.splice(keep)) this.bytes -= dropped.txn.length;
  }

  /** Snapshot install: the history restarts empty after `zxid`. */
  reset(zxid: Zxid): void {
    this.entries = [];
    this.head = 0;
    this.bytes = 0;
    this.base = zxid;
  }

  /** Retained txns in (after, through], in order (what a commit applies). */
  between(after: Zxid, through: Zxid): LoggedTxn[] {
    const start = this.entries.length - this.countAfter(after);
    const result: LoggedTxn[] = [];
    for (let i = start; i < this.entries.length && this.entries[i]!.zxid <= through; i++) {
      result.push(this.entries[i]!);
    }
    return result;
  }

  /** Drops the oldest applied txns while over a limit (call after applying). */
  trim(): void {
    const applied = this.tree().lastZxid;
    const entries = this.entries;
    let head = this.head;
    let bytes = this.bytes;
    while (head < entries.length && entries[head]!.zxid <= applied &&
      (entries.length - head > this.limits.countMax || bytes > this.limits.bytesMax)) {
      bytes -= entries[head]!.txn.length;
      head++;
    }
    if (head === this.head) return;
    this.base = entries[head - 1]!.zxid;
    this.bytes = bytes;
    if (head >= COMPACT_AFTER_ENTRIES && head * 2 >= entries.length) {
      this.entries = entries.slice(head);
      this.head = 0;
    } else {
      // Release the dropped txns' buffers now; the slots go at the next compaction.
      entries.fill(DROPPED, this.head, head);
      this.head = head;
    }
  }

  lastZxidAtOrBefore(zxid: Zxid): Zxid | undefined {
    if (zxid < this.base) return undefined;
    const after = this.countAfter(zxid);
    const index = this.entries.length - after - 1;
    return index >= this.head ? this.entries[index]!.zxid : this.base;
  }

  txnsAfter(zxid: Zxid, countMax: number): readonly LoggedTxn[] | undefined {
    if (zxid < this.base) return undefined;
    const count = this.countAfter(zxid);
    if (count > countMax) return undefined;
    return this.entries.slice(this.entries.length - count);
  }

  /**
   * The committed tree encoded whole, at the tree's zxid. The tree holds exactly the applied
   * (committed) txns, and every txn after them is retained here (trim never drops them).
   */
  snapshot(): { readonly zxid: Zxid; readonly bytes: Buffer } {
    const cursor = this.tree().beginSnapshot();
    const chunks: Buffer[] = [];
    try {
      for (let chunk = cursor.next(SNAPSHOT_CHUNK_BYTES); chunk !== null;
        chunk = cursor.next(SNAPSHOT_CHUNK_BYTES)) {
        chunks.push(chunk);
      }
    } finally {
      cursor.close();
    }
    return { zxid: cursor.zxid, bytes: Buffer.concat(chunks) };
  }

  /** How many retained txns have a zxid > `zxid` (binary search). */
  private countAfter(zxid: Zxid): number {
    let low = this.head;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.entries[middle]!.zxid <= zxid) low = middle + 1;
      else high = middle;
    }
    return this.entries.length - low;
  }
}
