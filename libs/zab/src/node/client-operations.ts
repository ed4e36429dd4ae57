/**
 * The operations of the client port, as ZooKeeper's FinalRequestProcessor answers them: one
 * parsed request in, one outcome (result code, zxid, response body) out. Reads are served
 * synchronously from the replica's committed tree, registering any watch in the same step;
 * writes go through `ClientReplica.submit` and are answered once committed and applied here.
 * Nothing in this file touches a socket: the connection (client-connection.ts) orders,
 * frames and sends the outcomes.
 */
import type { SessionId, Zxid } from '../core/ids.js';
import { createModeFromFlag, isSequentialMode, type CreateModeName } from '../state/create-mode.js';
import { ErrorCode } from '../state/error-code.js';
import { KeeperError } from '../state/keeper-error.js';
import { pathProblem } from '../state/path.js';
import type { MultiOpRequest, WriteRequest } from '../state/request.js';
import { Perms, type Acl, type Stat } from '../state/stat.js';
import { redactDigests } from '../state/acl.js';
import type { OpResult } from '../state/tree-view.js';
import { WatchEventTypeCode, type WatchEventType } from '../state/watch-event.js';
import type { WatcherType as RegistryWatcherType } from '../state/watch-registry.js';
import { OpCode } from '../wire/op-code.js';
import type { OperationRequest, OperationResponse } from '../wire/operation.js';
import { AddWatchMode } from '../wire/records/add-watch.js';
import type { MultiOperation, MultiRequest, MultiResult } from '../wire/records/multi.js';
import { WatcherType } from '../wire/records/remove-watches.js';
import type { SetWatches2 } from '../wire/records/set-watches.js';
import type { ClientReplica } from './client-replica.js';
import type { CommittedResult, ReplicaWatcher } from './replica.js';

/** What an operation needs from its connection. */
export interface OperationContext {
  readonly replica: ClientReplica;
  readonly sessionId: SessionId;
  /** The connection: holds this session's watches on this replica. */
  readonly watcher: ReplicaWatcher;
  /** Sends a watch event now (setWatches fires changes the client missed at once). */
  notify(type: WatchEventType, path: string, zxid: Zxid): void;
}

/** A reply before framing: `response` only when `err` is Ok. */
export interface OperationOutcome {
  err: number;
  zxid: Zxid;
  response: OperationResponse | null;
}

type Request<T extends OperationRequest['type']> = Extract<OperationRequest, { type: T }>;

const EMPTY = Buffer.alloc(0);

function fail(code: number, detail: string): KeeperError {
  return new KeeperError(code, undefined, detail);
}

function checkPath(path: string, sequential = false): void {
  const problem = pathProblem(path, sequential);
  if (problem !== null) throw fail(ErrorCode.BadArguments, `invalid path ${path}: ${problem}`);
}

/**
 * True for requests the session's FIFO orders like writes: a read that follows one is served
 * only after it was applied (ZooKeeper's CommitProcessor), so a session reads its own writes.
 */
export function isOrderedLikeWrite(type: number): boolean {
  switch (type) {
    case OpCode.create:
    case OpCode.create2:
    case OpCode.createContainer:
    case OpCode.createTTL:
    case OpCode.delete:
    case OpCode.setData:
    case OpCode.setACL:
    case OpCode.check:
    case OpCode.multi:
    case OpCode.sync:
    case OpCode.closeSession:
      return true;
    default:
      return false;
  }
}

/** Turns a thrown `KeeperError` into its result code; anything else propagates. */
export function outcomeOfError(error: unknown, zxid: Zxid): OperationOutcome {
  if (error instanceof KeeperError) return { err: error.code, zxid, response: null };
  throw error;
}

function ok(zxid: Zxid, response: OperationResponse | null): OperationOutcome {
  return { err: ErrorCode.Ok, zxid, response };
}

/** Serves a request that is not ordered like a write, now. Throws only broken invariants. */
export function serveRead(context: OperationContext, request: OperationRequest): OperationOutcome {
  const zxid = context.replica.tree.lastZxid;
  try {
    return ok(zxid, readResponse(context, request));
  } catch (error) {
    return outcomeOfError(error, zxid);
  }
}

