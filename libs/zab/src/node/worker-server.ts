/**
 * The worker side of the worker host: serves the main thread's sessions on the replica that
 * runs in this thread (the standalone `Replica` or the ensemble driver `EnsembleReplica`, seen
 * only through `ServedReplica`). Each session is a `LocalCoordinationClient`, so the semantics are
 * exactly the in-process ones (per-session FIFO, watch registration atomic with its read,
 * watch callbacks before later replies); this file only translates messages.
 *
 * Ordering contract: a request's client method is called synchronously, in arrival order, when
 * its batch is processed (so the local client's own ordering applies unchanged), and every
 * outcome — reply, watch event, observation, session end — is pushed to the one outbox at the
 * moment the local client produces it. The outbox therefore holds them in production order.
 */
import { LocalCoordinationClient } from './local-client.js';
import type { Observation, WatchListener } from './coordination-client.js';
import type { ReplicaWatcher } from './replica.js';
import type { ServedReplica } from './client-replica.js';
import type { WatchEvent } from '../state/watch-event.js';
import { ErrorCode } from '../state/error-code.js';
import { keeperError, KeeperError } from '../state/keeper-error.js';
import {
  asBuffer,
  packStat,
  toWireError,
  type PackedReplies,
  type CallRequest,
  type ClientCall,
  type HostRequest,
  type Outbox,
  type Probe,
  type RecordedEvent,
  type WorkerItem,
} from './worker-protocol.js';

type ObserveRequest = Extract<HostRequest, { kind: 'observe' }>;

const ENDED_SESSIONS_REMEMBERED = 10_000;

interface ServedSession {
  client: LocalCoordinationClient;
  /**
   * Proxy listener per main-thread watch id (the same id maps to the same function while it
   * lives, so the local client dedupes per listener as ZooKeeper does per Watcher), with how
   * many registering calls used it.
   */
  watchers: Map<number, { listener: WatchListener; uses: number }>;
  /** Unsubscribe functions of the session's observations, by observer id. */
  observers: Map<number, () => void>;
}

/** Records events with the worker's wall time (diagnostics and the isolation test). */
class RecordingWatcher implements ReplicaWatcher {
  readonly events: RecordedEvent[] = [];
  notify(event: WatchEvent): void {
    this.events.push({ event, atMs: Date.now() });
  }
}

/**
 * Read data as an exact, standalone copy. The tree's reads return small Buffers that share
 * Node's 8 KiB pool: cloned as they are, each would carry the whole pool across and keep it
 * alive on the main thread (transferring is no better: it would detach the pool). Cloning the
 * exact copy costs a second copy of the value only (measured faster than transferring many
 * small ArrayBuffers).
 */
function exactCopy(data: Uint8Array): Uint8Array {
  return new Uint8Array(data);
}

function standalone(observation: Observation): Observation {
  if (observation.kind !== 'data' || observation.value === null) return observation;
  const { data, stat } = observation.value;
  return { kind: 'data', value: { data: exactCopy(data) as Buffer, stat } };
}

export class WorkerServer {
  private readonly sessions = new Map<number, ServedSession>();
  /** How each ended session ended, so late requests get the local client's own errors. */
  private readonly ended = new Map<number, 'expired' | 'closed'>();
  private readonly recorder = new RecordingWatcher();

  constructor(
    private readonly replica: ServedReplica,
    private readonly outbox: Outbox<WorkerItem>,
  ) {
    replica.onFailure((error) => outbox.push({ kind: 'replicaFailed', error: toWireError(error) }));
  }

