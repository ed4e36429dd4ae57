/**
 * What both replica drivers (standalone and ensemble) do once a transaction is applied: the
 * session bookkeeping (the leader's tracker, which sessions belong to this process, which are
 * being expired) and the watch events, and telling listeners when a session ends. Listeners
 * are application code: what they throw is logged and never reaches the apply loop.
 */
import type { SessionId } from '../core/ids.js';
import type { SessionTracker } from '../state/session-tracker.js';
import type { ApplyResult } from '../state/tree-view.js';
import type { Txn } from '../state/txn.js';
import type { WatchRegistry } from '../state/watch-registry.js';
import type { Clock } from './clock.js';
import type { ReplicaLogger, ReplicaWatcher } from './replica.js';

export type SessionEnd = 'expired' | 'closed';
export type SessionEndListener = (sessionId: SessionId, state: SessionEnd) => void;

export class SessionEvents {
  /** Sessions of this process: alive as long as it is, touched by the replica itself. */
  readonly localSessions = new Set<SessionId>();
  /** Sessions whose close was issued by expiry (their end is reported as `expired`). */
  readonly expiring = new Set<SessionId>();
  private readonly endListeners = new Set<SessionEndListener>();

  constructor(
    private readonly tracker: SessionTracker,
    private readonly watches: WatchRegistry<ReplicaWatcher>,
    private readonly clock: Clock,
    private readonly logger: ReplicaLogger,
  ) {}

  onSessionEnd(listener: SessionEndListener): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  /** Called right after `txn` was applied with `result`: sessions, then watches, then ends. */
  afterApply(txn: Txn, result: ApplyResult): void {
    const { body, header } = txn;
    if (body.type === 'createSession') {
      this.tracker.add(header.sessionId, body.timeoutMs, this.clock.monotonicMs());
    }
    for (const event of result.events) {
      for (const fired of this.watches.trigger(event)) fired.watcher.notify(fired.event);
    }
    if (body.type === 'closeSession') {
      this.tracker.remove(header.sessionId);
      const expired = this.expiring.delete(header.sessionId);
      this.localSessions.delete(header.sessionId);
      this.endSession(header.sessionId, expired ? 'expired' : 'closed');
    }
  }

  /** Tells session-end listeners; a listener that throws is logged, never stops the replica. */
  endSession(sessionId: SessionId, state: SessionEnd): void {
    for (const listener of this.endListeners) {
      try {
        listener(sessionId, state);
      } catch (error) {
        this.reportListenerError(error);
      }
    }
  }

  /** Logs an error thrown by application code called back by the replica or its clients. */
  reportListenerError(error: unknown): void {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.logger.error(`a watch or session listener threw (ignored): ${message}`);
  }
}
