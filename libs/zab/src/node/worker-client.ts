/**
 * The main-thread side of one session whose replica runs in a worker thread: a
 * `CoordinationClient` with the same semantics as `LocalCoordinationClient`, because it *is*
 * one, inside the worker; this class forwards calls and delivers what comes back.
 *
 * - Calls are queued on the host's outbox and posted once per event-loop turn (batching).
 * - Replies, watch events, observations and the session end arrive in the worker's production
 *   order and are delivered in that order: promises are resolved and callbacks queued as
 *   microtasks item by item, so a watcher sees an event before the continuation of any later
 *   reply runs (ZooKeeper's rule, as in the local client).
 * - Write data is copied at the call into a transferred ArrayBuffer: the caller may reuse its
 *   buffer at once. Data received is owned by the caller.
 * - If the worker dies, pending calls reject with `ReplicaWorkerExitedError` (the host does
 *   that) and the session is reported as ended with `'expired'`.
 */
import type { SessionId } from '../core/ids.js';
import { ErrorCode } from '../state/error-code.js';
import { BadArgumentsError } from '../state/keeper-error.js';
import type { Acl, Stat } from '../state/stat.js';
import type { OpResult } from '../state/tree-view.js';
import type { WatchEvent } from '../state/watch-event.js';
import type {
  ConnectionState,
  CoordinationClient,
  CreateOptions,
  MultiOp,
  Observation,
  ObserveKind,
  SessionState,
  WatchListener,
} from './coordination-client.js';
import { ConnectionStateTracker } from './connection-state.js';
import {
  asBuffer,
  copyForTransfer,
  unpackStat,
  type PackedReplies,
  type ClientCall,
  type HostRequest,
  type RemoveWatchType,
} from './worker-protocol.js';

/** What a session needs from its host (the `WorkerReplicaHandle`). */
export interface WorkerSessionLink {
  /** Queues a request; resolves with its reply value, rejects with the revived error. */
  request<T>(build: (id: number) => HostRequest, transfer?: ArrayBuffer[]): Promise<T>;
  /** Queues a request that has no reply. */
  send(request: HostRequest): void;
  /** Logs an error thrown by application code called back by the client (and ignores it). */
  reportListenerError(error: unknown): void;
}

type EndListener = (state: 'expired' | 'closed') => void;

export class WorkerCoordinationClient implements CoordinationClient {
  private stateValue: SessionState = 'connected';
  private nextWatchId = 1;
  private nextObserverId = 1;
  private readonly watchIds = new Map<WatchListener, number>();
  private readonly watchListeners = new Map<number, WatchListener>();
  /** Registering calls sent per watch id (see `releaseWatch`). */
  private readonly watchUses = new Map<number, number>();
  private readonly observers = new Map<number, (observation: Observation) => void>();
  private readonly endListeners = new Set<EndListener>();
  private readonly connection = new ConnectionStateTracker((call) => this.guard(call));

  /** Made by `WorkerReplicaHandle.connect`; `session` is the host's handle of the session. */
  constructor(
    private readonly link: WorkerSessionLink,
    readonly session: number,
    readonly sessionId: SessionId,
    readonly sessionTimeoutMs: number,
  ) {}

  get state(): SessionState {
    return this.stateValue;
  }

  get connectionState(): ConnectionState {
    return this.connection.state;
  }

  onConnectionStateChange(listener: (state: ConnectionState) => void): () => void {
    return this.connection.subscribe(listener);
  }

