/**
 * The message protocol between the app's main thread and the replica's worker thread.
 *
 * Both directions carry batches: an `Outbox` collects everything produced in one turn of the
 * event loop and posts it as one message (`setImmediate`, so every microtask of the turn has
 * had its chance to add to the batch). A `MessagePort` delivers messages in order, and a batch
 * is processed in order, so the one channel carries every session's replies, watch events,
 * observations and session ends in exactly the order the worker produced them. That is what
 * keeps ZooKeeper's rule across the thread boundary: a watcher sees the event before any
 * reply that could show it the changed data.
 *
 * Values cross by structured clone: `Stat` and zxid bigints survive it; a `Buffer` arrives as
 * a plain `Uint8Array` and is re-wrapped (without copying) by the receiver. Buffer ownership:
 *   - main -> worker: data given to a write is copied at the call into a fresh ArrayBuffer
 *     that is then transferred (the caller may reuse its buffer at once, as with the local
 *     client; the copy is owned by the worker after the post).
 *   - worker -> main: data read from the tree is first copied exactly (the tree hands out
 *     small Buffers on Node's shared pool, which must neither be transferred nor cloned
 *     whole), then cloned; the main thread owns what it receives.
 * Errors cross as `WireError` and are re-created as the same typed class (`reviveError`).
 *
 * Cost: structured clone copies every property name of every object. The two most frequent
 * messages, client calls and successful replies, are therefore tuples, and the hot replies
 * carry their `Stat` as a tuple too (`PackedStat`); together this raised the read rate
 * across the boundary by about 1.4x (measured). The rarer messages stay self-describing
 * objects.
 */
import {
  BadArgumentsError,
  BadVersionError,
  ConnectionLossError,
  InvalidPathError,
  KeeperError,
  NoChildrenForEphemeralsError,
  NodeExistsError,
  NoNodeError,
  NotEmptyError,
  NoWatcherError,
  SessionExpiredError,
  NoAuthError,
  AuthFailedError,
  InvalidAclError,
} from '../state/keeper-error.js';
import type { Acl, Stat } from '../state/stat.js';
import type { OpResult } from '../state/tree-view.js';
import type { WatchEvent } from '../state/watch-event.js';
import {
  StorageCorruptionError,
  StorageFailedError,
  StorageLockedError,
} from '../storage/storage-errors.js';
import {
  MultiError,
  type CreateOptions,
  type MultiOp,
  type Observation,
  type ObserveKind,
} from './coordination-client.js';
import { RecoveryError, ReplicaStoppedError } from './replica-errors.js';
import { ReplicaConfigurationError, type ReplicaOptions } from './replica-options.js';

/** What the worker is started with (`workerData`). Options are already validated. */
export interface WorkerStartData {
  options: ReplicaOptions;
}

export type PersistentMode = 'persistent' | 'persistentRecursive';

export type RemoveWatchType = 'children' | 'data' | 'any' | 'persistent' | 'persistentRecursive';

/**
 * One client call. A watch listener crosses as a numeric id, unique per session and stable
 * per listener (so `removeWatches` finds the watch the same listener set).
 */
export type ClientCall =
  | { method: 'create'; args: [path: string, data: Uint8Array, options: CreateOptions | undefined] }
  | { method: 'getData'; args: [path: string, watchId: number | undefined] }
  | { method: 'setData'; args: [path: string, data: Uint8Array, version: number | undefined] }
  | { method: 'delete'; args: [path: string, version: number | undefined] }
  | { method: 'exists'; args: [path: string, watchId: number | undefined] }
  | { method: 'getChildren'; args: [path: string, watchId: number | undefined] }
  | { method: 'getAcl'; args: [path: string] }
  | { method: 'setAcl'; args: [path: string, acl: Acl[], version: number | undefined] }
  | { method: 'getAllChildrenNumber'; args: [path: string] }
  | { method: 'getEphemerals'; args: [prefix: string | undefined] }
  | { method: 'multi'; args: [ops: MultiOp[]] }
  | { method: 'sync'; args: [path: string] }
  | { method: 'addAuth'; args: [scheme: string, auth: Uint8Array | string] }
  | { method: 'addWatch'; args: [path: string, mode: PersistentMode, watchId: number] }
  | { method: 'removeWatches'; args: [path: string, watchId: number, type?: RemoveWatchType] }
  | { method: 'close'; args: [] };

/**
 * A `Stat` as it crosses in the replies of the hot calls: a tuple in the interface's field
 * order. Structured clone of an object with eleven named fields, five of them bigints, cost
 * about three times as much as this tuple (measured), and it dominated the read path.
 */
export type PackedStat = [
  czxid: bigint,
  mzxid: bigint,
  ctime: bigint,
  mtime: bigint,
  version: number,
  cversion: number,
  aversion: number,
  ephemeralOwner: bigint,
  dataLength: number,
  numChildren: number,
  pzxid: bigint,
];

