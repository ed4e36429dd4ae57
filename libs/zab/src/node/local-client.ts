/**
 * The in-process coordination client: one ZooKeeper session on the embedded replica, with the
 * wire protocol's semantics and no socket.
 *
 * - Per-session FIFO: a read issued while the session's own writes are in flight waits for
 *   them (ZooKeeper's CommitProcessor rule), so a session always reads its own writes.
 * - A read that sets a watch registers it and reads in one synchronous step: no change can
 *   fall between the two.
 * - Data given to a write is copied first: the caller may reuse its buffer at once.
 * - ACLs as ZooKeeper's FinalRequestProcessor checks them: getData, getChildren and
 *   getAllChildrenNumber need READ (after the NoNode check, before a watch is set), getACL
 *   READ or ADMIN (without ADMIN, digest ids come back as `user:x`), exists and sync none;
 *   `observe` needs READ for its data and children kinds when it starts. Writes are checked by
 *   the leader's preparer with the identities `addAuth` gave this session.
 * - Watch callbacks run in a microtask queued when the change is applied, before any later
 *   reply can resolve, so a watcher sees the event before it can read the changed data.
 */
import { badArguments, checkMode, checkVersion } from './client-arguments.js';
import type { SessionId } from '../core/ids.js';
import { ErrorCode } from '../state/error-code.js';
import { InvalidPathError, keeperError, KeeperError } from '../state/keeper-error.js';
import { isSequentialMode } from '../state/create-mode.js';
import { pathProblem } from '../state/path.js';
import type { MultiOpRequest, WriteRequest } from '../state/request.js';
import { OPEN_ACL_UNSAFE, Perms, type Acl, type Stat } from '../state/stat.js';
import { redactDigests } from '../state/acl.js';
import type { OpResult } from '../state/tree-view.js';
import type { WatchEvent } from '../state/watch-event.js';
import type { WatchKind } from '../state/watch-registry.js';
import {
  MultiError,
  type ConnectionState,
  type CoordinationClient,
  type CreateOptions,
  type MultiOp,
  type Observation,
  type ObserveKind,
  type SessionState,
  type WatchListener,
} from './coordination-client.js';
import type { CommittedResult, ReplicaWatcher } from './replica.js';
import type { ClientReplica } from './client-replica.js';
import { ConnectionStateTracker } from './connection-state.js';

const EMPTY = Buffer.alloc(0);

/** Copies the caller's bytes (the caller may reuse its buffer); anything else is bad input. */
function copyData(data: unknown): Buffer {
  if (!(data instanceof Uint8Array)) throw badArguments('data must be a Buffer or a Uint8Array');
  return Buffer.from(data);
}

/** Calls application code; what it throws is reported, never propagated into the replica. */
type Guard = (call: () => void) => void;

class ListenerWatcher implements ReplicaWatcher {
  constructor(
    private readonly listener: WatchListener,
    private readonly guard: Guard,
  ) {}
  notify(event: WatchEvent): void {
    queueMicrotask(() => this.guard(() => this.listener(event)));
  }
}

/** Captures the observed value when the change is applied, then reports it in order. */
class ObservingWatcher implements ReplicaWatcher {
  constructor(
    private readonly capture: (event: WatchEvent) => Observation | undefined,
    private readonly listener: (observation: Observation) => void,
    private readonly guard: Guard,
  ) {}
  notify(event: WatchEvent): void {
    const observation = this.capture(event);
    if (observation !== undefined) queueMicrotask(() => this.guard(() => this.listener(observation)));
  }
}

export class LocalCoordinationClient implements CoordinationClient {
  private cxid = 0;
  private writesInFlight = 0;
  private lastWrite: Promise<unknown> = Promise.resolve();
  private stateValue: SessionState = 'connected';
  /**
   * One-shot watches follow ZooKeeper's client model: the replica holds one registration per
   * (path, kind) for this session (`sessionWatcher`), and the client keeps the listeners per
   * path, so a fired watch leaves nothing behind. Persistent watches keep a watcher object per
   * listener until they are removed or the session ends.
   */
  private readonly oneShot = {
    data: new Map<string, Set<WatchListener>>(),
    exists: new Map<string, Set<WatchListener>>(),
    child: new Map<string, Set<WatchListener>>(),
  };
  private readonly sessionWatcher: ReplicaWatcher = { notify: (event) => this.fireOneShot(event) };
  private readonly persistentWatchers = new Map<WatchListener, ListenerWatcher>();
  /** One-shot registrations per listener (a listener counts once per path and kind). */
  private readonly oneShotCounts = new Map<WatchListener, number>();
  private readonly observers = new Set<ReplicaWatcher>();
  private readonly guard: Guard = (call) => {
    try {
      call();
    } catch (error) {
      this.replica.reportListenerError(error);
    }
  };
  private readonly endListeners = new Set<(state: 'expired' | 'closed') => void>();
  private readonly connection = new ConnectionStateTracker(this.guard);
  private readonly unsubscribeReplica: () => void;
  private readonly unsubscribeQuorum: () => void;