  /** Calls application code; what it throws is logged, never thrown into the app's loop. */
  private guard(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.link.reportListenerError(error);
    }
  }

  /** Watch ids this client still maps to listeners (diagnostics: fired watches free theirs). */
  get watchIdsHeld(): number {
    return this.watchListeners.size;
  }

  async create(
    path: string,
    data: Buffer,
    options?: CreateOptions,
  ): Promise<{ path: string; stat: Stat }> {
    const copy = transferable(data);
    const [created, stat] = await this.call<PackedReplies['create']>(
      { method: 'create', args: [path, copy, options] },
      [copy.buffer],
    );
    return { path: created, stat: unpackStat(stat) };
  }

  async getData(path: string, watch?: WatchListener): Promise<{ data: Buffer; stat: Stat }> {
    const [data, stat] = await this.call<PackedReplies['getData']>({
      method: 'getData',
      args: [path, this.registeringWatchId(watch)],
    });
    return { data: asBuffer(data), stat: unpackStat(stat) };
  }

  async setData(path: string, data: Buffer, version?: number): Promise<Stat> {
    const copy = transferable(data);
    const call: ClientCall = { method: 'setData', args: [path, copy, version] };
    return unpackStat(await this.call<PackedReplies['setData']>(call, [copy.buffer]));
  }

  delete(path: string, version?: number): Promise<void> {
    return this.call({ method: 'delete', args: [path, version] });
  }

  async exists(path: string, watch?: WatchListener): Promise<Stat | null> {
    const call: ClientCall = { method: 'exists', args: [path, this.registeringWatchId(watch)] };
    const stat = await this.call<PackedReplies['exists']>(call);
    return stat === null ? null : unpackStat(stat);
  }

  async getChildren(
    path: string,
    watch?: WatchListener,
  ): Promise<{ children: string[]; stat: Stat }> {
    const call: ClientCall = {
      method: 'getChildren', args: [path, this.registeringWatchId(watch)],
    };
    const [children, stat] = await this.call<PackedReplies['getChildren']>(call);
    return { children, stat: unpackStat(stat) };
  }

  getAcl(path: string): Promise<{ acl: Acl[]; stat: Stat }> {
    return this.call({ method: 'getAcl', args: [path] });
  }

  setAcl(path: string, acl: Acl[], version?: number): Promise<Stat> {
    return this.call({ method: 'setAcl', args: [path, acl, version] });
  }

  getAllChildrenNumber(path: string): Promise<number> {
    return this.call({ method: 'getAllChildrenNumber', args: [path] });
  }

  getEphemerals(prefix?: string): Promise<string[]> {
    return this.call({ method: 'getEphemerals', args: [prefix] });
  }

  async multi(ops: MultiOp[]): Promise<OpResult[]> {
    checkMultiOps(ops);
    const transfer: ArrayBuffer[] = [];
    const copied = ops.map((op): MultiOp => {
      if ((op.op !== 'create' && op.op !== 'setData') || op.data === undefined) return op;
      const copy = transferable(op.data);
      transfer.push(copy.buffer);
      return { ...op, data: copy as Buffer };
    });
    return this.call({ method: 'multi', args: [copied] }, transfer);
  }

  sync(path: string): Promise<void> {
    return this.call({ method: 'sync', args: [path] });
  }

  /** See `CoordinationClient.addAuth`; ordered with this session's other calls. */
  addAuth(scheme: string, auth: Buffer | string): Promise<void> {
    const bytes = auth instanceof Uint8Array ? Uint8Array.from(auth) : auth;
    return this.call({ method: 'addAuth', args: [scheme, bytes] });
  }

  async addWatch(
    path: string,
    mode: 'persistent' | 'persistentRecursive',
    listener: WatchListener,
  ): Promise<void> {
    return this.call({ method: 'addWatch', args: [path, mode, this.registeringWatchId(listener)] });
  }

  async removeWatches(path: string, listener: WatchListener, type?: RemoveWatchType): Promise<void> {
    checkListener(listener);
    return this.call({ method: 'removeWatches', args: [path, this.watchId(listener), type] });
  }

  async observe(
    path: string,
    kind: ObserveKind,
    listener: (observation: Observation) => void,
  ): Promise<() => void> {
    const observerId = this.nextObserverId++;
    this.observers.set(observerId, listener);
    try {
      const session = this.session;
      await this.link.request((id) => ({
        kind: 'observe', id, session, observerId, path, observe: kind,
      }));
    } catch (error) {
      this.observers.delete(observerId);
      throw error;
    }
    return () => {
      // Stops delivery at once; the worker drops the watch when the message arrives.
      if (this.observers.delete(observerId)) {
        this.link.send({ kind: 'unobserve', session: this.session, observerId });
      }
    };
  }

  onSessionEnd(listener: EndListener): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.stateValue !== 'connected') return;
    await this.call({ method: 'close', args: [] });
  }

  /** A watch event from the worker, delivered in channel order. */
  deliverWatch(watchId: number, event: WatchEvent): void {
    const listener = this.watchListeners.get(watchId);
    if (listener !== undefined) queueMicrotask(() => this.guard(() => listener(event)));
  }

  /**
   * The worker freed `watchId` after `uses` registering calls. If none was sent since, the
   * listener holds no watch: forget the id, so one-shot watches leave nothing behind.
   */
  releaseWatch(watchId: number, uses: number): void {
    // The worker counts uses from when it (re)created the id; the client counts since its own
    // last release. Calls sent after the worker's release decision keep the id alive.
    const remaining = (this.watchUses.get(watchId) ?? 0) - uses;
    if (remaining > 0) {
      this.watchUses.set(watchId, remaining);
      return;
    }
    const listener = this.watchListeners.get(watchId);
    this.watchListeners.delete(watchId);
    this.watchUses.delete(watchId);
    if (listener !== undefined) this.watchIds.delete(listener);
  }

  /** An observation from the worker (the first value arrives before the observe reply). */
  deliverObservation(observerId: number, observation: Observation): void {
    const value = reviveObservation(observation);
    queueMicrotask(() => this.guard(() => this.observers.get(observerId)?.(value)));
  }

  /** The worker's replica left (`suspended`) or rejoined (`reconnected`) a working quorum. */
  deliverConnectionState(state: 'suspended' | 'reconnected'): void {
    queueMicrotask(() => {
      if (state === 'suspended') this.connection.suspended();
      else this.connection.reconnected();
    });
  }

  /** The session ended in the worker (closed, expired) or with the worker (`expired`). */
  deliverEnd(state: 'expired' | 'closed'): void {
    queueMicrotask(() => this.ended(state));
  }

  private ended(state: 'expired' | 'closed'): void {
    if (this.stateValue !== 'connected') return;
    this.stateValue = state;
    this.observers.clear();
    this.watchListeners.clear();
    this.watchIds.clear();
    this.watchUses.clear();
    for (const listener of this.endListeners) this.guard(() => listener(state));
    this.endListeners.clear();
    this.connection.lost();
  }

  private call<T>(call: ClientCall, transfer?: ArrayBuffer[]): Promise<T> {
    const session = this.session;
    return this.link.request<T>((id) => [id, session, call], transfer);
  }

  /** The listener's id for a call that registers a watch with it (counted, see release). */
  private registeringWatchId(listener: WatchListener): number;
  private registeringWatchId(listener: WatchListener | undefined): number | undefined;
  private registeringWatchId(listener: WatchListener | undefined): number | undefined {
    checkListener(listener);
    const id = this.watchId(listener);
    if (id !== undefined) this.watchUses.set(id, (this.watchUses.get(id) ?? 0) + 1);
    return id;
  }

  /** A stable id per listener, so `removeWatches` reaches the watch the listener set. */
  private watchId(listener: WatchListener): number;
  private watchId(listener: WatchListener | undefined): number | undefined;
  private watchId(listener: WatchListener | undefined): number | undefined {
    if (listener === undefined) return undefined;
    let id = this.watchIds.get(listener);
    if (id === undefined) {
      id = this.nextWatchId++;
      this.watchIds.set(listener, id);
      this.watchListeners.set(id, listener);
    }
    return id;
  }
}

