/**
 * The leader's request preparer (ZooKeeper's `PrepRequestProcessor`): validates a client
 * write request and turns it into a transaction whose every value is resolved, or into an
 * `error` transaction carrying ZooKeeper's result code.
 *
 * Pipelining. The driver prepares requests z+1, z+2, ... before any of them is applied, so
 * validation must see the effect of every prepared-but-unapplied transaction. Like
 * ZooKeeper's `outstandingChanges`, the preparer keeps an overlay of change records (the
 * latest state of each touched path and session, tagged with the zxid that wrote it),
 * consulted before the committed tree. `committed(zxid)` drops records at or below zxid once
 * the tree has applied them. The overlay must be invisible: preparing a stream of requests
 * pipelined gives the same transactions as preparing each one after the previous one was
 * applied (property-tested in request-preparer.spec.ts).
 *
 * Every request is all-or-nothing: its changes are staged in a scratch layer and merged into
 * the overlay only when the whole request (every op of a multi) succeeded. This replaces
 * ZooKeeper's `rollbackPendingChanges` with something that cannot leave a stale record.
 *
 * Deliberate differences from ZooKeeper, each for a reason:
 * - Path validity is checked first: ZooKeeper's client rejects bad paths before sending, so
 *   a ZooKeeper client sees BadArguments-class failures before any server-side check.
 * - Data larger than `dataBytesMax` is BadArguments (ZooKeeper drops the oversized packet
 *   at the connection; the embedded client has no packet to drop).
 * - A request from a session that is unknown or already closing is SessionExpired
 *   (ZooKeeper's `checkSession` says UnknownSession for a session it never knew, but its
 *   connection layer already turns those into an expired-session reply).
 * - ACLs (acl.ts): each request carries the identities its session proved on the replica
 *   that took it; create checks CREATE on the parent, delete DELETE on the parent, setData
 *   WRITE, setACL ADMIN, check (in a multi) READ, each in ZooKeeper's order relative to the
 *   other checks. Internal requests (session 0: sweeps, session ends) are not checked.
 * - `deleteContainer` / `deleteExpiredTtl` recheck everything the sweeper saw, against the
 *   overlay, since the sweeper looked at an older tree (ZooKeeper's ContainerManager checks
 *   only the committed tree and the preparer only "not a normal ephemeral").
 */
import type { SessionId, Zxid } from '../core/ids.js';
import { invariantFailed } from '../util/assert.js';
import { isCreateModeName, isSequentialMode, kindOfMode, TTL_MS_MAX } from './create-mode.js';
import { ErrorCode } from './error-code.js';
import { isValidPath, parentOf } from './path.js';
import type {
  CloseSessionRequest,
  CreateRequest,
  DeleteContainerRequest,
  DeleteExpiredTtlRequest,
  DeleteRequest,
  MultiOpRequest,
  MultiRequest,
  SetAclRequest,
  SetDataRequest,
  CheckRequest,
  WriteRequest,
} from './request.js';
import { fixupAcl, isPermitted, type AuthId } from './acl.js';
import { Perms, type Acl } from './stat.js';
import type { NodeState, TreeView } from './tree-view.js';
import type { MultiOpTxn, Txn, TxnBody, TxnHeader } from './txn.js';

export { fixupAcl } from './acl.js';

/** Default largest node data, 1 MiB (ZooKeeper's `jute.maxbuffer` is 0xfffff). */
export const DATA_BYTES_MAX_DEFAULT = 1048576;

/**
 * Paths ZooKeeper refuses to delete (`DataTree.isSpecialPath`): the root and the system
 * nodes it creates itself.
 */
const SPECIAL_PATHS: ReadonlySet<string> = new Set([
  '/', '/zookeeper', '/zookeeper/quota', '/zookeeper/config',
]);

export interface RequestPreparerOptions {
  /** Largest node data in bytes accepted by create and setData; default 1 MiB. */
  dataBytesMax?: number;
  /**
   * Largest whole request (all values of a multi, paths and ACL text together), like
   * ZooKeeper's jute.maxbuffer on a request packet; default dataBytesMax + 64 KiB.
   */
  requestBytesMax?: number;
}