function readResponse(context: OperationContext, request: OperationRequest): OperationResponse | null {
  const { replica } = context;
  switch (request.type) {
    case OpCode.getData: return { type: request.type, body: getData(context, request.body) };
    case OpCode.exists: return { type: request.type, body: { stat: exists(context, request.body) } };
    case OpCode.getChildren: {
      const { children } = getChildren(context, request.body);
      return { type: request.type, body: { children } };
    }
    case OpCode.getChildren2:
      return { type: request.type, body: getChildren(context, request.body) };
    case OpCode.getACL: return { type: request.type, body: getAcl(context, request.body.path) };
    case OpCode.getAllChildrenNumber: {
      const { path } = request.body;
      checkPath(path);
      replica.checkPermission(context.sessionId, path, Perms.Read);
      const totalNumber = replica.tree.getAllChildrenNumber(path);
      if (totalNumber === undefined) throw fail(ErrorCode.NoNode, path);
      return { type: request.type, body: { totalNumber } };
    }
    case OpCode.getEphemerals: {
      const ephemerals = replica.tree.getEphemerals(context.sessionId, request.body.prefixPath);
      return { type: request.type, body: { ephemerals } };
    }
    case OpCode.multiRead: return { type: request.type, body: { results: multiRead(context, request.body) } };
    case OpCode.addWatch: return addWatch(context, request);
    case OpCode.setWatches:
    case OpCode.setWatches2:
      setWatches(context, request.body);
      return null;
    case OpCode.removeWatches:
    case OpCode.checkWatches:
      removeOrCheckWatches(context, request);
      return null;
    case OpCode.ping:
      return null;
    default:
      throw fail(ErrorCode.Unimplemented, `op ${request.type} is not a read`);
  }
}

function getData(
  context: OperationContext, body: { path: string; watch: boolean },
): { data: Buffer; stat: NonNullable<ReturnType<OperationContext['replica']['tree']['stat']>> } {
  checkPath(body.path);
  context.replica.checkPermission(context.sessionId, body.path, Perms.Read);
  const node = context.replica.tree.getData(body.path);
  if (node === undefined) throw fail(ErrorCode.NoNode, body.path);
  if (body.watch) context.replica.watches.add(body.path, 'data', context.watcher);
  return node;
}

/**
 * getACL needs READ or ADMIN; without ADMIN, digest ids come back redacted (`user:x`), as
 * ZooKeeper 3.6+ and LocalCoordinationClient answer.
 */
function getAcl(context: OperationContext, path: string): { acl: Acl[]; stat: Stat } {
  checkPath(path);
  const { replica, sessionId } = context;
  const found = replica.tree.getAcl(path);
  if (found === undefined) throw fail(ErrorCode.NoNode, path);
  replica.checkPermission(sessionId, path, Perms.Read | Perms.Admin);
  try {
    replica.checkPermission(sessionId, path, Perms.Admin);
    return found;
  } catch (error) {
    if (!(error instanceof KeeperError) || error.code !== ErrorCode.NoAuth) throw error;
    return { acl: redactDigests(found.acl), stat: found.stat };
  }
}

function exists(context: OperationContext, body: { path: string; watch: boolean }) {
  checkPath(body.path);
  const stat = context.replica.tree.stat(body.path);
  // ZooKeeper: a watch on a missing node waits for its creation (an exist watch), else it is
  // a data watch; both live in the data table.
  if (body.watch) context.replica.watches.add(body.path, stat === undefined ? 'exists' : 'data', context.watcher);
  if (stat === undefined) throw fail(ErrorCode.NoNode, body.path);
  return stat;
}

function getChildren(context: OperationContext, body: { path: string; watch: boolean }) {
  checkPath(body.path);
  context.replica.checkPermission(context.sessionId, body.path, Perms.Read);
  const children = context.replica.tree.getChildren(body.path);
  const stat = context.replica.tree.stat(body.path);
  if (children === undefined || stat === undefined) throw fail(ErrorCode.NoNode, body.path);
  if (body.watch) context.replica.watches.add(body.path, 'child', context.watcher);
  return { children, stat };
}