export function packStat(stat: Stat): PackedStat {
  return [
    stat.czxid, stat.mzxid, stat.ctime, stat.mtime, stat.version, stat.cversion,
    stat.aversion, stat.ephemeralOwner, stat.dataLength, stat.numChildren, stat.pzxid,
  ];
}

export function unpackStat(packed: PackedStat): Stat {
  const [czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner] = packed;
  const [, , , , , , , , dataLength, numChildren, pzxid] = packed;
  return {
    czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner,
    dataLength, numChildren, pzxid,
  };
}

/** Reply values of the hot calls, packed (the others cross as the client returns them). */
export interface PackedReplies {
  create: [path: string, stat: PackedStat];
  getData: [data: Uint8Array, stat: PackedStat];
  setData: PackedStat;
  exists: PackedStat | null;
  getChildren: [children: string[], stat: PackedStat];
}

/** Diagnostics and test support: questions answered from inside the worker. */
export type Probe =
  /** Ids of the sessions the replica's tree holds. */
  | { op: 'sessions' }
  /** Watches registered on the replica (all sessions). */
  | { op: 'watchCount' }
  /** The replica's operator status (admin endpoint). */
  | { op: 'status' }
  /** Starts recording every watch event under `path` with the worker's wall time. */
  | { op: 'record'; path: string }
  /** The events recorded so far. */
  | { op: 'recorded' }
  /** Makes the worker die of an uncaught error (crash tests). */
  | { op: 'crash' };

export interface RecordedEvent {
  event: WatchEvent;
  /** `Date.now()` in the worker when the change was applied. */
  atMs: number;
}

/**
 * A client call: the most frequent request, so a bare tuple (named keys would be cloned with
 * every request).
 */
export type CallRequest = [id: number, session: number, call: ClientCall];

/** Main thread -> worker. Requests with an `id` are answered by a `reply` or `fail` item. */
export type HostRequest =
  | { kind: 'connect'; id: number; session: number; sessionTimeoutMs: number; local: boolean }
  | CallRequest
  | {
      kind: 'observe';
      id: number;
      session: number;
      observerId: number;
      path: string;
      observe: ObserveKind;
    }
  | { kind: 'unobserve'; session: number; observerId: number }
  | { kind: 'probe'; id: number; probe: Probe }
  | { kind: 'shutdown'; id: number };

export type LogLevel = 'log' | 'warn' | 'error';

/**
 * A successful reply: the most frequent item, so a bare `[id, value]` pair (named keys would
 * be cloned with every reply; this halves the clone cost of a small reply, measured).
 */
export type Reply = [id: number, value: unknown];

/** Worker -> main thread, in the order the worker produced them. */
export type WorkerItem =
  /** `clientPort`: the port the worker's client port listens on, when one is configured. */
  | { kind: 'opened'; clientPort?: number }
  | { kind: 'openFailed'; error: WireError }
  | Reply
  | { kind: 'fail'; id: number; error: WireError }
  | { kind: 'watch'; session: number; watchId: number; event: WatchEvent }
  /**
   * The worker forgot watch id `watchId`: its listener holds no watch any more. `uses` is how
   * many registering calls with this id the worker had handled, so the client frees the id only
   * if it sent no newer one (which would have made the worker register it again).
   */
  | { kind: 'watchReleased'; session: number; watchId: number; uses: number }
  | { kind: 'observation'; session: number; observerId: number; observation: Observation }
  | { kind: 'sessionEnd'; session: number; state: 'expired' | 'closed' }
  /** The session's connection went `suspended` or back (`reconnected`); `lost` is `sessionEnd`. */
  | { kind: 'connectionState'; session: number; state: 'suspended' | 'reconnected' }
  | { kind: 'replicaFailed'; error: WireError }
  | { kind: 'log'; level: LogLevel; message: string };

/** One posted message: a batch of items or requests. */
export interface Batch<T> {
  batch: T[];
}

/** An error as it crosses the boundary: enough to re-create the same typed class. */
export interface WireError {
  name: string;
  message: string;
  code?: number;
  path?: string;
  /** A KeeperError's detail (its message without the code name and path). */
  detail?: string;
  results?: OpResult[];
  problems?: string[];
  /** Own data fields of storage errors (`file`, `offset`, `directory`, `holderPid`). */
  fields?: Record<string, string | number>;
  stack?: string;
}

/**
 * Collects items produced in one event-loop turn and posts them as one message. `post` must
 * not throw for the items it is given (callers send only cloneable values).
 */
export class Outbox<T> {
  private items: T[] = [];
  private transfer: ArrayBuffer[] = [];
  private scheduled = false;

  constructor(private readonly post: (message: Batch<T>, transfer: ArrayBuffer[]) => void) {}