const REQUEST_HEADROOM_BYTES = 64 * 1024;

/** Approximate encoded size of a request: values, paths and ACL text (UTF-16 bound x3). */
function requestBytes(request: WriteRequest): number {
  const record = request as unknown as Record<string, unknown>;
  let bytes = typeof record.path === 'string' ? record.path.length * 3 : 0;
  if (record.data instanceof Uint8Array) bytes += record.data.length;
  if (Array.isArray(record.acl)) {
    for (const entry of record.acl as unknown[]) {
      const { scheme, id } = (entry ?? {}) as Record<string, unknown>;
      bytes += 4 + (typeof scheme === 'string' ? scheme.length * 3 : 0) +
        (typeof id === 'string' ? id.length * 3 : 0);
    }
  }
  if (request.op === 'multi' && Array.isArray(request.ops)) {
    for (const op of request.ops) bytes += requestBytes(op);
  }
  return bytes;
}

/** One overlay entry: the state of `key` written by the txn `zxid` (null = deleted/closed). */
interface ChangeRecord<K, V> {
  readonly zxid: Zxid;
  readonly key: K;
  readonly value: V;
}

/**
 * Latest-write-wins records in zxid order: ZooKeeper's `outstandingChanges` list plus
 * `outstandingChangesForPath` map. Records are appended in increasing zxid order, so
 * dropping committed ones is a walk from the front.
 */
class ChangeLog<K, V> {
  private readonly latest = new Map<K, ChangeRecord<K, V>>();
  private queue: ChangeRecord<K, V>[] = [];
  private head = 0;

  get size(): number {
    return this.queue.length - this.head;
  }

  get(key: K): ChangeRecord<K, V> | undefined {
    return this.latest.get(key);
  }

  entries(): IterableIterator<ChangeRecord<K, V>> {
    return this.latest.values();
  }

  add(zxid: Zxid, key: K, value: V): void {
    const record = { zxid, key, value };
    this.queue.push(record);
    this.latest.set(key, record);
  }