  private constructor(
    private readonly replica: ClientReplica,
    readonly sessionId: SessionId,
    readonly sessionTimeoutMs: number,
  ) {
    this.unsubscribeReplica = replica.onSessionEnd((id, state) => {
      if (id === sessionId) this.ended(state);
    });
    // The embedded ensemble: the session may live on while the local replica is out of a
    // quorum, but nothing it reads or holds is current then (Curator's SUSPENDED).
    this.unsubscribeQuorum = replica.onQuorumChange?.((inQuorum) => {
      if (inQuorum) this.connection.reconnected();
      else this.connection.suspended();
    }) ?? (() => undefined);
  }

  /**
   * Opens a session on `replica`. A `local` session (the default) lives as long as this
   * process; a non-local one must be kept alive with `touch()` like a remote client's pings,
   * and expires after its timeout without them.
   */
  static async connect(
    replica: ClientReplica,
    sessionTimeoutMs: number,
    options: { local?: boolean } = {},
  ): Promise<LocalCoordinationClient> {
    const { sessionId, timeoutMs } = await replica.createSession(sessionTimeoutMs, options.local ?? true);
    return new LocalCoordinationClient(replica, sessionId, timeoutMs);
  }

  /** Session activity, as a client's ping: false when the session is gone or expiring. */
  touch(): boolean {
    return this.replica.touchSession(this.sessionId);
  }

  get state(): SessionState {
    return this.stateValue;
  }

  get connectionState(): ConnectionState {
    return this.connection.state;
  }

  onConnectionStateChange(listener: (state: ConnectionState) => void): () => void {
    return this.connection.subscribe(listener);
  }

  async create(path: string, data: Buffer, options: CreateOptions = {}): Promise<{ path: string; stat: Stat }> {
    const mode = checkMode(options.mode);
    this.checkPath(path, isSequentialMode(mode));
    const request: WriteRequest = { op: 'create', path, data: copyData(data), acl: options.acl ?? [...OPEN_ACL_UNSAFE], mode };
    if (options.ttlMs !== undefined) request.ttlMs = options.ttlMs;
    const result = await this.write(request, path);
    return { path: result.path!, stat: result.stat! };
  }

  getData(path: string, watch?: WatchListener): Promise<{ data: Buffer; stat: Stat }> {
    return this.read(path, () => {
      const node = this.replica.tree.getData(path);
      if (node === undefined) throw keeperError(ErrorCode.NoNode, path);
      this.replica.checkPermission(this.sessionId, path, Perms.Read);
      if (watch !== undefined) this.addWatchSync(path, 'data', watch);
      return node;
    });
  }

  async setData(path: string, data: Buffer, version?: number): Promise<Stat> {
    this.checkPath(path);
    const request: WriteRequest = { op: 'setData', path, data: copyData(data), version: checkVersion(version) };
    return (await this.write(request, path)).stat!;
  }

  async delete(path: string, version?: number): Promise<void> {
    this.checkPath(path);
    await this.write({ op: 'delete', path, version: checkVersion(version) }, path);
  }

  exists(path: string, watch?: WatchListener): Promise<Stat | null> {
    return this.read(path, () => {
      const stat = this.replica.tree.stat(path) ?? null;
      if (watch !== undefined) this.addWatchSync(path, stat === null ? 'exists' : 'data', watch);
      return stat;
    });
  }

  getChildren(path: string, watch?: WatchListener): Promise<{ children: string[]; stat: Stat }> {
    return this.read(path, () => {
      const children = this.replica.tree.getChildren(path);
      const stat = this.replica.tree.stat(path);
      if (children === undefined || stat === undefined) throw keeperError(ErrorCode.NoNode, path);
      this.replica.checkPermission(this.sessionId, path, Perms.Read);
      if (watch !== undefined) this.addWatchSync(path, 'child', watch);
      return { children, stat };
    });
  }