  push(item: T, transfer?: ArrayBuffer[]): void {
    this.items.push(item);
    if (transfer !== undefined) this.transfer.push(...transfer);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Posts what is queued now (also used before a deliberate exit). */
  flush(): void {
    this.scheduled = false;
    if (this.items.length === 0) return;
    const batch = this.items;
    const transfer = this.transfer;
    this.items = [];
    this.transfer = [];
    this.post({ batch }, transfer);
  }
}

/** Copies caller data into a fresh, transferable ArrayBuffer (see ownership above). */
export function copyForTransfer(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(data);
}

/** A received `Uint8Array` as a Buffer over the same memory (no copy). */
export function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export function toWireError(error: unknown): WireError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const wire: WireError = { name: error.name, message: error.message };
  if (error.stack !== undefined) wire.stack = error.stack;
  if (error instanceof KeeperError) {
    wire.code = error.code;
    if (error.path !== undefined) wire.path = error.path;
    wire.detail = keeperDetail(error);
    if (error instanceof MultiError) wire.results = error.results;
  }
  if (error instanceof ReplicaConfigurationError) wire.problems = error.problems;
  if (error instanceof StorageCorruptionError) {
    wire.fields = { file: error.file, offset: error.offset };
  }
  if (error instanceof StorageLockedError) {
    wire.fields = { directory: error.directory, holderPid: error.holderPid };
  }
  return wire;
}

/** The detail a KeeperError was built with: its message without `Name: ` and ` (path p)`. */
function keeperDetail(error: KeeperError): string {
  let text = error.message;
  const prefix = `${error.codeName}: `;
  if (text.startsWith(prefix)) text = text.slice(prefix.length);
  const suffix = error.path === undefined ? '' : ` (path ${error.path})`;
  if (suffix !== '' && text.endsWith(suffix)) text = text.slice(0, -suffix.length);
  return text;
}

type KeeperErrorClass = new (code: number, path?: string, detail?: string) => KeeperError;

const KEEPER_CLASSES: Record<string, KeeperErrorClass> = {
  KeeperError,
  NoNodeError,
  NodeExistsError,
  BadVersionError,
  NotEmptyError,
  NoChildrenForEphemeralsError,
  InvalidPathError,
  BadArgumentsError,
  SessionExpiredError,
  ConnectionLossError,
  NoWatcherError,
  NoAuthError,
  AuthFailedError,
  InvalidAclError,
};

/** Re-creates the typed error the worker threw; unknown classes become a plain Error. */
export function reviveError(wire: WireError): Error {
  const error = reviveTyped(wire);
  if (wire.stack !== undefined) {
    error.stack = `${error.stack ?? error.message}\n    -- in the replica worker --\n${wire.stack}`;
  }
  return error;
}

function reviveTyped(wire: WireError): Error {
  if (wire.code !== undefined) {
    if (wire.name === 'MultiError') return new MultiError(wire.code, wire.results ?? [], wire.path);
    const Class = KEEPER_CLASSES[wire.name] ?? KeeperError;
    return new Class(wire.code, wire.path, wire.detail);
  }
  switch (wire.name) {
    case 'ReplicaStoppedError':
      return new ReplicaStoppedError(undefined, wire.message);
    case 'ReplicaConfigurationError':
      return new ReplicaConfigurationError(wire.problems ?? [wire.message]);
    case 'RecoveryError':
      return new RecoveryError(wire.message);
    case 'StorageFailedError':
      return new StorageFailedError(wire.message);
    case 'StorageCorruptionError':
      return withFields(StorageCorruptionError.prototype, wire);
    case 'StorageLockedError':
      return withFields(StorageLockedError.prototype, wire);
    default:
      return withFields(Error.prototype, wire);
  }
}

/**
 * An error of a class whose constructor builds its message from fields: the instance is made
 * from the prototype (so `instanceof` holds) and given the worker's name, message and fields.
 */
function withFields(prototype: Error, wire: WireError): Error {
  const error = Object.create(prototype) as Error;
  const own = { writable: true, configurable: true, enumerable: false };
  Object.defineProperty(error, 'name', { ...own, value: wire.name });
  Object.defineProperty(error, 'message', { ...own, value: wire.message });
  Object.defineProperty(error, 'stack', { ...own, value: `${wire.name}: ${wire.message}` });
  Object.assign(error, wire.fields ?? {});
  return error;
}

/**
 * The typed rejection of calls whose replica worker died (pending ones and later ones). The
 * worker's uncaught error, when there was one, is the `cause`.
 */
export class ReplicaWorkerExitedError extends Error {
  override readonly name = 'ReplicaWorkerExitedError';
  constructor(message: string, cause?: Error) {
    super(message, cause === undefined ? undefined : { cause });
  }
}