  /** Drops records written by txns at or below `zxid`, which the tree now reflects. */
  dropThrough(zxid: Zxid): void {
    while (this.head < this.queue.length && this.queue[this.head]!.zxid <= zxid) {
      const record = this.queue[this.head]!;
      if (this.latest.get(record.key) === record) this.latest.delete(record.key);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  clear(): void {
    this.latest.clear();
    this.queue = [];
    this.head = 0;
  }
}

/** A failed validation: becomes an `error` txn with ZooKeeper's code. */
class Rejection {
  constructor(readonly code: number) {}
}

function reject(code: number): never {
  throw new Rejection(code);
}

/**
 * The version after a write: current + 1, wrapping like a Java int and skipping -1
 * (ZOOKEEPER-4743), because -1 means "any version" to clients.
 */
export function nextVersion(current: number): number {
  const next = (current + 1) | 0;
  return next === -1 ? 0 : next;
}

/** ZooKeeper's `checkAndIncVersion`: BadVersion unless `expected` is -1 or the current one. */
function checkAndIncrementVersion(current: number, expected: number): number {
  if (expected !== -1 && expected !== current) reject(ErrorCode.BadVersion);
  return nextVersion(current);
}

/** The sequential suffix: Java's `String.format("%010d", counter)` for a signed int. */
export function sequenceSuffix(counter: number): string {
  if (counter < 0) return '-' + String(-counter).padStart(9, '0');
  return String(counter).padStart(10, '0');
}

/**
 * The staged changes of one request, read through to the overlay and the committed tree.
 * Merged into the overlay only if the whole request succeeds.
 */
class Scratch {
  readonly nodes = new Map<string, NodeState | null>();
  readonly sessions = new Map<SessionId, boolean>();
  /** The identities of the request being prepared (set by `begin`). */
  private identities: readonly AuthId[] = [];

  constructor(private readonly preparer: RequestPreparer) {}

  /** Starts a request: one scratch serves every `prepare` (no maps allocated per request). */
  begin(identities: readonly AuthId[]): void {
    // clear() allocates a new table even for an empty map.
    if (this.nodes.size > 0) this.nodes.clear();
    if (this.sessions.size > 0) this.sessions.clear();
    this.identities = identities;
  }

  node(path: string): NodeState | undefined {
    const staged = this.nodes.get(path);
    if (staged !== undefined) return staged ?? undefined;
    return this.preparer.outstandingNode(path);
  }

  discard(): void {
    this.nodes.clear();
    this.sessions.clear();
  }

  existing(path: string): NodeState {
    return this.node(path) ?? reject(ErrorCode.NoNode);
  }

  /** True if the session exists and no closeSession for it was prepared. */
  isSessionLive(sessionId: SessionId): boolean {
    return this.sessions.get(sessionId) ?? this.preparer.isSessionLive(sessionId);
  }

  /** ZooKeeper's `checkACL`: NoAuth unless the request's identities grant `permission`. */
  checkAcl(node: NodeState, permission: number): void {
    if (!isPermitted(node.acl, permission, this.identities)) reject(ErrorCode.NoAuth);
  }

  /** ZooKeeper's `fixupACL` with this request's identities. */
  fixupAcl(acl: readonly Acl[]): Acl[] {
    return fixupAcl(acl, this.identities) ?? reject(ErrorCode.InvalidAcl);
  }

  /** ZooKeeper's `checkSession`; internal requests (session 0) carry no session. */
  checkSession(sessionId: SessionId): void {
    if (sessionId !== 0n && !this.isSessionLive(sessionId)) reject(ErrorCode.SessionExpired);
  }
}

export class RequestPreparer {
  private readonly dataBytesMax: number;
  private readonly requestBytesMax: number;
  private readonly nodeChanges = new ChangeLog<string, NodeState | null>();
  /** true = created (live), false = closing or closed. */
  private readonly sessionChanges = new ChangeLog<SessionId, boolean>();
  /** The overlay is ordered by zxid, so headers must come in increasing zxid order. */
  private lastPreparedZxid: Zxid = 0n;
  private readonly scratch = new Scratch(this);

  constructor(
    private readonly tree: TreeView,
    options: RequestPreparerOptions = {},
  ) {
    this.dataBytesMax = options.dataBytesMax ?? DATA_BYTES_MAX_DEFAULT;
    this.requestBytesMax = options.requestBytesMax ?? this.dataBytesMax + REQUEST_HEADROOM_BYTES;
  }

  /**
   * Change records not yet dropped by `committed` (ZooKeeper's `outstandingChanges.size()`):
   * one per touched path or session per txn, so a create counts 2 (node and parent).
   */
  get outstandingCount(): number {
    return this.nodeChanges.size + this.sessionChanges.size;
  }

  /**
   * Validates `request` against the tree plus every earlier prepared txn and returns its
   * txn. Never throws for bad input: failures are `error` txns (multi: see txn.ts).
   * Header zxids must increase from call to call. Buffer ownership: create/setData txns
   * share the request's `data` buffer; the caller must not modify it afterwards.
   * `identities` are what the request's session authenticated as (addAuth) on the replica
   * that took it; none means `world:anyone` only.
   */
  prepare(request: WriteRequest, header: TxnHeader, identities: readonly AuthId[] = []): Txn {
    if (!(header.zxid > this.lastPreparedZxid)) {
      invariantFailed(`zxid ${header.zxid} prepared after ${this.lastPreparedZxid}`);
    }
    this.lastPreparedZxid = header.zxid;
    const scratch = this.scratch;
    scratch.begin(identities);
    let body: TxnBody;
    try {
      if (requestBytes(request) > this.requestBytesMax) reject(ErrorCode.BadArguments);
      body = this.prepareBody(request, header, scratch);
    } catch (thrown) {
      if (!(thrown instanceof Rejection)) throw thrown;
      return { header, body: { type: 'error', code: thrown.code } };
    }
    this.merge(scratch, header.zxid);
    return { header, body };
  }

  /** The txn `zxid` (and every earlier one) was applied to the tree. */
  committed(zxid: Zxid): void {
    this.nodeChanges.dropThrough(zxid);
    this.sessionChanges.dropThrough(zxid);
  }

  /** Forgets every outstanding change (leadership lost; prepared txns will not commit). */
  reset(): void {
    this.nodeChanges.clear();
    this.sessionChanges.clear();
    this.lastPreparedZxid = 0n;
  }

  /**
   * Latest state of `path`: the overlay if it has a record, else the committed tree.
   * Internal to this module (used by `Scratch`).
   */
  outstandingNode(path: string): NodeState | undefined {
    const record = this.nodeChanges.get(path);
    if (record !== undefined) return record.value ?? undefined;
    return this.tree.nodeState(path);
  }

  /** True if the session exists and no closeSession for it was prepared. */
  isSessionLive(sessionId: SessionId): boolean {
    return this.sessionChanges.get(sessionId)?.value ?? this.tree.hasSession(sessionId);
  }

  private merge(scratch: Scratch, zxid: Zxid): void {
    for (const [path, state] of scratch.nodes) this.nodeChanges.add(zxid, path, state);
    for (const [sessionId, live] of scratch.sessions) {
      this.sessionChanges.add(zxid, sessionId, live);
    }
  }

  private prepareBody(request: WriteRequest, header: TxnHeader, scratch: Scratch): TxnBody {
    switch (request.op) {
      case 'create':
      case 'delete':
      case 'setData':
        return this.prepareOp(request, header, scratch);
      case 'check':
        // ZOOKEEPER-2623 (3.8.5+): a check outside a multi is not a valid request type.
        return reject(ErrorCode.Unimplemented);
      case 'setACL':
        return this.prepareSetAcl(request, header, scratch);
      case 'multi':
        return this.prepareMulti(request, header, scratch);
      case 'createSession':
        if (!Number.isInteger(request.timeoutMs) || request.timeoutMs <= 0) {
          reject(ErrorCode.BadArguments);
        }
        scratch.sessions.set(header.sessionId, true);
        return { type: 'createSession', timeoutMs: request.timeoutMs };
      case 'closeSession':
        return this.prepareCloseSession(request, header, scratch);
      case 'deleteContainer':
      case 'deleteExpiredTtl':
        return this.prepareSweep(request, header, scratch);
      default:
        // Requests come from clients: an unknown op is bad input, never a broken invariant.
        return reject(ErrorCode.Unimplemented);
    }
  }

  private prepareOp(request: MultiOpRequest, header: TxnHeader, scratch: Scratch): MultiOpTxn {
    switch (request.op) {
      case 'create':
        return this.prepareCreate(request, header, scratch);
      case 'delete':
        return this.prepareDelete(request, header, scratch);
      case 'setData':
        return this.prepareSetData(request, header, scratch);
      case 'check':
        return this.prepareCheck(request, header, scratch);
      default:
        return reject(ErrorCode.Unimplemented);
    }
  }

  /**
   * Multi: ops run in order against one scratch layer (each sees the ones before it). On
   * the first failure every op becomes an `error` txn: earlier ones Ok, the failing one its
   * code, later ones RuntimeInconsistency; the staged changes are discarded.
   */
  private prepareMulti(request: MultiRequest, header: TxnHeader, scratch: Scratch): TxnBody {
    if (!Array.isArray(request.ops)) reject(ErrorCode.BadArguments);
    const txns: MultiOpTxn[] = [];
    for (let index = 0; index < request.ops.length; index++) {
      try {
        txns.push(this.prepareOp(request.ops[index]!, header, scratch));
      } catch (thrown) {
        if (!(thrown instanceof Rejection)) throw thrown;
        scratch.discard();
        const codes = request.ops.map((_, other) =>
          other < index ? ErrorCode.Ok : other === index ? thrown.code
            : ErrorCode.RuntimeInconsistency);
        return { type: 'multi', txns: codes.map((code) => ({ type: 'error', code })) };
      }
    }
    return { type: 'multi', txns };
  }

  private checkData(data: Buffer): void {
    if (!(data instanceof Uint8Array) || data.length > this.dataBytesMax) {
      reject(ErrorCode.BadArguments);
    }
  }

  /** ZooKeeper's `EphemeralType.validateTTL`: TTL modes need 0 < ttl <= max, others none. */
  private checkTtl(request: CreateRequest): number {
    const kind = kindOfMode(request.mode);
    const ttlMs = request.ttlMs;
    if (kind === 'ttl') {
      if (ttlMs === undefined || !Number.isInteger(ttlMs) || ttlMs <= 0 || ttlMs > TTL_MS_MAX) {
        reject(ErrorCode.BadArguments);
      }
      return ttlMs;
    }
    if (ttlMs !== undefined && ttlMs >= 0) reject(ErrorCode.BadArguments);
    return 0;
  }

  private prepareCreate(request: CreateRequest, header: TxnHeader, scratch: Scratch): MultiOpTxn {
    if (!isCreateModeName(request.mode)) reject(ErrorCode.BadArguments);
    const sequential = isSequentialMode(request.mode);
    if (!isValidPath(request.path, sequential)) reject(ErrorCode.BadArguments);
    this.checkData(request.data);
    const ttlMs = this.checkTtl(request);
    scratch.checkSession(header.sessionId);
    const kind = kindOfMode(request.mode);
    if (kind === 'ephemeral' && header.sessionId === 0n) reject(ErrorCode.SessionExpired);
    const acl = scratch.fixupAcl(request.acl);
    if (!sequential && request.path === '/') reject(ErrorCode.NodeExists);
    const parentPath = parentOf(sequential ? request.path + '0' : request.path);
    const parent = scratch.existing(parentPath);
    scratch.checkAcl(parent, Perms.Create);
    const path = sequential ? request.path + sequenceSuffix(parent.cversion) : request.path;
    if (!isValidPath(path)) reject(ErrorCode.BadArguments);
    if (scratch.node(path) !== undefined) reject(ErrorCode.NodeExists);
    if (parent.kind === 'ephemeral') reject(ErrorCode.NoChildrenForEphemerals);
    const parentCVersion = (parent.cversion + 1) | 0;
    const ephemeralOwner = kind === 'ephemeral' ? header.sessionId : 0n;
    scratch.nodes.set(parentPath, {
      ...parent, cversion: parentCVersion, childCount: parent.childCount + 1,
    });
    scratch.nodes.set(path, {
      kind, ttlMs, ephemeralOwner, version: 0, cversion: 0, aversion: 0,
      mtime: header.time, childCount: 0, acl,
    });
    return {
      type: 'create', path, data: request.data, acl, kind, ephemeralOwner, ttlMs, parentCVersion,
    };
  }

  /** Removes `path` in the scratch layer and decrements its parent's child count. */
  private stageDelete(path: string, scratch: Scratch): void {
    const parentPath = parentOf(path);
    const parent = scratch.existing(parentPath);
    scratch.nodes.set(parentPath, { ...parent, childCount: parent.childCount - 1 });
    scratch.nodes.set(path, null);
  }

  private prepareDelete(request: DeleteRequest, header: TxnHeader, scratch: Scratch): MultiOpTxn {
    if (!isValidPath(request.path)) reject(ErrorCode.BadArguments);
    scratch.checkSession(header.sessionId);
    if (SPECIAL_PATHS.has(request.path)) reject(ErrorCode.BadArguments);
    scratch.checkAcl(scratch.existing(parentOf(request.path)), Perms.Delete);
    const node = scratch.existing(request.path);
    checkAndIncrementVersion(node.version, request.version);
    if (node.childCount > 0) reject(ErrorCode.NotEmpty);
    this.stageDelete(request.path, scratch);
    return { type: 'delete', path: request.path };
  }

  private prepareSetData(request: SetDataRequest, header: TxnHeader, scratch: Scratch): MultiOpTxn {
    if (!isValidPath(request.path)) reject(ErrorCode.BadArguments);
    this.checkData(request.data);
    scratch.checkSession(header.sessionId);
    const node = scratch.existing(request.path);
    scratch.checkAcl(node, Perms.Write);
    const version = checkAndIncrementVersion(node.version, request.version);
    scratch.nodes.set(request.path, { ...node, version, mtime: header.time });
    return { type: 'setData', path: request.path, data: request.data, version };
  }

  /**
   * Check (inside a multi): like ZooKeeper, the txn carries the version `checkAndIncVersion`
   * returns (current + 1); it changes nothing when applied.
   */
  private prepareCheck(request: CheckRequest, header: TxnHeader, scratch: Scratch): MultiOpTxn {
    if (!isValidPath(request.path)) reject(ErrorCode.BadArguments);
    scratch.checkSession(header.sessionId);
    const node = scratch.existing(request.path);
    scratch.checkAcl(node, Perms.Read);
    const version = checkAndIncrementVersion(node.version, request.version);
    return { type: 'check', path: request.path, version };
  }

  private prepareSetAcl(request: SetAclRequest, header: TxnHeader, scratch: Scratch): TxnBody {
    if (!isValidPath(request.path)) reject(ErrorCode.BadArguments);
    scratch.checkSession(header.sessionId);
    const acl = scratch.fixupAcl(request.acl);
    const node = scratch.existing(request.path);
    scratch.checkAcl(node, Perms.Admin);
    const version = checkAndIncrementVersion(node.aversion, request.version);
    scratch.nodes.set(request.path, { ...node, aversion: version, acl });
    return { type: 'setACL', path: request.path, acl, version };
  }

  /**
   * closeSession: never fails (ZooKeeper does not check the session, so a client close
   * racing the expirer's close both succeed). Stages the deletion of every ephemeral the
   * session owns, committed or outstanding, so later requests see them gone, and marks the
   * session closing so its later requests fail with SessionExpired.
   */
  private prepareCloseSession(
    _request: CloseSessionRequest,
    header: TxnHeader,
    scratch: Scratch,
  ): TxnBody {
    const sessionId = header.sessionId;
    const candidates = new Set(this.tree.ephemeralsOf(sessionId));
    for (const record of this.nodeChanges.entries()) {
      if (record.value?.ephemeralOwner === sessionId) candidates.add(record.key);
    }
    for (const path of [...candidates].sort()) {
      const node = scratch.node(path);
      if (node?.kind === 'ephemeral' && node.ephemeralOwner === sessionId) {
        this.stageDelete(path, scratch);
      }
    }
    if (sessionId !== 0n) scratch.sessions.set(sessionId, false);
    return { type: 'closeSession' };
  }

  /**
   * The sweeper's internal deletes. The node must still be what the sweeper saw: NoNode if
   * gone, NotEmpty if it has children, BadVersion (ZooKeeper's code for "not a container or
   * TTL node") if it is another kind, was never used (container with cversion 0) or was
   * modified within its TTL.
   */
  private prepareSweep(
    request: DeleteContainerRequest | DeleteExpiredTtlRequest,
    header: TxnHeader,
    scratch: Scratch,
  ): TxnBody {
    if (!isValidPath(request.path)) reject(ErrorCode.BadArguments);
    if (SPECIAL_PATHS.has(request.path)) reject(ErrorCode.BadArguments);
    const node = scratch.existing(request.path);
    if (node.childCount > 0) reject(ErrorCode.NotEmpty);
    if (request.op === 'deleteContainer') {
      if (node.kind !== 'container' || node.cversion <= 0) reject(ErrorCode.BadVersion);
    } else if (node.kind !== 'ttl' || !(header.time - node.mtime > BigInt(node.ttlMs))) {
      reject(ErrorCode.BadVersion);
    }
    this.stageDelete(request.path, scratch);
    return { type: 'delete', path: request.path };
  }
}