  getAcl(path: string): Promise<{ acl: Acl[]; stat: Stat }> {
    return this.read(path, () => {
      const found = this.replica.tree.getAcl(path);
      if (found === undefined) throw keeperError(ErrorCode.NoNode, path);
      this.replica.checkPermission(this.sessionId, path, Perms.Read | Perms.Admin);
      try {
        this.replica.checkPermission(this.sessionId, path, Perms.Admin);
        return found;
      } catch (error) {
        if (!(error instanceof KeeperError) || error.code !== ErrorCode.NoAuth) throw error;
        return { acl: redactDigests(found.acl), stat: found.stat };
      }
    });
  }

  async setAcl(path: string, acl: Acl[], version?: number): Promise<Stat> {
    this.checkPath(path);
    return (await this.write({ op: 'setACL', path, acl, version: checkVersion(version) }, path)).stat!;
  }

  getAllChildrenNumber(path: string): Promise<number> {
    return this.read(path, () => {
      const count = this.replica.tree.getAllChildrenNumber(path);
      if (count === undefined) throw keeperError(ErrorCode.NoNode, path);
      this.replica.checkPermission(this.sessionId, path, Perms.Read);
      return count;
    });
  }

  getEphemerals(prefix = '/'): Promise<string[]> {
    return this.read(undefined, () => this.replica.tree.getEphemerals(this.sessionId, prefix));
  }

  async multi(ops: MultiOp[]): Promise<OpResult[]> {
    if (!Array.isArray(ops)) throw badArguments('multi takes an array of ops');
    const requests = ops.map((op) => this.toMultiRequest(op));
    const result = await this.submit({ op: 'multi', ops: requests });
    const results = result.results ?? [];
    if (result.code !== ErrorCode.Ok) {
      const failing = results.find((r) => r.code !== ErrorCode.Ok && r.code !== ErrorCode.RuntimeInconsistency);
      const index = failing === undefined ? -1 : results.indexOf(failing);
      throw new MultiError(failing?.code ?? result.code, results, index >= 0 ? ops[index]?.path : undefined);
    }
    return results;
  }

  async sync(path: string): Promise<void> {
    this.checkPath(path);
    this.checkConnected();
    await this.lastWrite;
    await this.replica.barrier();
  }

  addWatch(path: string, mode: 'persistent' | 'persistentRecursive', listener: WatchListener): Promise<void> {
    return this.read(path, () => {
      if (typeof listener !== 'function') throw badArguments('the watch listener must be a function');
      if (mode !== 'persistent' && mode !== 'persistentRecursive') {
        throw badArguments(`addWatch mode must be persistent or persistentRecursive; got ${String(mode)}`);
      }
      let watcher = this.persistentWatchers.get(listener);
      if (watcher === undefined) {
        watcher = new ListenerWatcher(listener, this.guard);
        this.persistentWatchers.set(listener, watcher);
      }
      this.replica.watches.add(path, mode, watcher);
    });
  }

  /** ZooKeeper's removeWatches for one listener: NoWatcher when it had no such watch. */
  removeWatches(
    path: string,
    listener: WatchListener,
    type: 'children' | 'data' | 'any' | 'persistent' | 'persistentRecursive' = 'any',
  ): Promise<void> {
    return this.read(path, () => {
      let removed = false;
      if (type === 'data' || type === 'any') {
        removed = this.removeOneShot('data', path, listener) || removed;
        removed = this.removeOneShot('exists', path, listener) || removed;
      }
      if (type === 'children' || type === 'any') {
        removed = this.removeOneShot('child', path, listener) || removed;
      }
      if (type === 'persistent' || type === 'persistentRecursive' || type === 'any') {
        removed = this.removePersistent(path, listener, type) || removed;
      }
      if (!removed) throw keeperError(ErrorCode.NoWatcher, path);
    });
  }

  observe(path: string, kind: ObserveKind, listener: (observation: Observation) => void): Promise<() => void> {
    return this.read(path, () => {
      if (kind === 'data' || kind === 'children') {
        this.replica.checkPermission(this.sessionId, path, Perms.Read);
      }
      const capture = this.captureFor(path, kind);
      const watcher = new ObservingWatcher(capture, listener, this.guard);
      const watchKind: WatchKind = kind === 'recursiveEvents' ? 'persistentRecursive' : 'persistent';
      this.replica.watches.add(path, watchKind, watcher);
      this.observers.add(watcher);
      if (kind !== 'events' && kind !== 'recursiveEvents') {
        const current = this.currentValue(path, kind);
        this.guard(() => listener(current));
      }
      return () => {
        if (this.observers.delete(watcher)) this.replica.watches.remove(path, watchKind, watcher);
      };
    });
  }