  /** Handles one request; must be called in arrival order. */
  handle(request: HostRequest): void {
    if (Array.isArray(request)) {
      this.handleCall(request);
      return;
    }
    switch (request.kind) {
      case 'connect':
        this.answer(request.id, this.connect(request));
        return;
      case 'observe':
        this.answer(request.id, this.withSession(request.session, (s) => this.observe(request, s)));
        return;
      case 'unobserve': {
        const session = this.sessions.get(request.session);
        session?.observers.get(request.observerId)?.();
        session?.observers.delete(request.observerId);
        return;
      }
      case 'probe':
        if (request.probe.op === 'crash') {
          // Thrown out of the message handler: uncaught, so the worker dies before anything
          // queued in this turn (this probe's reply included) is posted.
          throw new Error('replica worker crashed on request (crash probe)');
        }
        this.answer(request.id, this.probe(request.probe));
        return;
      case 'shutdown':
        this.answer(request.id, this.replica.close());
        return;
    }
  }

  private handleCall([id, handle, call]: CallRequest): void {
    if (call.method === 'close' && !this.sessions.has(handle)) {
      // As the local client: closing a session that already ended does nothing.
      this.answer(id, Promise.resolve());
      return;
    }
    this.answer(id, this.withSession(handle, (session) => this.call(handle, call, session)));
  }

  private answer(id: number, result: Promise<unknown>): void {
    result.then(
      (value) => this.outbox.push([id, value]),
      (error: unknown) => this.outbox.push({ kind: 'fail', id, error: toWireError(error) }),
    );
  }

  private async connect(request: Extract<HostRequest, { kind: 'connect' }>): Promise<unknown> {
    const { session: handle, sessionTimeoutMs, local } = request;
    const client = await LocalCoordinationClient.connect(this.replica, sessionTimeoutMs, { local });
    const session: ServedSession = { client, watchers: new Map(), observers: new Map() };
    this.sessions.set(handle, session);
    client.onConnectionStateChange((state) => {
      if (state === 'suspended' || state === 'reconnected') {
        this.outbox.push({ kind: 'connectionState', session: handle, state });
      }
    });
    client.onSessionEnd((state) => {
      this.sessions.delete(handle);
      this.ended.set(handle, state);
      // Bounded: only recent ends need their own error; older handles get ConnectionLoss.
      if (this.ended.size > ENDED_SESSIONS_REMEMBERED) {
        this.ended.delete(this.ended.keys().next().value!);
      }
      session.watchers.clear();
      session.observers.clear();
      this.outbox.push({ kind: 'sessionEnd', session: handle, state });
    });
    return { sessionId: client.sessionId, sessionTimeoutMs: client.sessionTimeoutMs };
  }