/** A watch listener must be a function (checked here: the worker only sees its id). */
function checkListener(listener: unknown): void {
  if (listener !== undefined && typeof listener !== 'function') {
    throw new BadArgumentsError(ErrorCode.BadArguments, undefined,
      'the watch listener must be a function');
  }
}

/** The local client's multi checks, made before anything crosses the thread boundary. */
function checkMultiOps(ops: unknown): void {
  if (!Array.isArray(ops)) {
    throw new BadArgumentsError(ErrorCode.BadArguments, undefined, 'multi takes an array of ops');
  }
  for (const op of ops as unknown[]) {
    const name = typeof op === 'object' && op !== null ? (op as { op?: unknown }).op : undefined;
    if (name !== 'create' && name !== 'delete' && name !== 'setData' && name !== 'check') {
      throw new BadArgumentsError(ErrorCode.BadArguments, undefined,
        `unknown multi op ${JSON.stringify(name ?? op)}`);
    }
  }
}

/** Copies write data for transfer; anything but bytes is refused as the wire would. */
function transferable(data: unknown): Uint8Array<ArrayBuffer> {
  if (!(data instanceof Uint8Array)) {
    const detail = 'data must be a Buffer or a Uint8Array';
    throw new BadArgumentsError(ErrorCode.BadArguments, undefined, detail);
  }
  return copyForTransfer(data);
}

/** Structured clone turned Buffers into Uint8Arrays; observers get Buffers again. */
function reviveObservation(observation: Observation): Observation {
  if (observation.kind !== 'data' || observation.value === null) return observation;
  const { data, stat } = observation.value;
  return { kind: 'data', value: { data: asBuffer(data), stat } };
}