  /**
   * ZooKeeper's addAuth: `digest` with `user:password` adds the identity
   * `user:base64(sha1(user:password))` to this session (on this replica; later writes carry
   * it). Rejects `AuthFailedError` for another scheme or malformed credentials. Takes effect
   * at the call, as ZooKeeper handles an auth packet on receipt: writes issued after it carry
   * the identity, writes issued before it do not.
   */
  addAuth(scheme: string, auth: Buffer | string): Promise<void> {
    try {
      this.checkConnected();
      if (typeof scheme !== 'string') throw badArguments('the auth scheme must be a string');
      const bytes = typeof auth === 'string' ? Buffer.from(auth, 'utf8')
        : auth instanceof Uint8Array ? Buffer.from(auth) : undefined;
      if (bytes === undefined) throw badArguments('auth must be a Buffer or a string');
      this.replica.addAuth(this.sessionId, scheme, bytes);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  onSessionEnd(listener: (state: 'expired' | 'closed') => void): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.stateValue !== 'connected') return;
    await this.lastWrite;
    await this.replica.closeSession(this.sessionId);
    this.ended('closed');
  }

  private captureFor(path: string, kind: ObserveKind): (event: WatchEvent) => Observation | undefined {
    switch (kind) {
      case 'data':
      case 'exists':
        return (event) => (event.type === 'childrenChanged' ? undefined : this.currentValue(path, kind));
      case 'children':
        return (event) => (event.type === 'dataChanged' ? undefined : this.currentValue(path, kind));
      case 'events':
      case 'recursiveEvents':
        return (event) => ({ kind: 'event', value: event });
    }
  }

  private currentValue(path: string, kind: 'data' | 'children' | 'exists'): Observation {
    const tree = this.replica.tree;
    switch (kind) {
      case 'data':
        return { kind, value: tree.getData(path) ?? null };
      case 'exists':
        return { kind, value: tree.stat(path) ?? null };
      case 'children': {
        const children = tree.getChildren(path);
        const stat = tree.stat(path);
        return { kind, value: children === undefined || stat === undefined ? null : { children, stat } };
      }
    }
  }

  /** Registers a one-shot watch, atomically with the read that sets it (same sync step). */
  private addWatchSync(path: string, kind: 'data' | 'exists' | 'child', listener: WatchListener): void {
    if (typeof listener !== 'function') throw badArguments('the watch listener must be a function');
    const byPath = this.oneShot[kind];
    let listeners = byPath.get(path);
    if (listeners === undefined) {
      listeners = new Set();
      byPath.set(path, listeners);
    }
    if (!listeners.has(listener)) {
      listeners.add(listener);
      this.countOneShot(listener, 1);
    }
    this.replica.watches.add(path, kind, this.sessionWatcher);
  }

  /**
   * True while `listener` has a watch of this session (one-shot or persistent); the worker
   * host uses it to free its id for the listener once the last watch fired or was removed.
   */
  holdsListener(listener: WatchListener): boolean {
    return this.oneShotCounts.has(listener) || this.persistentWatchers.has(listener);
  }

  private countOneShot(listener: WatchListener, delta: number): void {
    const count = (this.oneShotCounts.get(listener) ?? 0) + delta;
    if (count > 0) this.oneShotCounts.set(listener, count);
    else this.oneShotCounts.delete(listener);
  }

  /**
   * The replica fired this session's one-shot registration for `event.path`: hand the event to
   * the listeners ZooKeeper's client would (created/dataChanged: data and exists watches;
   * childrenChanged: child watches; deleted: all three), each once, and forget them.
   */
  private fireOneShot(event: WatchEvent): void {
    const kinds: Array<'data' | 'exists' | 'child'> =
      event.type === 'childrenChanged' ? ['child']
        : event.type === 'deleted' ? ['data', 'exists', 'child'] : ['data', 'exists'];
    const listeners = new Set<WatchListener>();
    for (const kind of kinds) {
      for (const listener of this.oneShot[kind].get(event.path) ?? []) {
        listeners.add(listener);
        this.countOneShot(listener, -1);
      }
      this.oneShot[kind].delete(event.path);
    }
    if (listeners.size > 0) {
      queueMicrotask(() => {
        for (const listener of listeners) this.guard(() => listener(event));
      });
    }
  }

