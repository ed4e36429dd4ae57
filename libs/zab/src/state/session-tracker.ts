/**
 * Leader-side session expiry (ZooKeeper's `SessionTrackerImpl` over an `ExpiryQueue`).
 *
 * Deadlines are rounded UP to the next tick boundary, so sessions expire in per-tick batches
 * and every session gets a grace of up to one tick: deadline = (floor((now + timeout) / tick)
 * + 1) * tick. Each bucket holds the sessions due at its boundary; a touch moves the session
 * to a later bucket. `expired(now)` returns every session whose bucket boundary is <= now,
 * once, and marks it closing: a closing session cannot be touched, and stays known until
 * `remove` (called when its closeSession txn is applied), as in ZooKeeper.
 *
 * Time is a monotonic millisecond clock value passed by the caller; nothing here reads a
 * clock. Session ids are chosen by the driver (the createSession txn's zxid).
 */
import type { SessionId } from '../core/ids.js';
import { assert } from '../util/assert.js';

export interface SessionTrackerOptions {
  /** ZooKeeper's tickTime: bucket width and the unit of the timeout bounds. */
  tickMs: number;
  /** Smallest negotiated timeout; default 2 ticks. */
  minSessionTimeoutMs?: number;
  /** Largest negotiated timeout; default 20 ticks. */
  maxSessionTimeoutMs?: number;
}

interface TrackedSession {
  readonly sessionId: SessionId;
  readonly timeoutMs: number;
  /** Bucket boundary the session is in; undefined once closing. */
  deadlineMs: number | undefined;
}

export class SessionTracker {
  readonly tickMs: number;
  readonly minSessionTimeoutMs: number;
  readonly maxSessionTimeoutMs: number;
  private readonly sessions = new Map<SessionId, TrackedSession>();
  /** Bucket boundary -> sessions due then (ZooKeeper's `expiryMap`). */
  private readonly buckets = new Map<number, Set<SessionId>>();

  constructor(options: SessionTrackerOptions) {
    const tickMs = options.tickMs;
    assert(Number.isInteger(tickMs) && tickMs > 0, `tickMs must be a positive integer: ${tickMs}`);
    this.tickMs = tickMs;
    this.minSessionTimeoutMs = options.minSessionTimeoutMs ?? 2 * tickMs;
    this.maxSessionTimeoutMs = options.maxSessionTimeoutMs ?? 20 * tickMs;
    assert(
      this.minSessionTimeoutMs > 0 && this.minSessionTimeoutMs <= this.maxSessionTimeoutMs,
      `bad session timeout bounds ${this.minSessionTimeoutMs}..${this.maxSessionTimeoutMs}`,
    );
  }

  get size(): number {
    return this.sessions.size;
  }

  /** ZooKeeper's connect-time negotiation: clamp the client's request into [min, max]. */
  negotiate(requestedMs: number): number {
    if (!(requestedMs >= this.minSessionTimeoutMs)) return this.minSessionTimeoutMs;
    if (requestedMs > this.maxSessionTimeoutMs) return this.maxSessionTimeoutMs;
    return Math.floor(requestedMs);
  }

  /** Starts tracking (or re-tracks with a fresh deadline, like `trackSession`). */
  add(sessionId: SessionId, timeoutMs: number, nowMs: number): void {
    assert(Number.isFinite(timeoutMs) && timeoutMs > 0, `bad session timeout ${timeoutMs}`);
    const existing = this.sessions.get(sessionId);
    if (existing !== undefined) this.unbucket(existing);
    const session: TrackedSession = { sessionId, timeoutMs, deadlineMs: undefined };
    this.sessions.set(sessionId, session);
    this.bucket(session, this.deadlineFor(nowMs, timeoutMs));
  }

  /** Extends the session's deadline; false if unknown or already closing (`touchSession`). */
  touch(sessionId: SessionId, nowMs: number): boolean {
    const session = this.sessions.get(sessionId);
    if (session === undefined || session.deadlineMs === undefined) return false;
    const deadlineMs = this.deadlineFor(nowMs, session.timeoutMs);
    if (deadlineMs !== session.deadlineMs) {
      this.unbucket(session);
      this.bucket(session, deadlineMs);
    }
    return true;
  }

  /** True while the session is tracked and not closing. */
  isLive(sessionId: SessionId): boolean {
    return this.sessions.get(sessionId)?.deadlineMs !== undefined;
  }

  /** Marks the session closing (a close was requested); it no longer expires or touches. */
  setClosing(sessionId: SessionId): void {
    const session = this.sessions.get(sessionId);
    if (session !== undefined) this.unbucket(session);
  }

  /** Forgets the session (its closeSession txn was applied). */
  remove(sessionId: SessionId): void {
    const session = this.sessions.get(sessionId);
    if (session === undefined) return;
    this.unbucket(session);
    this.sessions.delete(sessionId);
  }

  /**
   * Sessions whose deadline is <= nowMs, in deadline order then id order; each is returned
   * once and is closing afterwards.
   */
  expired(nowMs: number): SessionId[] {
    const due = [...this.buckets.keys()].filter((deadlineMs) => deadlineMs <= nowMs);
    due.sort((a, b) => a - b);
    const result: SessionId[] = [];
    for (const deadlineMs of due) {
      const ids = [...this.buckets.get(deadlineMs)!].sort(compareIds);
      this.buckets.delete(deadlineMs);
      for (const sessionId of ids) {
        this.sessions.get(sessionId)!.deadlineMs = undefined;
        result.push(sessionId);
      }
    }
    return result;
  }

  /** The earliest bucket boundary, for the driver's timer; undefined when none is due. */
  nextDeadlineMs(): number | undefined {
    let earliest: number | undefined;
    for (const deadlineMs of this.buckets.keys()) {
      if (earliest === undefined || deadlineMs < earliest) earliest = deadlineMs;
    }
    return earliest;
  }

  /**
   * A new leader re-tracks every session with its full timeout (ZooKeeper builds a fresh
   * tracker from the database), so an election by itself expires no one. Closing sessions
   * stay closing.
   */
  resetAll(nowMs: number): void {
    for (const session of this.sessions.values()) {
      if (session.deadlineMs === undefined) continue;
      this.unbucket(session);
      this.bucket(session, this.deadlineFor(nowMs, session.timeoutMs));
    }
  }

  /** Timeout of a tracked session (closing included), or undefined. */
  timeoutMsOf(sessionId: SessionId): number | undefined {
    return this.sessions.get(sessionId)?.timeoutMs;
  }

  /** ExpiryQueue.roundToNextInterval(now + timeout). */
  private deadlineFor(nowMs: number, timeoutMs: number): number {
    return (Math.floor((nowMs + timeoutMs) / this.tickMs) + 1) * this.tickMs;
  }

  private bucket(session: TrackedSession, deadlineMs: number): void {
    let ids = this.buckets.get(deadlineMs);
    if (ids === undefined) {
      ids = new Set();
      this.buckets.set(deadlineMs, ids);
    }
    ids.add(session.sessionId);
    session.deadlineMs = deadlineMs;
  }

  private unbucket(session: TrackedSession): void {
    if (session.deadlineMs === undefined) return;
    const ids = this.buckets.get(session.deadlineMs);
    if (ids !== undefined) {
      ids.delete(session.sessionId);
      if (ids.size === 0) this.buckets.delete(session.deadlineMs);
    }
    session.deadlineMs = undefined;
  }
}

function compareIds(a: SessionId, b: SessionId): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
