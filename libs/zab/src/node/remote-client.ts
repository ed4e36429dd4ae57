/**
 * `RemoteCoordinationClient`: the coordination client of `connect` mode, a ZooKeeper client of
 * a remote ensemble (nestjs-zab replicas or Apache ZooKeeper 3.5+) over the client protocol,
 * built on the shared wire codec (wire/). The session, connections, pings and reconnection
 * live in `RemoteSession`; this class maps the `CoordinationClient` API onto requests, keeps
 * the watches (ZooKeeper's client watch model, `RemoteWatchManager`) and applies the chroot.
 *
 * Same contract as the embedded clients, with the differences a network imposes:
 * - per-session FIFO comes from the server (ZooKeeper answers a session in order);
 * - a write in flight when the connection drops rejects with `ConnectionLossError` and is
 *   not retried (it may have been applied); the caller decides. Reads are resent on the next
 *   connection (a few times at most), as they are safe to repeat;
 * - `observe` of data, children or existence reads with a one-shot watch and re-reads on each
 *   event: it reports the current value first, then the value after each change in order, but
 *   changes that land between two reads are coalesced (ZooKeeper keeps no history to read them
 *   from). Event kinds use persistent watches and report every event.
 * - ZooKeeper 3.8 servers keep one watch mode per (connection, path): a one-shot watch and a
 *   persistent watch set on the same path by one session interfere on the server (the later
 *   mode wins; fixed in ZooKeeper 3.9). nestjs-zab replicas do not have this limit.
 */
import { badArguments, checkMode, checkVersion } from './client-arguments.js';
import { ErrorCode } from '../state/error-code.js';
import { CreateModeFlag, isSequentialMode, type CreateModeName } from '../state/create-mode.js';
import { InvalidPathError, KeeperError, keeperError } from '../state/keeper-error.js';
import { pathProblem } from '../state/path.js';
import { OPEN_ACL_UNSAFE, type Acl, type Stat } from '../state/stat.js';
import type { OpResult } from '../state/tree-view.js';
import { WatchEventTypeCode, type WatchEvent, type WatchEventType } from '../state/watch-event.js';
import { OpCode } from '../wire/op-code.js';
import type { OperationRequest, OperationResponse } from '../wire/operation.js';
import { AddWatchMode } from '../wire/records/add-watch.js';
import type { MultiOperation, MultiResult } from '../wire/records/multi.js';
import { WatcherType } from '../wire/records/remove-watches.js';
import type { SetWatches2 } from '../wire/records/set-watches.js';
import type { WatcherEvent } from '../wire/records/watcher-event.js';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from '../wire/wire-limits.js';
import { parseConnectString, toClientPath, toServerPath } from './connect-string.js';
import { ConnectionStateTracker } from './connection-state.js';
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
import { RemoteSession, type AuthInfo } from './remote-session.js';
import { RemoteWatchManager, type OneShotKind, type PersistentKind } from './remote-watch-manager.js';
import type { ReplicaLogger } from './replica.js';

export type { AuthInfo } from './remote-session.js';

export interface RemoteClientOptions {
  /** `host:port,host:port[/chroot]`. */
  connect: string;
  /** Requested session timeout; the ensemble negotiates it. Default 10000. */
  sessionTimeoutMs?: number;
  /** Identities added (addAuth) on every connection, e.g. `{ scheme: 'digest', credentials: 'u:p' }`. */
  auth?: AuthInfo[];
  /** How long `connect` may try before rejecting with ConnectionLoss. Default: the session timeout. */
  connectTimeoutMs?: number;
  /** `shuffle` (default) spreads clients over the servers; `given` tries them in order. */
  hostOrder?: 'shuffle' | 'given';
  /** Randomness for the shuffle and the retry jitter. Default Math.random. */
  random?: () => number;
  logger?: ReplicaLogger;
  limits?: WireLimits;
  /** Re-attach to an existing session (its id and password) instead of creating one. */
  session?: { sessionId: bigint; password: Buffer };
}

const EMPTY = Buffer.alloc(0);
const SILENT_LOGGER: ReplicaLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };

const EVENT_TYPES = new Map<number, WatchEventType>(
  Object.entries(WatchEventTypeCode).map(([name, code]) => [code, name as WatchEventType]),
);