  private removeOneShot(kind: 'data' | 'exists' | 'child', path: string, listener: WatchListener): boolean {
    const listeners = this.oneShot[kind].get(path);
    if (listeners === undefined || !listeners.delete(listener)) return false;
    this.countOneShot(listener, -1);
    if (listeners.size > 0) return true;
    this.oneShot[kind].delete(path);
    const stillData = this.oneShot.data.has(path) || this.oneShot.exists.has(path);
    if (kind === 'child') this.replica.watches.remove(path, 'children', this.sessionWatcher);
    else if (!stillData) this.replica.watches.remove(path, 'data', this.sessionWatcher);
    return true;
  }

  private removePersistent(
    path: string,
    listener: WatchListener,
    type: 'persistent' | 'persistentRecursive' | 'any',
  ): boolean {
    const watcher = this.persistentWatchers.get(listener);
    if (watcher === undefined) return false;
    // The watcher holds only this listener's persistent watches, so 'any' removes exactly them.
    const removed = this.replica.watches.remove(path, type, watcher);
    if (this.replica.watches.watchesOf(watcher).length === 0) this.persistentWatchers.delete(listener);
    return removed;
  }

  private toMultiRequest(op: MultiOp): MultiOpRequest {
    switch (op.op) {
      case 'create': {
        const mode = checkMode(op.mode);
        this.checkPath(op.path, isSequentialMode(mode));
        const request: MultiOpRequest = {
          op: 'create', path: op.path, data: op.data === undefined ? EMPTY : copyData(op.data),
          acl: op.acl ?? [...OPEN_ACL_UNSAFE], mode,
        };
        if (op.ttlMs !== undefined) request.ttlMs = op.ttlMs;
        return request;
      }
      case 'delete':
        this.checkPath(op.path);
        return { op: 'delete', path: op.path, version: checkVersion(op.version) };
      case 'setData':
        this.checkPath(op.path);
        return { op: 'setData', path: op.path, data: copyData(op.data), version: checkVersion(op.version) };
      case 'check':
        this.checkPath(op.path);
        return { op: 'check', path: op.path, version: checkVersion(op.version) };
      default:
        throw badArguments(`unknown multi op ${JSON.stringify((op as { op: unknown }).op)}`);
    }
  }

  /** Submits a write and turns a non-zero result code into the typed error. */
  private async write(request: WriteRequest, path: string): Promise<CommittedResult> {
    const result = await this.submit(request);
    if (result.code !== ErrorCode.Ok) throw keeperError(result.code, result.path ?? path);
    return result;
  }

  private submit(request: WriteRequest): Promise<CommittedResult> {
    this.checkConnected();
    this.cxid = (this.cxid + 1) | 0;
    this.writesInFlight += 1;
    const promise = this.replica.submit(this.sessionId, this.cxid, request);
    this.lastWrite = promise.then(
      () => {
        this.writesInFlight -= 1;
      },
      () => {
        this.writesInFlight -= 1;
      },
    );
    return promise;
  }

  /** Runs a read now, or after this session's in-flight writes (per-session FIFO). */
  private read<T>(path: string | undefined, run: () => T): Promise<T> {
    try {
      if (path !== undefined) this.checkPath(path);
      this.checkConnected();
      if (this.writesInFlight === 0) return Promise.resolve(run());
    } catch (error) {
      return Promise.reject(error);
    }
    return this.lastWrite.then(() => {
      this.checkConnected();
      return run();
    });
  }

  private checkPath(path: string, sequential = false): void {
    const problem = pathProblem(path, sequential);
    if (problem !== null) throw new InvalidPathError(ErrorCode.BadArguments, String(path), `invalid path: ${problem}`);
  }

  private checkConnected(): void {
    if (this.stateValue === 'expired') throw keeperError(ErrorCode.SessionExpired);
    if (this.stateValue === 'closed') {
      throw new KeeperError(ErrorCode.ConnectionLoss, undefined, 'the session was closed');
    }
  }

  private ended(state: 'expired' | 'closed'): void {
    if (this.stateValue !== 'connected') return;
    this.stateValue = state;
    this.unsubscribeReplica();
    this.unsubscribeQuorum();
    this.replica.watches.removeWatcher(this.sessionWatcher);
    for (const watcher of [...this.persistentWatchers.values(), ...this.observers]) {
      this.replica.watches.removeWatcher(watcher);
    }
    this.persistentWatchers.clear();
    this.oneShotCounts.clear();
    this.observers.clear();
    for (const byPath of Object.values(this.oneShot)) byPath.clear();
    for (const listener of this.endListeners) this.guard(() => listener(state));
    this.endListeners.clear();
    this.connection.lost();
  }
}
