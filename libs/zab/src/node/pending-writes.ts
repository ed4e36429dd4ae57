/**
 * The writes a replica took and has not answered yet, found by the (session id, cxid) of
 * their txn header. Every replica looks up every txn it applies here, so the lookup builds
 * no key string (a `${sessionId}:${cxid}` key converted a BigInt to decimal per txn): one map
 * per session, keyed by cxid. Submit order is kept in a queue for the deadline sweep (every
 * deadline is submit time + the same timeout, so the expired writes are a prefix of it).
 */
import type { SessionId } from '../core/ids.js';

export interface PendingWriteEntry {
  readonly sessionId: SessionId;
  /** The cxid in the txn header (a negative tag for session-less internal writes). */
  readonly cxid: number;
  /** Set once answered or failed: the queue drops it lazily. */
  settled: boolean;
}

export class PendingWrites<W extends PendingWriteEntry> {
  private readonly bySession = new Map<SessionId, Map<number, W>>();
  private queue: W[] = [];
  private head = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(sessionId: SessionId, cxid: number): W | undefined {
    return this.bySession.get(sessionId)?.get(cxid);
  }

  /** Adds `write`; false (nothing added) when one with its session and cxid is pending. */
  add(write: W): boolean {
    let writes = this.bySession.get(write.sessionId);
    if (writes === undefined) {
      writes = new Map();
      this.bySession.set(write.sessionId, writes);
    } else if (writes.has(write.cxid)) {
      return false;
    }
    writes.set(write.cxid, write);
    this.queue.push(write);
    this.count++;
    return true;
  }

  /** Removes `write` and marks it settled; false when it was not pending. */
  remove(write: W): boolean {
    const writes = this.bySession.get(write.sessionId);
    if (writes === undefined || writes.get(write.cxid) !== write) return false;
    writes.delete(write.cxid);
    if (writes.size === 0) this.bySession.delete(write.sessionId);
    write.settled = true;
    this.count--;
    if (this.count === 0) {
      this.queue = [];
      this.head = 0;
    }
    return true;
  }

  /** The oldest pending write (submit order), or undefined. */
  oldest(): W | undefined {
    const queue = this.queue;
    while (this.head < queue.length && queue[this.head]!.settled) this.head++;
    if (this.head >= 1024 && this.head * 2 >= queue.length) {
      this.queue = queue.slice(this.head);
      this.head = 0;
    }
    return this.queue[this.head];
  }

  /** A snapshot of the pending writes in submit order (safe to settle them while iterating). */
  list(): W[] {
    const pending: W[] = [];
    for (let i = this.head; i < this.queue.length; i++) {
      const write = this.queue[i]!;
      if (!write.settled) pending.push(write);
    }
    return pending;
  }
}