/** multiRead: each read on its own; a failed one is an error result, the others still run. */
function multiRead(context: OperationContext, body: MultiRequest): MultiResult[] {
  return body.operations.map((operation): MultiResult => {
    try {
      switch (operation.type) {
        case OpCode.getData:
          return { type: operation.type, body: getData(context, operation.body) };
        case OpCode.getChildren:
          return { type: operation.type, body: { children: getChildren(context, operation.body).children } };
        default:
          return { type: OpCode.error, err: ErrorCode.BadArguments };
      }
    } catch (error) {
      if (error instanceof KeeperError) return { type: OpCode.error, err: error.code };
      throw error;
    }
  });
}

function addWatch(context: OperationContext, request: Request<typeof OpCode.addWatch>): OperationResponse {
  const { path, mode } = request.body;
  checkPath(path);
  context.replica.checkPermission(context.sessionId, path, Perms.Read);
  if (mode === AddWatchMode.persistent) context.replica.watches.add(path, 'persistent', context.watcher);
  else if (mode === AddWatchMode.persistentRecursive) {
    context.replica.watches.add(path, 'persistentRecursive', context.watcher);
  } else throw fail(ErrorCode.BadArguments, `unknown addWatch mode ${mode}`);
  return { type: request.type, body: { err: 0 } };
}

/**
 * ZooKeeper's `DataTree.setWatches`: re-registers the watches a client held before it
 * reconnected, first firing at once those whose node changed after `relativeZxid` (the last
 * zxid the client saw): data watch → NodeDeleted or NodeDataChanged, exist watch →
 * NodeCreated, child watch → NodeDeleted or NodeChildrenChanged. Persistent ones are added.
 */
function setWatches(context: OperationContext, body: SetWatches2 | Omit<SetWatches2, 'persistentWatches' | 'persistentRecursiveWatches'>): void {
  const { replica, watcher } = context;
  const tree = replica.tree;
  const zxid = tree.lastZxid;
  const relative = body.relativeZxid;
  for (const path of body.dataWatches) {
    const stat = tree.stat(path);
    if (stat === undefined) context.notify('deleted', path, zxid);
    else if (stat.mzxid > relative) context.notify('dataChanged', path, zxid);
    else replica.watches.add(path, 'data', watcher);
  }
  for (const path of body.existWatches) {
    if (tree.stat(path) !== undefined) context.notify('created', path, zxid);
    else replica.watches.add(path, 'exists', watcher);
  }
  for (const path of body.childWatches) {
    const stat = tree.stat(path);
    if (stat === undefined) context.notify('deleted', path, zxid);
    else if (stat.pzxid > relative) context.notify('childrenChanged', path, zxid);
    else replica.watches.add(path, 'child', watcher);
  }
  if ('persistentWatches' in body) {
    for (const path of body.persistentWatches) replica.watches.add(path, 'persistent', watcher);
    for (const path of body.persistentRecursiveWatches) {
      replica.watches.add(path, 'persistentRecursive', watcher);
    }
  }
}

const WATCHER_TYPES = new Map<number, RegistryWatcherType>([
  [WatcherType.children, 'children'],
  [WatcherType.data, 'data'],
  [WatcherType.any, 'any'],
  [WatcherType.persistent, 'persistent'],
  [WatcherType.persistentRecursive, 'persistentRecursive'],
]);

function removeOrCheckWatches(
  context: OperationContext,
  request: Request<typeof OpCode.removeWatches | typeof OpCode.checkWatches>,
): void {
  const { path, type } = request.body;
  checkPath(path);
  const kind = WATCHER_TYPES.get(type);
  if (kind === undefined) throw fail(ErrorCode.BadArguments, `unknown watcher type ${type}`);
  const found = request.type === OpCode.removeWatches
    ? context.replica.watches.remove(path, kind, context.watcher)
    : context.replica.watches.has(path, kind, context.watcher);
  if (!found) throw new KeeperError(ErrorCode.NoWatcher, path);
}

/** ZooKeeper's wire event code for a tree event type. */
export function eventTypeCode(type: WatchEventType): number {
  return WatchEventTypeCode[type];
}