  /** Runs `use` on a live session; an ended one fails as the local client would. */
  private withSession<T>(handle: number, use: (session: ServedSession) => Promise<T>): Promise<T> {
    const session = this.sessions.get(handle);
    if (session !== undefined) {
      // Nothing a request carries may throw out of the message handler (the worker would die).
      try {
        return use(session);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const state = this.ended.get(handle);
    if (state === 'expired') return Promise.reject(keeperError(ErrorCode.SessionExpired));
    const detail =
      state === 'closed' ? 'the session was closed' : `no session ${handle} in this worker`;
    return Promise.reject(new KeeperError(ErrorCode.ConnectionLoss, undefined, detail));
  }

  /** Observations are forwarded as they come: the first one before the reply. */
  private async observe(request: ObserveRequest, served: ServedSession): Promise<void> {
    const { session, observerId } = request;
    const report = (observation: Observation): void => {
      const copied = standalone(observation);
      this.outbox.push({ kind: 'observation', session, observerId, observation: copied });
    };
    const unsubscribe = await served.client.observe(request.path, request.observe, report);
    served.observers.set(observerId, unsubscribe);
  }

  private call(handle: number, call: ClientCall, session: ServedSession): Promise<unknown> {
    const client = session.client;
    const watcher = (id: number): WatchListener => this.watcher(handle, session, id, 1);
    const watch = (id: number | undefined): WatchListener | undefined =>
      id === undefined ? undefined : watcher(id);
    const settled = <T>(promise: Promise<T>, id: number | undefined): Promise<T> => {
      if (id === undefined) return promise;
      const release = (): void => this.releaseIfUnused(handle, session, id);
      return promise.finally(release);
    };
    switch (call.method) {
      case 'create':
        return client
          .create(call.args[0], asBuffer(call.args[1]), call.args[2])
          .then(({ path, stat }): PackedReplies['create'] => [path, packStat(stat)]);
      case 'getData':
        return settled(client
          .getData(call.args[0], watch(call.args[1]))
          .then(({ data, stat }): PackedReplies['getData'] => [exactCopy(data), packStat(stat)]),
        call.args[1]);
      case 'setData':
        return client.setData(call.args[0], asBuffer(call.args[1]), call.args[2]).then(packStat);
      case 'delete':
        return client.delete(call.args[0], call.args[1]);
      case 'exists':
        return settled(client
          .exists(call.args[0], watch(call.args[1]))
          .then((stat): PackedReplies['exists'] => (stat === null ? null : packStat(stat))),
        call.args[1]);
      case 'getChildren':
        return settled(client
          .getChildren(call.args[0], watch(call.args[1]))
          .then(({ children, stat }): PackedReplies['getChildren'] => [children, packStat(stat)]),
        call.args[1]);
      case 'getAcl':
        return client.getAcl(call.args[0]);
      case 'setAcl':
        return client.setAcl(call.args[0], call.args[1], call.args[2]);
      case 'getAllChildrenNumber':
        return client.getAllChildrenNumber(call.args[0]);
      case 'getEphemerals':
        return client.getEphemerals(call.args[0]);
      case 'multi':
        return client.multi(Array.isArray(call.args[0])
          ? call.args[0].map((op) => typeof op === 'object' && op !== null && 'data' in op &&
            op.data !== undefined ? { ...op, data: asBuffer(op.data) } : op)
          : call.args[0]);
      case 'sync':
        return client.sync(call.args[0]);
      case 'addAuth':
        return client.addAuth(call.args[0],
          call.args[1] instanceof Uint8Array ? asBuffer(call.args[1]) : call.args[1]);
      case 'addWatch':
        return settled(client.addWatch(call.args[0], call.args[1], watcher(call.args[2])),
          call.args[2]);
      case 'removeWatches':
        return settled(client.removeWatches(call.args[0],
          this.watcher(handle, session, call.args[1], 0), call.args[2]), call.args[1]);
      case 'close':
        return client.close();
    }
  }

  /**
   * The proxy listener for a main-thread watch id: forwards each event, in order, then frees
   * the id once its last watch fired (one-shot watches leave nothing behind).
   */
  private watcher(handle: number, session: ServedSession, watchId: number, uses: number): WatchListener {
    let entry = session.watchers.get(watchId);
    if (entry === undefined) {
      const listener: WatchListener = (event) => {
        this.outbox.push({ kind: 'watch', session: handle, watchId, event });
        this.releaseIfUnused(handle, session, watchId);
      };
      entry = { listener, uses: 0 };
      session.watchers.set(watchId, entry);
    }
    entry.uses += uses;
    return entry.listener;
  }

  private releaseIfUnused(handle: number, session: ServedSession, watchId: number): void {
    const entry = session.watchers.get(watchId);
    if (entry === undefined || session.client.holdsListener(entry.listener)) return;
    session.watchers.delete(watchId);
    this.outbox.push({ kind: 'watchReleased', session: handle, watchId, uses: entry.uses });
  }

  private async probe(probe: Probe): Promise<unknown> {
    switch (probe.op) {
      case 'sessions':
        return this.replica.tree.sessions().map((s) => s.sessionId);
      case 'watchCount':
        return this.replica.watches.watchCount;
      case 'status':
        return this.replica.status();
      case 'record':
        this.replica.watches.add(probe.path, 'persistentRecursive', this.recorder);
        return undefined;
      case 'recorded':
        return [...this.recorder.events];
      case 'crash':
        throw new Error('unreachable: the crash probe is handled in handle()');
    }
  }
}