function checkData(data: unknown): Buffer {
  if (!(data instanceof Uint8Array)) throw badArguments('data must be a Buffer or a Uint8Array');
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function checkListener(listener: unknown): WatchListener {
  if (typeof listener !== 'function') throw badArguments('the watch listener must be a function');
  return listener as WatchListener;
}

/** The op a create uses: create2 (path and Stat back), createContainer or createTTL. */
function createOperation(
  path: string,
  data: Buffer,
  mode: CreateModeName,
  acl: Acl[],
  ttlMs: number | undefined,
): MultiOperation {
  const body = { path, data, acl, flags: CreateModeFlag[mode] };
  if (mode === 'ttl' || mode === 'persistent_sequential_ttl') {
    if (ttlMs === undefined || !Number.isInteger(ttlMs) || ttlMs <= 0) {
      throw badArguments(`mode ${mode} needs ttlMs, a positive integer`);
    }
    return { type: OpCode.createTTL, body: { ...body, ttl: BigInt(ttlMs) } };
  }
  if (ttlMs !== undefined) throw badArguments(`ttlMs is only for the ttl modes, not ${mode}`);
  if (mode === 'container') return { type: OpCode.createContainer, body };
  return { type: OpCode.create2, body };
}

export class RemoteCoordinationClient implements CoordinationClient {
  private readonly watches = new RemoteWatchManager();
  private readonly observers = new Set<{ refresh(): void }>();
  private readonly endListeners = new Set<(state: 'expired' | 'closed') => void>();
  private readonly guard = (call: () => void): void => {
    try {
      call();
    } catch (error) {
      this.logger.error(`a coordination listener threw: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    }
  };
  private readonly connection = new ConnectionStateTracker(this.guard);
  private readonly session: RemoteSession;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly chroot: string,
    private readonly logger: ReplicaLogger,
    options: RemoteClientOptions,
    servers: ReturnType<typeof parseConnectString>['servers'],
  ) {
    this.session = new RemoteSession({
      servers,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
      hostOrder: options.hostOrder ?? 'shuffle',
      random: options.random ?? Math.random,
      limits: options.limits ?? DEFAULT_WIRE_LIMITS,
      logger,
      auth: options.auth ?? [],
      ...(options.session === undefined ? {} : { session: options.session }),
    }, {
      notification: (event, zxid) => this.notify(event, zxid),
      suspended: () => this.connection.suspended(),
      reconnected: () => {
        this.connection.reconnected();
        for (const observer of this.observers) observer.refresh();
      },
      ended: (state) => this.ended(state),
      watchesToRestore: () => this.watchesToRestore(),
    });
  }

  /** Connects to the ensemble; resolves once the session is established. */
  static async connect(options: RemoteClientOptions): Promise<RemoteCoordinationClient> {
    const { servers, chroot } = parseConnectString(options.connect);
    const client = new RemoteCoordinationClient(chroot, options.logger ?? SILENT_LOGGER, options, servers);
    const timeoutMs = options.connectTimeoutMs ?? options.sessionTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        client.session.end('closed', 'connect timed out');
        reject(keeperError(ErrorCode.ConnectionLoss, undefined,
          `no server of "${options.connect}" accepted a session within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      await Promise.race([client.session.start(), timedOut]);
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  get sessionId(): bigint {
    return this.session.sessionId;
  }

  /** The session password (with `sessionId`, what re-attaches to the session). */
  get sessionPassword(): Buffer {
    return Buffer.from(this.session.password);
  }

  /** The negotiated session timeout. */
  get sessionTimeoutMs(): number {
    return this.session.negotiatedTimeoutMs;
  }

  get state(): SessionState {
    const state = this.session.state;
    return state === 'connecting' ? 'connected' : state;
  }

  /** `host:port` of the server the session is connected to, undefined while disconnected. */
  get connectedServer(): string | undefined {
    return this.session.connectedServer;
  }

  get connectionState(): ConnectionState {
    return this.connection.state;
  }

  onConnectionStateChange(listener: (state: ConnectionState) => void): () => void {
    return this.connection.subscribe(listener);
  }

  onSessionEnd(listener: (state: 'expired' | 'closed') => void): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  async create(path: string, data: Buffer, options: CreateOptions = {}): Promise<{ path: string; stat: Stat }> {
    const mode = checkMode(options.mode);
    this.checkPath(path, isSequentialMode(mode));
    const operation = createOperation(this.serverPath(path), checkData(data), mode, options.acl ?? [...OPEN_ACL_UNSAFE], options.ttlMs);
    const response = await this.request(operation as OperationRequest, path);
    const body = response.body as { path: string; stat: Stat };
    return { path: this.clientPath(body.path), stat: body.stat };
  }

  async getData(path: string, watch?: WatchListener): Promise<{ data: Buffer; stat: Stat }> {
    this.checkPath(path);
    if (watch !== undefined) checkListener(watch);
    const request: OperationRequest = { type: OpCode.getData, body: { path: this.serverPath(path), watch: watch !== undefined } };
    const response = await this.request(request, path, (err) => {
      if (err === ErrorCode.Ok && watch !== undefined) this.watches.add('data', path, watch);
    });
    const body = response.body as { data: Buffer | null; stat: Stat };
    return { data: body.data === null ? EMPTY : Buffer.from(body.data), stat: body.stat };
  }

  async setData(path: string, data: Buffer, version?: number): Promise<Stat> {
    this.checkPath(path);
    const body = { path: this.serverPath(path), data: checkData(data), version: checkVersion(version) };
    const response = await this.request({ type: OpCode.setData, body }, path);
    return (response.body as { stat: Stat }).stat;
  }

  async delete(path: string, version?: number): Promise<void> {
    this.checkPath(path);
    await this.request({ type: OpCode.delete, body: { path: this.serverPath(path), version: checkVersion(version) } }, path);
  }

  async exists(path: string, watch?: WatchListener): Promise<Stat | null> {
    this.checkPath(path);
    if (watch !== undefined) checkListener(watch);
    const request: OperationRequest = { type: OpCode.exists, body: { path: this.serverPath(path), watch: watch !== undefined } };
    try {
      const response = await this.request(request, path, (err) => {
        if (watch === undefined) return;
        if (err === ErrorCode.Ok) this.watches.add('data', path, watch);
        else if (err === ErrorCode.NoNode) this.watches.add('exist', path, watch);
      });
      return (response.body as { stat: Stat }).stat;
    } catch (error) {
      if (error instanceof KeeperError && error.code === ErrorCode.NoNode) return null;
      throw error;
    }
  }

  async getChildren(path: string, watch?: WatchListener): Promise<{ children: string[]; stat: Stat }> {
    this.checkPath(path);
    if (watch !== undefined) checkListener(watch);
    const request: OperationRequest = { type: OpCode.getChildren2, body: { path: this.serverPath(path), watch: watch !== undefined } };
    const response = await this.request(request, path, (err) => {
      if (err === ErrorCode.Ok && watch !== undefined) this.watches.add('child', path, watch);
    });
    return response.body as { children: string[]; stat: Stat };
  }

  async getAcl(path: string): Promise<{ acl: Acl[]; stat: Stat }> {
    this.checkPath(path);
    const response = await this.request({ type: OpCode.getACL, body: { path: this.serverPath(path) } }, path);
    return response.body as { acl: Acl[]; stat: Stat };
  }

  async setAcl(path: string, acl: Acl[], version?: number): Promise<Stat> {
    this.checkPath(path);
    if (!Array.isArray(acl) || acl.length === 0) throw keeperError(ErrorCode.InvalidAcl, path, 'the ACL must be a non-empty array');
    const body = { path: this.serverPath(path), acl, version: checkVersion(version) };
    const response = await this.request({ type: OpCode.setACL, body }, path);
    return (response.body as { stat: Stat }).stat;
  }

  async getAllChildrenNumber(path: string): Promise<number> {
    this.checkPath(path);
    const response = await this.request({ type: OpCode.getAllChildrenNumber, body: { path: this.serverPath(path) } }, path);
    return (response.body as { totalNumber: number }).totalNumber;
  }

  async getEphemerals(prefix = '/'): Promise<string[]> {
    this.checkPath(prefix);
    const response = await this.request({ type: OpCode.getEphemerals, body: { prefixPath: this.serverPath(prefix) } }, prefix);
    const inChroot = (p: string): boolean => this.chroot === '' || p === this.chroot || p.startsWith(`${this.chroot}/`);
    return (response.body as { ephemerals: string[] }).ephemerals.filter(inChroot).map((p) => this.clientPath(p));
  }

  async multi(ops: MultiOp[]): Promise<OpResult[]> {
    if (!Array.isArray(ops)) throw badArguments('multi takes an array of ops');
    const operations = ops.map((op) => this.toMultiOperation(op));
    let response: OperationResponse;
    try {
      response = await this.request({ type: OpCode.multi, body: { operations } }, undefined);
    } catch (error) {
      if (error instanceof KeeperError && error.code !== ErrorCode.ConnectionLoss && error.code !== ErrorCode.SessionExpired) {
        throw new MultiError(error.code, [], undefined);
      }
      throw error;
    }
    const results = (response.body as { results: MultiResult[] }).results.map((r) => this.toOpResult(r));
    const failing = results.findIndex((r) => r.code !== ErrorCode.Ok && r.code !== ErrorCode.RuntimeInconsistency);
    if (failing >= 0) throw new MultiError(results[failing]!.code, results, ops[failing]?.path);
    return results;
  }

  async sync(path: string): Promise<void> {
    this.checkPath(path);
    await this.request({ type: OpCode.sync, body: { path: this.serverPath(path) } }, path);
  }

  /** ZooKeeper's addAuth: the identity is added now and on every reconnect. */
  addAuth(scheme: string, credentials: string | Buffer): Promise<void> {
    try {
      return this.session.addAuth({ scheme, credentials });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async addWatch(path: string, mode: 'persistent' | 'persistentRecursive', listener: WatchListener): Promise<void> {
    this.checkPath(path);
    checkListener(listener);
    if (mode !== 'persistent' && mode !== 'persistentRecursive') {
      throw badArguments(`addWatch mode must be persistent or persistentRecursive; got ${String(mode)}`);
    }
    const body = { path: this.serverPath(path), mode: AddWatchMode[mode] };
    await this.request({ type: OpCode.addWatch, body }, path, (err) => {
      if (err === ErrorCode.Ok) this.watches.add(mode, path, listener);
    });
  }

  /**
   * Removes `listener`'s watches of `type` at `path` here; when no listener is left for a
   * watch the server holds, asks the server to drop it too. NoWatcher if nothing matched.
   */
  async removeWatches(
    path: string,
    listener: WatchListener,
    type: 'children' | 'data' | 'any' | 'persistent' | 'persistentRecursive' = 'any',
  ): Promise<void> {
    this.checkPath(path);
    this.session.checkUsable();
    const kinds: Array<OneShotKind | PersistentKind> =
      type === 'data' ? ['data', 'exist'] : type === 'children' ? ['child']
        : type === 'any' ? ['data', 'exist', 'child', 'persistent', 'persistentRecursive'] : [type];
    const removed = kinds.filter((kind) => this.watches.remove(kind, path, listener));
    if (removed.length === 0) throw keeperError(ErrorCode.NoWatcher, path);
    const serverTypes = new Set<number>();
    for (const kind of removed) {
      if ((kind === 'data' || kind === 'exist') && !this.watches.watched('data', path) && !this.watches.watched('exist', path)) {
        serverTypes.add(WatcherType.data);
      } else if (kind === 'child' && !this.watches.watched('child', path)) {
        serverTypes.add(WatcherType.children);
      } else if ((kind === 'persistent' || kind === 'persistentRecursive') && !this.watches.watchedAny(path)) {
        // ZooKeeper 3.8 servers refuse the persistent watcher types in removeWatches (3.9
        // accepts them); with no other watch left here, Any removes it.
        serverTypes.add(WatcherType.any);
      }
    }
    await Promise.all([...serverTypes].map((watcherType) =>
      this.request({ type: OpCode.removeWatches, body: { path: this.serverPath(path), type: watcherType } }, path)
        .catch((error: unknown) => {
          // NoWatcher: the server's watch already fired; a lost connection drops it anyway.
          if (error instanceof KeeperError && (error.code === ErrorCode.NoWatcher || error.code === ErrorCode.ConnectionLoss)) return;
          throw error;
        })));
  }

  async observe(path: string, kind: ObserveKind, listener: (observation: Observation) => void): Promise<() => void> {
    this.checkPath(path);
    this.session.checkUsable();
    if (typeof listener !== 'function') throw badArguments('the observe listener must be a function');
    const mode: PersistentKind = kind === 'recursiveEvents' ? 'persistentRecursive' : 'persistent';
    const report = (observation: Observation): void => this.guard(() => listener(observation));
    if (kind === 'events' || kind === 'recursiveEvents') {
      let stopped = false;
      const onEvent: WatchListener = (event) => {
        if (!stopped) report({ kind: 'event', value: event });
      };
      await this.addWatch(path, mode, onEvent);
      return () => {
        stopped = true;
        void this.removeWatches(path, onEvent, mode).catch(() => undefined);
      };
    }
    return this.observeValue(path, kind, report);
  }

  /**
   * Curator's NodeCache method: every read sets a one-shot watch on the node (a data or child
   * watch, or an exist watch while it is missing), and each event re-reads and re-arms, so no
   * change escapes between a read and its watch. Reads return in order; a read showing the
   * version last reported is not reported again. After a reconnect SetWatches2 fires the
   * watches of nodes that changed meanwhile, and each observer re-reads anyway.
   */
  private async observeValue(
    path: string,
    kind: 'data' | 'children' | 'exists',
    report: (observation: Observation) => void,
  ): Promise<() => void> {
    let stopped = false;
    let lastKey: string | undefined;
    const onEvent: WatchListener = () => observer.refresh();
    const deliver = (observation: Observation): void => {
      const key = observationKey(observation);
      if (stopped || lastKey === undefined || key === lastKey) return;
      lastKey = key;
      report(observation);
    };
    const observer = {
      refresh: (): void => {
        if (!stopped) this.readArmed(path, kind, onEvent).then(deliver, () => undefined);
      },
    };
    const first = await this.readArmed(path, kind, onEvent);
    lastKey = observationKey(first);
    report(first);
    this.observers.add(observer);
    return () => {
      stopped = true;
      if (this.observers.delete(observer)) void this.removeWatches(path, onEvent, 'any').catch(() => undefined);
    };
  }

  /** Reads the observed value and leaves a one-shot watch for `listener` on the node. */
  private async readArmed(path: string, kind: 'data' | 'children' | 'exists', listener: WatchListener): Promise<Observation> {
    if (kind === 'exists') return { kind, value: await this.exists(path, listener) };
    // A node created between the failed read and the exists is read again (bounded).
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        if (kind === 'data') return { kind, value: await this.getData(path, listener) };
        return { kind, value: await this.getChildren(path, listener) };
      } catch (error) {
        if (!(error instanceof KeeperError && error.code === ErrorCode.NoNode)) throw error;
      }
      if ((await this.exists(path, listener)) === null) return { kind, value: null };
    }
    throw keeperError(ErrorCode.OperationTimeout, path, 'the node kept appearing and vanishing while observed');
  }

  /** Sends closeSession (the ensemble deletes the ephemerals at once) and ends the session. */
  close(): Promise<void> {
    this.closing ??= this.closeSession();
    return this.closing;
  }

  private async closeSession(): Promise<void> {
    if (this.session.state === 'expired' || this.session.state === 'closed') return;
    if (this.session.isConnected) {
      const sent = this.request({ type: OpCode.closeSession, body: null }, undefined).catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.session.negotiatedTimeoutMs);
      });
      await Promise.race([sent, bound]);
      clearTimeout(timer);
    }
    this.session.end('closed', 'closed by the application');
  }

  /** Sends `request`; a non-zero result code rejects with the typed error for `path`. */
  private request(
    request: OperationRequest,
    path: string | undefined,
    onReply?: (err: number) => void,
  ): Promise<OperationResponse> {
    return new Promise((resolve, reject) => {
      this.session.call(
        request,
        (err, response) => {
          onReply?.(err);
          if (err !== ErrorCode.Ok) reject(keeperError(err, path));
          else if (response === null) reject(keeperError(ErrorCode.MarshallingError, path, 'reply without a body'));
          else resolve(response);
        },
        reject,
      );
    });
  }

  private notify(event: WatcherEvent, zxid: bigint): void {
    const type = EVENT_TYPES.get(event.type);
    if (type === undefined || event.path === null) return; // session state events: not watches
    const watchEvent: WatchEvent = { type, path: this.clientPath(event.path), zxid };
    const listeners = this.watches.materialize(watchEvent);
    if (listeners.size === 0) return;
    queueMicrotask(() => {
      for (const listener of listeners) this.guard(() => listener(watchEvent));
    });
  }

  private watchesToRestore(): SetWatches2 | null {
    if (this.watches.isEmpty) return null;
    const paths = this.watches.paths();
    const server = (list: string[]): string[] => list.map((p) => this.serverPath(p));
    return {
      relativeZxid: 0n,
      dataWatches: server(paths.data),
      existWatches: server(paths.exist),
      childWatches: server(paths.child),
      persistentWatches: server(paths.persistent),
      persistentRecursiveWatches: server(paths.persistentRecursive),
    };
  }

  private ended(state: 'expired' | 'closed'): void {
    this.watches.clear();
    this.observers.clear();
    for (const listener of [...this.endListeners]) this.guard(() => listener(state));
    this.endListeners.clear();
    this.connection.lost();
  }

  private toMultiOperation(op: MultiOp): MultiOperation {
    if (op === null || typeof op !== 'object') throw badArguments(`unknown multi op ${JSON.stringify(op)}`);
    switch (op.op) {
      case 'create': {
        const mode = checkMode(op.mode);
        this.checkPath(op.path, isSequentialMode(mode));
        const data = op.data === undefined ? EMPTY : checkData(op.data);
        return createOperation(this.serverPath(op.path), data, mode, op.acl ?? [...OPEN_ACL_UNSAFE], op.ttlMs);
      }
      case 'delete':
        this.checkPath(op.path);
        return { type: OpCode.delete, body: { path: this.serverPath(op.path), version: checkVersion(op.version) } };
      case 'setData':
        this.checkPath(op.path);
        return { type: OpCode.setData, body: { path: this.serverPath(op.path), data: checkData(op.data), version: checkVersion(op.version) } };
      case 'check':
        this.checkPath(op.path);
        return { type: OpCode.check, body: { path: this.serverPath(op.path), version: checkVersion(op.version) } };
      default:
        throw badArguments(`unknown multi op ${JSON.stringify((op as { op: unknown }).op)}`);
    }
  }

  private toOpResult(result: MultiResult): OpResult {
    switch (result.type) {
      case OpCode.create:
        return { type: 'create', code: ErrorCode.Ok, path: this.clientPath(result.body.path) };
      case OpCode.create2:
      case OpCode.createTTL:
      case OpCode.createContainer:
        return { type: 'create', code: ErrorCode.Ok, path: this.clientPath(result.body.path), stat: result.body.stat };
      case OpCode.delete:
        return { type: 'delete', code: ErrorCode.Ok };
      case OpCode.check:
        return { type: 'check', code: ErrorCode.Ok };
      case OpCode.setData:
        return { type: 'setData', code: ErrorCode.Ok, stat: result.body.stat };
      case OpCode.error:
        return { type: 'error', code: result.err };
      default:
        return { type: 'error', code: ErrorCode.MarshallingError };
    }
  }

  private checkPath(path: string, sequential = false): void {
    const problem = pathProblem(path, sequential);
    if (problem !== null) throw new InvalidPathError(ErrorCode.BadArguments, String(path), `invalid path: ${problem}`);
  }

  private serverPath(path: string): string {
    return toServerPath(this.chroot, path);
  }

  private clientPath(path: string): string {
    return toClientPath(this.chroot, path);
  }
}

/** What identifies the observed state: a report is due only when it changes. */
function observationKey(observation: Observation): string {
  switch (observation.kind) {
    case 'data':
      return observation.value === null ? 'none' : `${observation.value.stat.czxid}/${observation.value.stat.mzxid}`;
    case 'exists':
      return observation.value === null ? 'none' : `${observation.value.czxid}/${observation.value.mzxid}`;
    case 'children':
      return observation.value === null ? 'none' : `${observation.value.stat.czxid}/${observation.value.stat.cversion}`;
    case 'event':
      return `${observation.value.type}/${observation.value.path}/${observation.value.zxid}`;
  }
}