// ---- writes ----

/**
 * Serves a write (or sync): resolves once it was committed and applied on this replica. Not
 * an async function: a write (the hot path) costs the replica's promise and one `then`.
 */
export function serveWrite(
  context: OperationContext, cxid: number, request: OperationRequest,
): Promise<OperationOutcome> {
  const { replica } = context;
  if (request.type === OpCode.sync) return serveSync(context, request.body.path);
  let write: WriteRequest;
  try {
    write = toWriteRequest(request);
  } catch (error) {
    if (error instanceof MultiOpRejected) {
      return Promise.resolve(ok(replica.tree.lastZxid, error.response));
    }
    return Promise.resolve(outcomeOfError(error, replica.tree.lastZxid));
  }
  let submitted: Promise<CommittedResult>;
  try {
    submitted = replica.submit(context.sessionId, cxid, write);
  } catch (error) {
    return Promise.reject(error); // as the async function did: a rejection, never a throw
  }
  return submitted.then((result) => {
    if (result.code !== ErrorCode.Ok && request.type !== OpCode.multi) {
      return { err: result.code, zxid: result.zxid, response: null };
    }
    return ok(result.zxid, writeResponse(request, result));
  });
}

async function serveSync(context: OperationContext, path: string): Promise<OperationOutcome> {
  const { replica } = context;
  try {
    checkPath(path);
    await replica.barrier();
    return ok(replica.tree.lastZxid, { type: OpCode.sync, body: { path } });
  } catch (error) {
    // A sync that lost its leader: ConnectionLoss is no result code (ZooKeeper never sends
    // it); thrown, it closes the connection like a lost write, and the client resends the sync.
    if (error instanceof KeeperError && error.code === ErrorCode.ConnectionLoss) throw error;
    return outcomeOfError(error, replica.tree.lastZxid);
  }
}

function toWriteRequest(request: OperationRequest): WriteRequest {
  switch (request.type) {
    case OpCode.create:
    case OpCode.create2:
    case OpCode.createContainer:
    case OpCode.createTTL:
      return toCreate(request);
    case OpCode.delete:
      checkPath(request.body.path);
      return { op: 'delete', path: request.body.path, version: request.body.version };
    case OpCode.setData:
      checkPath(request.body.path);
      return { op: 'setData', path: request.body.path, data: dataOf(request.body.data), version: request.body.version };
    case OpCode.setACL:
      checkPath(request.body.path);
      return { op: 'setACL', path: request.body.path, acl: request.body.acl, version: request.body.version };
    case OpCode.check:
      checkPath(request.body.path);
      return { op: 'check', path: request.body.path, version: request.body.version };
    case OpCode.multi:
      return { op: 'multi', ops: toMultiOps(request.body.operations) };
    default:
      throw fail(ErrorCode.Unimplemented, `op ${request.type} is not a write`);
  }
}

/**
 * The request's data, not copied: it is a view into a socket chunk (or a frame buffer) that
 * nothing writes again (every socket read gets a new chunk), and the write holds it only
 * until the leader encodes it into a txn or the follower into the forwarded request; the tree
 * keeps its own copy. A copy here would be one more Buffer per write.
 */
function dataOf(data: Buffer | null): Buffer {
  return data === null ? EMPTY : data;
}

type CreateLike = Extract<OperationRequest | MultiOperation, { type: 1 | 15 | 19 | 21 }>;

/**
 * The create family: the mode comes from the flags; createContainer must carry the container
 * flag, createTTL a TTL flag and a TTL, and the other ops no TTL flag (ZooKeeper answers each
 * mismatch BadArguments).
 */
function toCreate(request: CreateLike): WriteRequest & MultiOpRequest {
  const { path, data, acl, flags } = request.body;
  const mode: CreateModeName | undefined = createModeFromFlag(flags);
  if (mode === undefined) throw fail(ErrorCode.BadArguments, `unknown create flags ${flags}`);
  const isTtl = mode === 'ttl' || mode === 'persistent_sequential_ttl';
  if ((request.type === OpCode.createContainer) !== (mode === 'container')) {
    throw fail(ErrorCode.BadArguments, `create mode ${mode} does not fit op ${request.type}`);
  }
  if ((request.type === OpCode.createTTL) !== isTtl) {
    throw fail(ErrorCode.BadArguments, `create mode ${mode} does not fit op ${request.type}`);
  }
  checkPath(path, isSequentialMode(mode));
  const create: WriteRequest & MultiOpRequest = { op: 'create', path, data: dataOf(data), acl, mode };
  if (request.type === OpCode.createTTL) create.ttlMs = Number(request.body.ttl);
  return create;
}

/**
 * An op of a multi failed validation before submission: the multi is answered as ZooKeeper
 * answers a failed one (reply err 0; the ops before it Ok, it its code, the ops after it
 * RuntimeInconsistency), and nothing is submitted.
 */
class MultiOpRejected extends Error {
  readonly response: OperationResponse;
  constructor(count: number, index: number, code: number) {
    super(`multi op ${index} rejected with ${code}`);
    const results: MultiResult[] = Array.from({ length: count }, (_, i) => ({ type: OpCode.error,
      err: i < index ? ErrorCode.Ok : i === index ? code : ErrorCode.RuntimeInconsistency }));
    this.response = { type: OpCode.multi, body: { results } };
  }
}

function toMultiOps(operations: MultiOperation[]): MultiOpRequest[] {
  return operations.map((operation, index) => {
    try {
      return toMultiOp(operation);
    } catch (error) {
      if (error instanceof KeeperError) throw new MultiOpRejected(operations.length, index, error.code);
      throw error;
    }
  });
}

function toMultiOp(operation: MultiOperation): MultiOpRequest {
  switch (operation.type) {
    case OpCode.create:
    case OpCode.create2:
    case OpCode.createContainer:
    case OpCode.createTTL:
      return toCreate(operation);
    case OpCode.delete:
      checkPath(operation.body.path);
      return { op: 'delete', path: operation.body.path, version: operation.body.version };
    case OpCode.setData:
      checkPath(operation.body.path);
      return { op: 'setData', path: operation.body.path, data: dataOf(operation.body.data),
        version: operation.body.version };
    case OpCode.check:
      checkPath(operation.body.path);
      return { op: 'check', path: operation.body.path, version: operation.body.version };
    default:
      throw fail(ErrorCode.BadArguments, `op ${operation.type} is not allowed in multi`);
  }
}

function writeResponse(
  request: OperationRequest,
  result: { path?: string; stat?: Stat; results?: OpResult[] },
): OperationResponse | null {
  switch (request.type) {
    case OpCode.create: return { type: request.type, body: { path: result.path! } };
    case OpCode.create2:
    case OpCode.createContainer:
    case OpCode.createTTL:
      return { type: request.type, body: { path: result.path!, stat: result.stat! } };
    case OpCode.setData:
    case OpCode.setACL:
      return { type: request.type, body: { stat: result.stat! } };
    case OpCode.multi:
      return { type: request.type, body: { results: multiResults(request.body.operations, result.results ?? []) } };
    default:
      return null;
  }
}

/** Per-op results as ZooKeeper sends them; each create answers in its own op's shape. */
function multiResults(operations: MultiOperation[], results: OpResult[]): MultiResult[] {
  return results.map((result, index): MultiResult => {
    const operation = operations[index];
    if (result.type === 'error' || result.code !== ErrorCode.Ok || operation === undefined) {
      return { type: OpCode.error, err: result.code };
    }
    switch (operation.type) {
      case OpCode.create: return { type: OpCode.create, body: { path: result.path! } };
      case OpCode.create2:
      case OpCode.createContainer:
      case OpCode.createTTL:
        return { type: operation.type, body: { path: result.path!, stat: result.stat! } };
      case OpCode.setData: return { type: OpCode.setData, body: { stat: result.stat! } };
      case OpCode.delete: return { type: OpCode.delete, body: null };
      case OpCode.check: return { type: OpCode.check, body: null };
      default: return { type: OpCode.error, err: ErrorCode.BadArguments };
    }
  });
}
