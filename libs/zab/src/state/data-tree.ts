/**
 * The replicated data tree (ZooKeeper's `DataTree`): znodes, their stats, data and ACLs, the
 * sessions and their ephemerals. `apply(txn)` is total and deterministic: the same log gives the
 * same tree, the same results and the same watch events on every replica.
 *
 * Memory layout (a benchmark holds 1M znodes; measured ~145 bytes per znode beyond its path
 * string and data):
 * - a struct-of-arrays node table indexed by a small int id: `longs` (BigInt64Array, stride 5:
 *   czxid, mzxid, pzxid, ctime, mtime) with an Int32Array view for hashing without bigints, and
 *   `ints` (Int32Array, stride 11: parent, version, cversion, aversion, dataLength, ACL id, slab,
 *   region offset, hash low, hash high, kind); ids are recycled through a free list;
 * - an open-addressing `PathIndex` (path-index.ts) for lookups and `paths[id]` for the reverse;
 *   child sets (`Set<id>`) exist only for nodes that have children; child names are derived
 *   from the child paths;
 * - side maps for the rare cases: ephemeral owners, TTLs, containers;
 * - data in an append-only slab arena (slab-arena.ts); ACLs in a reference-counted cache
 *   (acl-cache.ts).
 *
 * Broken invariants: transactions come validated from the leader, so a transaction that does
 * not fit the tree (create under a missing parent, delete of a missing or non-empty node, ...)
 * means the replica's state or the log is wrong, and `apply` asserts (the replica fail-stops).
 * ZooKeeper tolerates such misfits only because its snapshots are fuzzy and replay re-applies
 * transactions already in the snapshot; ours are exact, so nothing is tolerated on purpose
 * except: `createSession` for a live session updates its timeout (ZooKeeper's `commitSession`
 * overwrites), and `closeSession` of an unknown session deletes nothing and succeeds (as
 * ZooKeeper's `killSession`).
 *
 * Choices to know about:
 * - delete moves only the parent's pzxid, not its cversion (ZooKeeper 3.5+; 3.4 also bumped
 *   cversion), so sequential counters count creates. create sets the parent's cversion to the
 *   txn's parentCVersion unconditionally (ZooKeeper only raises it, to survive fuzzy replay).
 * - the stat's ephemeralOwner uses ZooKeeper's encodings: the session for ephemerals,
 *   Long.MIN_VALUE for containers, 0xFF << 56 | ttl for TTL nodes (what ZooKeeper clients see).
 * - the digest sums a 64-bit hash per znode (path, kind, ephemeralOwner, the five zxids and
 *   times, the three versions, the ACL list content, the data) and per session (id, timeout).
 */
import type { SessionId, Zxid } from '../core/ids.js';
import { JuteDecodeError } from '../jute/jute-error.js';
import { JuteReader } from '../jute/jute-reader.js';
import { JuteWriter } from '../jute/jute-writer.js';
import { assert, assertNever, invariantFailed } from '../util/assert.js';
import { Hash64, Sum64 } from '../util/hash.js';
import { ReferenceCountedAclCache } from './acl-cache.js';
import type { NodeKind } from './create-mode.js';
import { ErrorCode } from './error-code.js';
import { isValidPath, nameOf, parentOf } from './path.js';
import { PathIndex } from './path-index.js';
import { REGION_HEADER_BYTES, SlabArena, type SlabOwner } from './slab-arena.js';
import { SnapshotDecodeError, SnapshotDigestMismatchError } from './snapshot-error.js';
import type { Acl, Stat } from './stat.js';
import { OPEN_ACL_UNSAFE } from './stat.js';
import type { ApplyResult, NodeInfo, NodeState, OpResult, TreeView } from './tree-view.js';
import type {
  CreateTxn,
  MultiOpTxn,
  MultiTxn,
  SetAclTxn,
  SetDataTxn,
  Txn,
  TxnHeader,
} from './txn.js';
import type { WatchEvent } from './watch-event.js';

// ---- node table layout --------------------------------------------------------------------
const LONG_STRIDE = 5;
const CZXID = 0;
const MZXID = 1;
const PZXID = 2;
const CTIME = 3;
const MTIME = 4;

const INT_STRIDE = 11;
const PARENT = 0;
const VERSION = 1;
const CVERSION = 2;
const AVERSION = 3;
const DATA_LENGTH = 4;
const ACL_ID = 5;
const SLAB = 6;
const OFFSET = 7;
const HASH_LOW = 8;
const HASH_HIGH = 9;
const KIND = 10;

/** Kind codes in the table, the snapshot and the txn codec; `FREE` marks an unused slot. */
export const KIND_CODE: Record<NodeKind, number> = {
  persistent: 0,
  ephemeral: 1,
  container: 2,
  ttl: 3,
};
const KIND_BY_CODE: readonly NodeKind[] = ['persistent', 'ephemeral', 'container', 'ttl'];
const FREE = -1;
const NO_SLAB = -1;
const NO_PARENT = -1;
const ROOT_ID = 0;

const INITIAL_CAPACITY = 64;

// `longWords` views the BigInt64Array as int32 pairs, low word first: little-endian only.
assert(
  new Uint8Array(new Uint32Array([1]).buffer)[0] === 1,
  'the data tree needs a little-endian host',
);

/** ZooKeeper's `EphemeralType` encodings of the stat's ephemeralOwner for containers and TTLs. */
const CONTAINER_EPHEMERAL_OWNER = -(1n << 63n);
const TTL_EPHEMERAL_OWNER_MASK = 0xff00000000000000n;

const NODE_HASH_SEED = 0x5a4e4f44;
const SESSION_HASH_SEED = 0x5a534553;

// ---- snapshot format ------------------------------------------------------------------------
const SNAPSHOT_MAGIC = 0x5a54534e; // "ZTSN"
const SNAPSHOT_FORMAT_VERSION = 1;
const SNAPSHOT_END = 0x454e4421; // "END!"
const TTL_MS_SNAPSHOT_MAX = 0xffffffffff;

export interface DataTreeOptions {
  /** Slab size of the data arena (tests use small slabs to exercise compaction). */
  slabBytes?: number;
}

/** A consistent, point-in-time encoding of the tree at `zxid`, produced in chunks. */
export interface SnapshotCursor {
  readonly zxid: Zxid;
  /**
   * The next chunk of the snapshot body (at most `maxBytes`, at least 1), or null at the end.
   * Chunks concatenated in order are the body `DataTree.fromSnapshot` reads. `apply` may run
   * between calls; the result is still the tree at `zxid`.
   */
  next(maxBytes: number): Buffer | null;
  /** Releases the cursor (also done when `next` returns null); idempotent. */
  close(): void;
}

/** The fields the digest hashes for one znode (the reference definition, see `hashZnode`). */
export interface ZnodeHashFields {
  path: string;
  kind: NodeKind;
  /** The stat's ephemeralOwner (ZooKeeper's encoding for containers and TTLs). */
  ephemeralOwner: bigint;
  czxid: bigint;
  mzxid: bigint;
  pzxid: bigint;
  ctime: bigint;
  mtime: bigint;
  version: number;
  cversion: number;
  aversion: number;
  acl: readonly Acl[];
  data: Uint8Array;
}

/**
 * Reference definition of a znode's digest contribution; the tree computes the same value from
 * its table without allocating. numChildren and dataLength are derived, so not hashed.
 */
export function hashZnode(hash: Hash64, fields: ZnodeHashFields): Hash64 {
  const aclHash = hashAcl(fields.acl);
  return hash
    .reset(NODE_HASH_SEED)
    .addString(fields.path)
    .addInt(KIND_CODE[fields.kind])
    .addLong(fields.ephemeralOwner)
    .addLong(fields.czxid)
    .addLong(fields.mzxid)
    .addLong(fields.pzxid)
    .addLong(fields.ctime)
    .addLong(fields.mtime)
    .addInt(fields.version)
    .addInt(fields.cversion)
    .addInt(fields.aversion)
    .addInt(aclHash.low)
    .addInt(aclHash.high)
    .addBytes(fields.data)
    .finish();
}

/** Reference definition of a session's digest contribution. */
export function hashSession(hash: Hash64, sessionId: SessionId, timeoutMs: number): Hash64 {
  return hash.reset(SESSION_HASH_SEED).addLong(sessionId).addInt(timeoutMs).finish();
}

function hashAcl(acl: readonly Acl[]): { low: number; high: number } {
  const cache = new ReferenceCountedAclCache();
  const id = cache.addUsage(acl);
  return { low: cache.hashLow(id), high: cache.hashHigh(id) };
}

/** The stat's ephemeralOwner for a node of `kind` (ZooKeeper's `EphemeralType` encoding). */
export function ephemeralOwnerOf(kind: NodeKind, sessionId: SessionId, ttlMs: number): bigint {
  switch (kind) {
    case 'persistent':
      return 0n;
    case 'ephemeral':
      return sessionId;
    case 'container':
      return CONTAINER_EPHEMERAL_OWNER;
    case 'ttl':
      return BigInt.asIntN(64, TTL_EPHEMERAL_OWNER_MASK | BigInt(ttlMs));
    default:
      return assertNever(kind, 'node kind');
  }
}

/** A node's state at a snapshot cursor's zxid, saved before `apply` changed it. */
interface NodeImage {
  path: string;
  kind: number;
  sessionId: bigint;
  ttlMs: number;
  aclId: number;
  czxid: bigint;
  mzxid: bigint;
  pzxid: bigint;
  ctime: bigint;
  mtime: bigint;
  version: number;
  cversion: number;
  aversion: number;
  /** A view into the arena (regions are never overwritten, so no copy is needed). */
  data: Buffer;
}

interface CursorState {
  readonly zxid: Zxid;
  /** Ids at or above this did not exist at `zxid` (id reuse is frozen while a cursor is open). */
  readonly highWater: number;
  /** Next id to emit; ids below were emitted. */
  position: number;
  readonly images: Map<number, NodeImage>;
  readonly writer: JuteWriter;
  nodesLeft: number;
  finished: boolean;
  closed: boolean;
}

export class DataTree implements TreeView {
  private capacity = INITIAL_CAPACITY;
  private longs = new BigInt64Array(INITIAL_CAPACITY * LONG_STRIDE);
  private longWords = new Int32Array(this.longs.buffer);
  private ints = new Int32Array(INITIAL_CAPACITY * INT_STRIDE);
  private readonly paths: Array<string | undefined> = [];
  private readonly children: Array<Set<number> | undefined> = [];
  /** Path → id; declared after `paths`, which it reads. */
  private readonly ids = new PathIndex(this.paths);
  private readonly freeIds: number[] = [];
  private highWater = 0;
  private count = 0;

  private readonly sessionOfEphemeral = new Map<number, SessionId>();
  private readonly ephemeralsBySession = new Map<SessionId, Set<number>>();
  private readonly ttlMsById = new Map<number, number>();
  private readonly containerIds = new Set<number>();
  private readonly sessionTimeouts = new Map<SessionId, number>();

  private readonly arena: SlabArena;
  private readonly acls = new ReferenceCountedAclCache();
  private readonly digestSum = new Sum64();
  private readonly hash = new Hash64();
  private readonly cursors: CursorState[] = [];
  private appliedZxid: Zxid = 0n;
  /** Whether the apply in progress builds Stats for its result (see `apply`). */
  private statsWanted = true;

  constructor(options: DataTreeOptions = {}) {
    const owner: SlabOwner = {
      isAt: (id, slab, offset) => this.isDataAt(id, slab, offset),
      moved: (id, slab, offset) => this.dataMoved(id, slab, offset),
    };
    this.arena = new SlabArena(owner, { slabBytes: options.slabBytes });
    if (!creatingEmpty) this.initializeSystemNodes();
  }

  /** '/', '/zookeeper', '/zookeeper/quota' as ZooKeeper's DataTree creates them (zxid 0). */
  private initializeSystemNodes(): void {
    const empty = Buffer.alloc(0);
    const aclId = this.acls.addUsage(OPEN_ACL_UNSAFE);
    const root = this.insertNode('/', NO_PARENT, KIND_CODE.persistent, aclId, empty);
    this.rehash(root);
    for (const path of ['/zookeeper', '/zookeeper/quota']) {
      const parent = this.ids.get(parentOf(path))!;
      const aclOfNode = this.acls.addUsage(OPEN_ACL_UNSAFE);
      const id = this.insertNode(path, parent, KIND_CODE.persistent, aclOfNode, empty);
      this.linkChild(parent, id);
      this.rehash(id);
    }
  }

  // ---- reads --------------------------------------------------------------------------------

  get lastZxid(): Zxid {
    return this.appliedZxid;
  }

  /** Number of znodes, the root and the system nodes included. */
  get nodeCount(): number {
    return this.count;
  }

  /** Ephemeral nodes of all sessions (ZooKeeper's `ephemerals_count`); O(sessions). */
  get ephemeralCount(): number {
    let count = 0;
    for (const set of this.ephemeralsBySession.values()) count += set.size;
    return count;
  }

  getData(path: string): { data: Buffer; stat: Stat } | undefined {
    const id = this.ids.get(path);
    if (id === undefined) return undefined;
    return { data: Buffer.from(this.dataView(id)), stat: this.statOf(id) };
  }

  stat(path: string): Stat | undefined {
    const id = this.ids.get(path);
    return id === undefined ? undefined : this.statOf(id);
  }

  getChildren(path: string): string[] | undefined {
    const id = this.ids.get(path);
    if (id === undefined) return undefined;
    const names: string[] = [];
    const set = this.children[id];
    if (set !== undefined) for (const child of set) names.push(nameOf(this.paths[child]!));
    return names;
  }

  childrenOf(path: string): string[] | undefined {
    return this.getChildren(path);
  }

  getAcl(path: string): { acl: Acl[]; stat: Stat } | undefined {
    const id = this.ids.get(path);
    if (id === undefined) return undefined;
    return { acl: this.aclCopy(id), stat: this.statOf(id) };
  }

  /** The node's ACL, shared and frozen (no copy: for ACL checks on the read path). */
  aclOfNode(path: string): readonly Acl[] | undefined {
    const id = this.ids.get(path);
    return id === undefined ? undefined : this.acls.aclOf(this.ints[id * INT_STRIDE + ACL_ID]!);
  }

  nodeInfo(path: string): NodeInfo | undefined {
    const id = this.ids.get(path);
    if (id === undefined) return undefined;
    return {
      stat: this.statOf(id),
      kind: KIND_BY_CODE[this.ints[id * INT_STRIDE + KIND]!]!,
      ttlMs: this.ttlMsById.get(id) ?? 0,
      acl: this.aclCopy(id),
    };
  }

  nodeState(path: string): NodeState | undefined {
    const id = this.ids.get(path);
    if (id === undefined) return undefined;
    const i = id * INT_STRIDE;
    const kind = KIND_BY_CODE[this.ints[i + KIND]!]!;
    return {
      kind,
      ttlMs: this.ttlMsById.get(id) ?? 0,
      ephemeralOwner: kind === 'ephemeral' ? this.sessionOfEphemeral.get(id) ?? 0n : 0n,
      version: this.ints[i + VERSION]!,
      cversion: this.ints[i + CVERSION]!,
      aversion: this.ints[i + AVERSION]!,
      mtime: this.longs[id * LONG_STRIDE + MTIME]!,
      childCount: this.children[id]?.size ?? 0,
      acl: this.acls.aclOf(this.ints[i + ACL_ID]!),
    };
  }

  /** Number of descendants of `path` (ZooKeeper's getAllChildrenNumber), or undefined. */
  getAllChildrenNumber(path: string): number | undefined {
    const id = this.ids.get(path);
    if (id === undefined) return undefined;
    let total = 0;
    const stack = [id];
    while (stack.length > 0) {
      const set = this.children[stack.pop()!];
      if (set === undefined) continue;
      total += set.size;
      for (const child of set) stack.push(child);
    }
    return total;
  }

  /**
   * Paths of the session's ephemerals that start with `prefix` (a plain string prefix, as
   * ZooKeeper's getEphemerals), sorted.
   */
  getEphemerals(sessionId: SessionId, prefix?: string): string[] {
    const set = this.ephemeralsBySession.get(sessionId);
    if (set === undefined) return [];
    const found: string[] = [];
    for (const id of set) {
      const path = this.paths[id]!;
      if (prefix === undefined || prefix === '' || path.startsWith(prefix)) found.push(path);
    }
    return found.sort();
  }

  ephemeralsOf(sessionId: SessionId): string[] {
    return this.getEphemerals(sessionId);
  }

  hasSession(sessionId: SessionId): boolean {
    return this.sessionTimeouts.has(sessionId);
  }

  sessionTimeoutMs(sessionId: SessionId): number | undefined {
    return this.sessionTimeouts.get(sessionId);
  }

  /** Live sessions, sorted by id. */
  sessions(): Array<{ sessionId: SessionId; timeoutMs: number }> {
    return [...this.sessionTimeouts]
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([sessionId, timeoutMs]) => ({ sessionId, timeoutMs }));
  }

  /** The tree digest: sum of node and session hashes modulo 2^64 (ZooKeeper's AdHash idea). */
  digest(): bigint {
    return this.digestSum.value;
  }

  /**
   * Up to `limit` containers (sorted paths) with no children that had children once
   * (cversion > 0): ZooKeeper's ContainerManager candidates.
   */
  containerCandidates(limit: number): string[] {
    const found: string[] = [];
    for (const id of this.containerIds) {
      if (this.children[id] === undefined && this.ints[id * INT_STRIDE + CVERSION]! > 0) {
        found.push(this.paths[id]!);
      }
    }
    return found.sort().slice(0, Math.max(0, limit));
  }

  /** Up to `limit` TTL nodes (sorted paths) with no children and `nowMs - mtime > ttl`. */
  expiredTtlCandidates(nowMs: bigint, limit: number): string[] {
    const found: string[] = [];
    for (const [id, ttlMs] of this.ttlMsById) {
      if (this.children[id] !== undefined) continue;
      const mtime = this.longs[id * LONG_STRIDE + MTIME]!;
      if (nowMs - mtime > BigInt(ttlMs)) found.push(this.paths[id]!);
    }
    return found.sort().slice(0, Math.max(0, limit));
  }

  /** The Stat an apply result carries, unless `apply` was told no caller wants one. */
  private resultStat(id: number): Stat | undefined {
    return this.statsWanted ? this.statOf(id) : undefined;
  }

  private statOf(id: number): Stat {
    const l = id * LONG_STRIDE;
    const i = id * INT_STRIDE;
    return {
      czxid: this.longs[l + CZXID]!,
      mzxid: this.longs[l + MZXID]!,
      ctime: this.longs[l + CTIME]!,
      mtime: this.longs[l + MTIME]!,
      version: this.ints[i + VERSION]!,
      cversion: this.ints[i + CVERSION]!,
      aversion: this.ints[i + AVERSION]!,
      ephemeralOwner: this.ownerOf(id),
      dataLength: this.ints[i + DATA_LENGTH]!,
      numChildren: this.children[id]?.size ?? 0,
      pzxid: this.longs[l + PZXID]!,
    };
  }

  private ownerOf(id: number): bigint {
    const kind = KIND_BY_CODE[this.ints[id * INT_STRIDE + KIND]!]!;
    const sessionId = this.sessionOfEphemeral.get(id) ?? 0n;
    return ephemeralOwnerOf(kind, sessionId, this.ttlMsById.get(id) ?? 0);
  }

  private aclCopy(id: number): Acl[] {
    return this.acls.aclOf(this.ints[id * INT_STRIDE + ACL_ID]!).map((entry) => ({ ...entry }));
  }

  /** The node's data as a view into the arena (never written through; copy before handing out). */
  private dataView(id: number): Buffer {
    const i = id * INT_STRIDE;
    const length = this.ints[i + DATA_LENGTH]!;
    if (length === 0) return EMPTY;
    return this.arena.view(this.ints[i + SLAB]!, this.ints[i + OFFSET]!, length);
  }

  // ---- apply --------------------------------------------------------------------------------

  /**
   * Applies one committed transaction; `txn.header.zxid` must exceed `lastZxid`. With
   * `withStats` false the results carry no Stats (a replica applying a txn that no caller of
   * its own waits for: building one costs five BigInts and an object per change).
   */
  apply(txn: Txn, withStats = true): ApplyResult {
    const header = txn.header;
    if (header.zxid <= this.appliedZxid) {
      invariantFailed(`txn zxid 0x${header.zxid.toString(16)} not after ` +
        `0x${this.appliedZxid.toString(16)}`);
    }
    const events: WatchEvent[] = [];
    this.statsWanted = withStats;
    const result = this.applyBody(txn, events);
    this.appliedZxid = header.zxid;
    return result;
  }

  private applyBody(txn: Txn, events: WatchEvent[]): ApplyResult {
    const { header, body } = txn;
    switch (body.type) {
      case 'create':
        return this.applyCreate(body, header, events);
      case 'delete':
        this.deleteNode(body.path, header.zxid, events);
        return { code: ErrorCode.Ok, events };
      case 'setData':
        return { code: ErrorCode.Ok, stat: this.applySetData(body, header, events), events };
      case 'setACL':
        return { code: ErrorCode.Ok, stat: this.applySetAcl(body), events };
      case 'check':
        if (!this.ids.has(body.path)) invariantFailed(`check of missing node ${body.path}`);
        return { code: ErrorCode.Ok, events };
      case 'createSession':
        this.createSession(header.sessionId, body.timeoutMs);
        return { code: ErrorCode.Ok, events };
      case 'closeSession':
        this.closeSession(header.sessionId, header.zxid, events);
        return { code: ErrorCode.Ok, events };
      case 'error':
        return { code: body.code, events };
      case 'multi':
        return this.applyMulti(body, header, events);
      default:
        return assertNever(body, 'txn type');
    }
  }

  private applyCreate(txn: CreateTxn, header: TxnHeader, events: WatchEvent[]): ApplyResult {
    const { path, kind } = txn;
    if (this.ids.has(path)) invariantFailed(`create of existing node ${path}`);
    if (path === '/' || !isValidPath(path)) invariantFailed(`create of invalid path ${path}`);
    const parentPath = parentOf(path);
    const parent = this.ids.get(parentPath);
    if (parent === undefined) invariantFailed(`create ${path} under missing parent`);
    if (this.ints[parent * INT_STRIDE + KIND] === KIND_CODE.ephemeral) {
      invariantFailed(`create ${path} under an ephemeral`);
    }
    this.checkKindFields(txn);

    this.changeParent(parent, txn.parentCVersion, header.zxid);
    const aclId = this.acls.addUsage(txn.acl);
    const id = this.insertNode(path, parent, KIND_CODE[kind], aclId, txn.data);
    const l = id * LONG_STRIDE;
    this.longs[l + CZXID] = header.zxid;
    this.longs[l + MZXID] = header.zxid;
    this.longs[l + PZXID] = header.zxid;
    this.longs[l + CTIME] = header.time;
    this.longs[l + MTIME] = header.time;
    this.linkChild(parent, id);
    this.addKindBookkeeping(id, kind, txn.ephemeralOwner, txn.ttlMs);
    this.rehash(id);

    events.push({ type: 'created', path, zxid: header.zxid });
    events.push({ type: 'childrenChanged', path: parentPath, zxid: header.zxid });
    return { code: ErrorCode.Ok, path, stat: this.resultStat(id), events };
  }

  private checkKindFields(txn: CreateTxn): void {
    if (txn.kind === 'ephemeral') {
      if (!this.sessionTimeouts.has(txn.ephemeralOwner)) {
        invariantFailed(`ephemeral ${txn.path} owned by unknown session ` +
          `0x${txn.ephemeralOwner.toString(16)}`);
      }
    } else {
      if (txn.ephemeralOwner !== 0n) invariantFailed(`non-ephemeral ${txn.path} with an owner`);
    }
    if (txn.kind === 'ttl') {
      if (!(Number.isSafeInteger(txn.ttlMs) && txn.ttlMs > 0 && txn.ttlMs <= TTL_MS_SNAPSHOT_MAX)) {
        invariantFailed(`ttl node ${txn.path} with ttl ${txn.ttlMs}`);
      }
    } else {
      if (txn.ttlMs !== 0) invariantFailed(`non-ttl node ${txn.path} with a ttl`);
    }
  }

  /** Create's parent update: cversion from the txn (ZooKeeper's parentCVersion), pzxid. */
  private changeParent(parent: number, cversion: number, zxid: Zxid): void {
    this.beforeChange(parent);
    this.ints[parent * INT_STRIDE + CVERSION] = cversion;
    this.longs[parent * LONG_STRIDE + PZXID] = zxid;
    this.rehash(parent);
  }

  private addKindBookkeeping(id: number, kind: NodeKind, owner: SessionId, ttlMs: number): void {
    switch (kind) {
      case 'persistent':
        return;
      case 'ephemeral': {
        this.sessionOfEphemeral.set(id, owner);
        let set = this.ephemeralsBySession.get(owner);
        if (set === undefined) this.ephemeralsBySession.set(owner, (set = new Set()));
        set.add(id);
        return;
      }
      case 'container':
        this.containerIds.add(id);
        return;
      case 'ttl':
        this.ttlMsById.set(id, ttlMs);
        return;
      default:
        assertNever(kind, 'node kind');
    }
  }

  /**
   * Deletes a childless node: the parent's pzxid = zxid (its cversion stays, as in ZooKeeper
   * 3.5+), and the ephemeral, TTL and container bookkeeping.
   */
  private deleteNode(path: string, zxid: Zxid, events: WatchEvent[]): void {
    const id = this.ids.get(path);
    if (id === undefined) invariantFailed(`delete of missing node ${path}`);
    assert(id !== ROOT_ID, 'delete of the root');
    if (this.children[id] !== undefined) invariantFailed(`delete of non-empty node ${path}`);
    const parent = this.ints[id * INT_STRIDE + PARENT]!;
    this.beforeChange(id);
    this.beforeChange(parent);

    const i = id * INT_STRIDE;
    this.digestSum.subtract(this.ints[i + HASH_LOW]! >>> 0, this.ints[i + HASH_HIGH]! >>> 0);
    const siblings = this.children[parent]!;
    siblings.delete(id);
    if (siblings.size === 0) this.children[parent] = undefined;
    this.longs[parent * LONG_STRIDE + PZXID] = zxid;
    this.rehash(parent);
    this.removeKindBookkeeping(id);
    this.freeNode(id, path);

    const parentPath = this.paths[parent]!;
    events.push({ type: 'deleted', path, zxid });
    events.push({ type: 'childrenChanged', path: parentPath, zxid });
  }

  private removeKindBookkeeping(id: number): void {
    const kind = KIND_BY_CODE[this.ints[id * INT_STRIDE + KIND]!]!;
    switch (kind) {
      case 'persistent':
        return;
      case 'ephemeral': {
        const owner = this.sessionOfEphemeral.get(id)!;
        this.sessionOfEphemeral.delete(id);
        const set = this.ephemeralsBySession.get(owner)!;
        set.delete(id);
        if (set.size === 0) this.ephemeralsBySession.delete(owner);
        return;
      }
      case 'container':
        this.containerIds.delete(id);
        return;
      case 'ttl':
        this.ttlMsById.delete(id);
        return;
      default:
        assertNever(kind, 'node kind');
    }
  }

  private applySetData(txn: SetDataTxn, header: TxnHeader, events: WatchEvent[]):
    Stat | undefined {
    const id = this.ids.get(txn.path);
    if (id === undefined) invariantFailed(`setData of missing node ${txn.path}`);
    this.beforeChange(id);
    this.replaceData(id, txn.data);
    const i = id * INT_STRIDE;
    this.ints[i + VERSION] = txn.version;
    this.longs[id * LONG_STRIDE + MZXID] = header.zxid;
    this.longs[id * LONG_STRIDE + MTIME] = header.time;
    this.rehash(id);
    events.push({ type: 'dataChanged', path: txn.path, zxid: header.zxid });
    return this.resultStat(id);
  }

  private applySetAcl(txn: SetAclTxn): Stat | undefined {
    const id = this.ids.get(txn.path);
    if (id === undefined) invariantFailed(`setACL of missing node ${txn.path}`);
    this.beforeChange(id);
    const i = id * INT_STRIDE;
    const previous = this.ints[i + ACL_ID]!;
    this.ints[i + ACL_ID] = this.acls.addUsage(txn.acl);
    this.acls.removeUsage(previous);
    this.ints[i + AVERSION] = txn.version;
    this.rehash(id);
    return this.resultStat(id);
  }

  private createSession(sessionId: SessionId, timeoutMs: number): void {
    assert(
      Number.isInteger(timeoutMs) && timeoutMs > 0 && timeoutMs <= 0x7fffffff,
      `bad session timeout ${timeoutMs}`,
    );
    const previous = this.sessionTimeouts.get(sessionId);
    if (previous !== undefined) this.subtractSessionHash(sessionId, previous);
    this.sessionTimeouts.set(sessionId, timeoutMs);
    hashSession(this.hash, sessionId, timeoutMs);
    this.digestSum.add(this.hash.low, this.hash.high);
  }

  /** Deletes the session's ephemerals in sorted path order, then forgets the session. */
  private closeSession(sessionId: SessionId, zxid: Zxid, events: WatchEvent[]): void {
    for (const path of this.getEphemerals(sessionId)) this.deleteNode(path, zxid, events);
    const timeoutMs = this.sessionTimeouts.get(sessionId);
    if (timeoutMs === undefined) return;
    this.subtractSessionHash(sessionId, timeoutMs);
    this.sessionTimeouts.delete(sessionId);
  }

  private subtractSessionHash(sessionId: SessionId, timeoutMs: number): void {
    hashSession(this.hash, sessionId, timeoutMs);
    this.digestSum.subtract(this.hash.low, this.hash.high);
  }

  /**
   * ZooKeeper's multi: when any op is an error txn, nothing changes and every op reports an
   * error (ops that are not error txns report Ok before the first error and
   * RuntimeInconsistency after it); the multi's code is the first non-zero op code. Otherwise
   * the ops apply in order and their events accumulate.
   */
  private applyMulti(txn: MultiTxn, header: TxnHeader, events: WatchEvent[]): ApplyResult {
    const failed = txn.txns.some((op) => op.type === 'error');
    const results: OpResult[] = [];
    let code: number = ErrorCode.Ok;
    let afterError = false;
    for (const op of txn.txns) {
      let result: OpResult;
      if (failed) {
        if (op.type === 'error') afterError = true;
        const opCode =
          op.type === 'error'
            ? op.code
            : afterError
              ? ErrorCode.RuntimeInconsistency
              : ErrorCode.Ok;
        result = { type: 'error', code: opCode };
      } else {
        result = this.applyMultiOp(op, header, events);
      }
      if (result.code !== ErrorCode.Ok && code === ErrorCode.Ok) code = result.code;
      results.push(result);
    }
    return { code, results, events };
  }

  private applyMultiOp(op: MultiOpTxn, header: TxnHeader, events: WatchEvent[]): OpResult {
    switch (op.type) {
      case 'create': {
        const applied = this.applyCreate(op, header, events);
        return { type: 'create', code: ErrorCode.Ok, path: op.path, stat: applied.stat };
      }
      case 'delete':
        this.deleteNode(op.path, header.zxid, events);
        return { type: 'delete', code: ErrorCode.Ok };
      case 'setData':
        return { type: 'setData', code: ErrorCode.Ok, stat: this.applySetData(op, header, events) };
      case 'check':
        if (!this.ids.has(op.path)) invariantFailed(`check of missing node ${op.path}`);
        return { type: 'check', code: ErrorCode.Ok };
      case 'error':
        invariantFailed('error op in a multi without errors');
      default:
        return assertNever(op, 'multi op type');
    }
  }

  // ---- node table ---------------------------------------------------------------------------

  /** Allocates a node with zeroed stat fields; the caller sets zxids, times and links it. */
  private insertNode(
    path: string,
    parent: number,
    kind: number,
    aclId: number,
    data: Uint8Array,
    dataStart = 0,
    dataEnd = data.length,
  ): number {
    const id = this.allocateId();
    const i = id * INT_STRIDE;
    const l = id * LONG_STRIDE;
    for (let k = 0; k < LONG_STRIDE; k++) this.longs[l + k] = 0n;
    for (let k = 0; k < INT_STRIDE; k++) this.ints[i + k] = 0;
    this.ints[i + PARENT] = parent;
    this.ints[i + KIND] = kind;
    this.ints[i + ACL_ID] = aclId;
    this.ints[i + SLAB] = NO_SLAB;
    this.storeData(id, data, dataStart, dataEnd);
    this.paths[id] = path;
    this.ids.set(path, id);
    this.count++;
    return id;
  }

  private linkChild(parent: number, id: number): void {
    let set = this.children[parent];
    if (set === undefined) this.children[parent] = set = new Set();
    set.add(id);
  }

  private freeNode(id: number, path: string): void {
    const i = id * INT_STRIDE;
    this.acls.removeUsage(this.ints[i + ACL_ID]!);
    this.releaseData(id);
    this.ints[i + KIND] = FREE;
    this.ints[i + PARENT] = NO_PARENT;
    this.ids.delete(path);
    this.paths[id] = undefined;
    this.freeIds.push(id);
    this.count--;
  }

  /** A fresh id while a snapshot cursor is open (no reuse then), else a recycled one. */
  private allocateId(): number {
    if (this.cursors.length === 0) {
      const reused = this.freeIds.pop();
      if (reused !== undefined) return reused;
    }
    if (this.highWater === this.capacity) this.grow(Math.ceil(this.capacity * 1.5));
    return this.highWater++;
  }

  private grow(capacity: number): void {
    const longs = new BigInt64Array(capacity * LONG_STRIDE);
    longs.set(this.longs);
    const ints = new Int32Array(capacity * INT_STRIDE);
    ints.set(this.ints);
    ints.fill(FREE, this.capacity * INT_STRIDE); // harmless: every slot is set on insert
    this.longs = longs;
    this.longWords = new Int32Array(longs.buffer);
    this.ints = ints;
    this.capacity = capacity;
  }

  private storeData(id: number, data: Uint8Array, start: number, end: number): void {
    const i = id * INT_STRIDE;
    const length = end - start;
    this.ints[i + DATA_LENGTH] = length;
    if (length === 0) {
      this.ints[i + SLAB] = NO_SLAB;
      return;
    }
    this.ints[i + SLAB] = this.arena.append(id, data, start, end);
    this.ints[i + OFFSET] = this.arena.appendedOffset;
  }

  /** Writes the new value first, then releases the old region (which may compact its slab). */
  private replaceData(id: number, data: Uint8Array): void {
    const i = id * INT_STRIDE;
    let newSlab = NO_SLAB;
    let newOffset = 0;
    if (data.length > 0) {
      newSlab = this.arena.append(id, data);
      newOffset = this.arena.appendedOffset;
    }
    // Read the old location only now: the append may have compacted (moved) the old region.
    const oldSlab = this.ints[i + SLAB]!;
    const oldOffset = this.ints[i + OFFSET]!;
    const oldLength = this.ints[i + DATA_LENGTH]!;
    this.ints[i + SLAB] = newSlab;
    this.ints[i + OFFSET] = newOffset;
    this.ints[i + DATA_LENGTH] = data.length;
    if (oldSlab !== NO_SLAB) this.arena.release(oldSlab, oldOffset, oldLength);
  }

  private releaseData(id: number): void {
    const i = id * INT_STRIDE;
    const slab = this.ints[i + SLAB]!;
    if (slab === NO_SLAB) return;
    this.ints[i + SLAB] = NO_SLAB;
    this.arena.release(slab, this.ints[i + OFFSET]!, this.ints[i + DATA_LENGTH]!);
  }

  /** SlabOwner: is `owner`'s current value the region at (slab, offset)? */
  private isDataAt(owner: number, slab: number, offset: number): boolean {
    if (owner < 0 || owner >= this.highWater) return false;
    const i = owner * INT_STRIDE;
    return (
      this.ints[i + KIND] !== FREE &&
      this.ints[i + SLAB] === slab &&
      this.ints[i + OFFSET] === offset
    );
  }

  /** SlabOwner: the arena compacted `owner`'s region to (slab, offset). */
  private dataMoved(owner: number, slab: number, offset: number): void {
    const i = owner * INT_STRIDE;
    this.ints[i + SLAB] = slab;
    this.ints[i + OFFSET] = offset;
  }

  // ---- snapshots ----------------------------------------------------------------------------

  /**
   * Opens a consistent snapshot of the tree at `lastZxid`. While it is open, `apply` saves the
   * pre-image of every node it is about to change or delete that the cursor has not emitted
   * yet (copy-on-write), ids are not reused, and nodes created later are skipped. Sessions and
   * the ACL cache are encoded at once (they are small). Format: see `writeSnapshotHeader`.
   */
  beginSnapshot(): SnapshotCursor {
    const state: CursorState = {
      zxid: this.appliedZxid,
      highWater: this.highWater,
      position: 0,
      images: new Map(),
      writer: new JuteWriter(1 << 16),
      nodesLeft: this.count,
      finished: false,
      closed: false,
    };
    this.writeSnapshotHeader(state.writer);
    this.cursors.push(state);
    return {
      zxid: state.zxid,
      next: (maxBytes: number) => this.snapshotNext(state, maxBytes),
      close: () => this.closeCursor(state),
    };
  }

  /**
   * Header: magic, format version, zxid, digest, ACL id counter, a hash of those three (the
   * digest covers everything else but them), ACL entries (id, acl vector), sessions (id,
   * timeout), node count. Then one record per node (see `writeNodeRecord`), then
   * an end marker. Nodes appear in id order, the root first.
   */
  private writeSnapshotHeader(writer: JuteWriter): void {
    writer.writeInt(SNAPSHOT_MAGIC).writeInt(SNAPSHOT_FORMAT_VERSION);
    writer.writeLong(this.appliedZxid).writeLong(BigInt.asIntN(64, this.digest()));
    writer.writeInt(this.acls.nextIdValue);
    writer.writeLong(headerCheck(this.appliedZxid, this.digest(), this.acls.nextIdValue));
    const acls = this.acls.list();
    writer.writeInt(acls.length);
    for (const entry of acls) {
      writer.writeInt(entry.id);
      writer.writeVector(entry.acl, (w, acl) => {
        w.writeInt(acl.perms).writeString(acl.scheme).writeString(acl.id);
      });
    }
    const sessions = this.sessions();
    writer.writeInt(sessions.length);
    for (const session of sessions) writer.writeLong(session.sessionId).writeInt(session.timeoutMs);
    writer.writeInt(this.count);
  }

  private snapshotNext(state: CursorState, maxBytes: number): Buffer | null {
    assert(Number.isInteger(maxBytes) && maxBytes > 0, `bad snapshot chunk size ${maxBytes}`);
    if (state.closed) return null;
    const writer = state.writer;
    while (writer.length < maxBytes && !state.finished) this.emitNext(state);
    if (writer.length === 0) {
      this.closeCursor(state);
      return null;
    }
    const bytes = writer.finish();
    const take = Math.min(maxBytes, bytes.length);
    const chunk = Buffer.from(bytes.subarray(0, take));
    const rest = take < bytes.length ? Buffer.from(bytes.subarray(take)) : EMPTY;
    writer.reset().writeRaw(rest);
    return chunk;
  }

  /** Emits the node at the cursor's position: its pre-image, the live node, or nothing. */
  private emitNext(state: CursorState): void {
    if (state.position >= state.highWater) {
      assert(state.nodesLeft === 0, `snapshot emitted ${state.nodesLeft} nodes too few`);
      state.writer.writeInt(SNAPSHOT_END);
      state.finished = true;
      return;
    }
    const id = state.position++;
    const image = state.images.get(id);
    if (image !== undefined) {
      state.images.delete(id);
      writeNodeRecord(state.writer, image);
      state.nodesLeft--;
    } else if (this.ints[id * INT_STRIDE + KIND] !== FREE) {
      this.writeLiveNodeRecord(state.writer, id);
      state.nodesLeft--;
    }
  }

  /**
   * `writeNodeRecord` of the live node, straight from the table: longs go out as two ints
   * from `longWords`, with no bigint or image object per node.
   */
  private writeLiveNodeRecord(writer: JuteWriter, id: number): void {
    const i = id * INT_STRIDE;
    const w = id * LONG_STRIDE * 2;
    const words = this.longWords;
    const kind = this.ints[i + KIND]!;
    writer.writeString(this.paths[id]!).writeInt(kind);
    writer.writeLong(kind === KIND_CODE.ephemeral ? this.sessionOfEphemeral.get(id)! : 0n);
    const ttlMs = kind === KIND_CODE.ttl ? this.ttlMsById.get(id)! : 0;
    writer.writeInt(Math.floor(ttlMs / 0x100000000)).writeInt(ttlMs | 0);
    writer.writeInt(this.ints[i + ACL_ID]!);
    for (let k = 0; k < LONG_STRIDE; k++) {
      writer.writeInt(words[w + 2 * k + 1]!).writeInt(words[w + 2 * k]!); // high word first
    }
    writer.writeInt(this.ints[i + VERSION]!).writeInt(this.ints[i + CVERSION]!);
    writer.writeInt(this.ints[i + AVERSION]!).writeBuffer(this.dataView(id));
  }

  private closeCursor(state: CursorState): void {
    if (state.closed) return;
    state.closed = true;
    state.images.clear();
    const index = this.cursors.indexOf(state);
    if (index >= 0) this.cursors.splice(index, 1);
  }

  /** Copy-on-write hook: call before changing or deleting node `id`. */
  private beforeChange(id: number): void {
    for (const cursor of this.cursors) {
      if (id >= cursor.position && id < cursor.highWater && !cursor.images.has(id)) {
        cursor.images.set(id, this.captureImage(id));
      }
    }
  }

  private captureImage(id: number): NodeImage {
    const i = id * INT_STRIDE;
    const l = id * LONG_STRIDE;
    return {
      path: this.paths[id]!,
      kind: this.ints[i + KIND]!,
      sessionId: this.sessionOfEphemeral.get(id) ?? 0n,
      ttlMs: this.ttlMsById.get(id) ?? 0,
      aclId: this.ints[i + ACL_ID]!,
      czxid: this.longs[l + CZXID]!,
      mzxid: this.longs[l + MZXID]!,
      pzxid: this.longs[l + PZXID]!,
      ctime: this.longs[l + CTIME]!,
      mtime: this.longs[l + MTIME]!,
      version: this.ints[i + VERSION]!,
      cversion: this.ints[i + CVERSION]!,
      aversion: this.ints[i + AVERSION]!,
      data: this.dataView(id),
    };
  }

  /**
   * Loads a snapshot body (the concatenated chunks of a cursor). Throws `SnapshotDecodeError`
   * on bad or truncated input and `SnapshotDigestMismatchError` when the decoded tree does not
   * hash to the digest recorded at the snapshot's zxid.
   */
  static fromSnapshot(body: Buffer, options: DataTreeOptions = {}): DataTree {
    try {
      return DataTree.decodeSnapshot(body, options);
    } catch (error) {
      if (error instanceof JuteDecodeError) throw new SnapshotDecodeError(error.message);
      throw error;
    }
  }

  private static decodeSnapshot(body: Buffer, options: DataTreeOptions): DataTree {
    const reader = new JuteReader(body);
    if (reader.readInt() !== SNAPSHOT_MAGIC) throw new SnapshotDecodeError('not a tree snapshot');
    const version = reader.readInt();
    if (version !== SNAPSHOT_FORMAT_VERSION) {
      throw new SnapshotDecodeError(`unknown snapshot format version ${version}`);
    }
    const zxid = reader.readLong();
    if (zxid < 0n) throw new SnapshotDecodeError(`negative snapshot zxid ${zxid}`);
    const digest = BigInt.asUintN(64, reader.readLong());
    const aclNextId = reader.readInt();
    if (reader.readLong() !== headerCheck(zxid, digest, aclNextId)) {
      throw new SnapshotDecodeError('snapshot header check mismatch');
    }
    creatingEmpty = true;
    let tree: DataTree;
    try {
      tree = new DataTree(options);
    } finally {
      creatingEmpty = false;
    }
    tree.decodeAcls(reader, aclNextId);
    tree.decodeSessions(reader);
    const tail = new JuteReader(body, tree.decodeNodes(body, reader));
    if (tail.readInt() !== SNAPSHOT_END) throw new SnapshotDecodeError('missing end marker');
    tail.expectEnd('snapshot');
    tree.linkLoadedNodes();
    tree.acls.purgeUnused();
    tree.appliedZxid = zxid;
    for (let id = 0; id < tree.highWater; id++) tree.rehash(id);
    if (tree.digest() !== digest) throw new SnapshotDigestMismatchError(digest, tree.digest());
    return tree;
  }

  private decodeAcls(reader: JuteReader, nextId: number): void {
    const count = reader.readInt();
    if (count < 0 || count > reader.remaining) {
      throw new SnapshotDecodeError(`bad ACL count ${count}`);
    }
    for (let k = 0; k < count; k++) {
      const id = reader.readInt();
      const acl = reader.readVector(readAcl);
      if (acl === null || !this.acls.restore(id, acl)) {
        throw new SnapshotDecodeError(`bad or duplicate ACL entry ${id}`);
      }
    }
    this.acls.restoreNextId(nextId);
  }

  private decodeSessions(reader: JuteReader): void {
    const count = reader.readInt();
    if (count < 0 || count > reader.remaining / 12) {
      throw new SnapshotDecodeError(`bad session count ${count}`);
    }
    for (let k = 0; k < count; k++) {
      const sessionId = reader.readLong();
      const timeoutMs = reader.readInt();
      if (timeoutMs <= 0 || this.sessionTimeouts.has(sessionId)) {
        throw new SnapshotDecodeError(`bad or duplicate session 0x${sessionId.toString(16)}`);
      }
      this.createSession(sessionId, timeoutMs);
    }
  }

  /**
   * Decodes the node records with a DataView instead of the JuteReader (same encoding; this is
   * the hot loop of loading 1M nodes); returns the offset after the last record.
   */
  private decodeNodes(body: Buffer, reader: JuteReader): number {
    const count = reader.readInt();
    if (count < 1 || count > reader.remaining / NODE_RECORD_BYTES_MIN) {
      throw new SnapshotDecodeError(`bad node count ${count}`);
    }
    this.reserve(count);
    const view = new DataView(body.buffer, body.byteOffset, body.length);
    let offset = reader.position;
    for (let k = 0; k < count; k++) offset = this.decodeNode(body, view, offset, k === 0);
    return offset;
  }

  /** One record: path | kind | sessionId | ttlMs | aclId | 5 longs | 3 ints | data. */
  private decodeNode(body: Buffer, view: DataView, start: number, isFirst: boolean): number {
    const pathBytes = readLength(view, start, 'path');
    let at = start + 4;
    const path = body.toString('utf8', at, at + pathBytes);
    at += pathBytes;
    if (!isValidPath(path) || isFirst !== (path === '/')) {
      throw new SnapshotDecodeError(`bad node path ${path}`);
    }
    checkRoom(view, at, NODE_RECORD_FIXED_BYTES, path);
    // Longs are read as int32 halves: no bigint allocation per field on the hot path.
    const kind = view.getInt32(at);
    const hasSession = view.getInt32(at + 4) !== 0 || view.getInt32(at + 8) !== 0;
    const ttlHigh = view.getInt32(at + 12);
    const ttlMs = ttlHigh * 0x100000000 + (view.getInt32(at + 16) >>> 0);
    const aclId = view.getInt32(at + 20);
    if (
      kind < 0 ||
      kind >= KIND_BY_CODE.length ||
      !this.acls.has(aclId) ||
      (kind === KIND_CODE.ephemeral) !== hasSession ||
      (kind === KIND_CODE.ttl) !== ttlMs > 0 ||
      ttlMs < 0 ||
      ttlMs > TTL_MS_SNAPSHOT_MAX
    ) {
      throw new SnapshotDecodeError(`bad kind fields of node ${path}`);
    }
    const dataBytes = readLength(view, at + 76, path);
    const dataStart = at + NODE_RECORD_FIXED_BYTES;
    const countBefore = this.ids.size;
    const dataEnd = dataStart + dataBytes;
    const id = this.insertNode(path, NO_PARENT, kind, aclId, body, dataStart, dataEnd);
    if (this.ids.size === countBefore) throw new SnapshotDecodeError(`duplicate node ${path}`);
    this.acls.addReference(aclId);
    const w = id * LONG_STRIDE * 2;
    for (let k = 0; k < LONG_STRIDE; k++) {
      this.longWords[w + 2 * k] = view.getInt32(at + 28 + 8 * k); // low word (little-endian)
      this.longWords[w + 2 * k + 1] = view.getInt32(at + 24 + 8 * k);
    }
    const i = id * INT_STRIDE;
    this.ints[i + VERSION] = view.getInt32(at + 64);
    this.ints[i + CVERSION] = view.getInt32(at + 68);
    this.ints[i + AVERSION] = view.getInt32(at + 72);
    if (kind !== KIND_CODE.persistent) {
      const sessionId = hasSession ? view.getBigInt64(at + 4) : 0n;
      this.addKindBookkeeping(id, KIND_BY_CODE[kind]!, sessionId, ttlMs);
    }
    return dataStart + dataBytes;
  }

  /** Grows the node table to hold `count` more nodes at once (loading). */
  private reserve(count: number): void {
    if (this.capacity < this.highWater + count) this.grow(this.highWater + count);
    this.ids.reserve(this.ids.size + count);
  }

  /** Links every loaded node to its parent; checks parents and ephemeral owners exist. */
  private linkLoadedNodes(): void {
    // Siblings usually follow each other in id order: remember the last parent looked up.
    let lastParentPath = '';
    let lastParent: number | undefined;
    for (let id = 1; id < this.highWater; id++) {
      const path = this.paths[id]!;
      if (!isChildOf(path, lastParentPath)) {
        lastParentPath = parentOf(path);
        lastParent = this.ids.get(lastParentPath);
      }
      const parent = lastParent;
      if (parent === undefined) throw new SnapshotDecodeError(`node ${path} has no parent`);
      if (this.ints[parent * INT_STRIDE + KIND] === KIND_CODE.ephemeral) {
        throw new SnapshotDecodeError(`node ${path} is under an ephemeral`);
      }
      this.ints[id * INT_STRIDE + PARENT] = parent;
      this.linkChild(parent, id);
    }
    for (const sessionId of this.ephemeralsBySession.keys()) {
      if (!this.sessionTimeouts.has(sessionId)) {
        throw new SnapshotDecodeError(`ephemerals of unknown session 0x${sessionId.toString(16)}`);
      }
    }
  }

  // ---- self-check ---------------------------------------------------------------------------

  /**
   * Recomputes every derived structure from scratch and asserts it matches: the path index,
   * parent and child links, the ephemeral/TTL/container indexes, ACL reference counts, the
   * arena's live bytes, and the digest (with the reference `hashZnode`). O(tree); for tests.
   */
  checkInvariants(): void {
    const digest = new Sum64();
    const aclReferences = new Map<number, number>();
    const liveBytes = new Map<number, number>();
    let alive = 0;
    for (let id = 0; id < this.highWater; id++) {
      const i = id * INT_STRIDE;
      if (this.ints[i + KIND] === FREE) {
        assert(
          this.paths[id] === undefined && this.children[id] === undefined,
          `free slot ${id} in use`,
        );
        continue;
      }
      alive++;
      this.checkNode(id);
      const aclId = this.ints[i + ACL_ID]!;
      aclReferences.set(aclId, (aclReferences.get(aclId) ?? 0) + 1);
      const length = this.ints[i + DATA_LENGTH]!;
      assert((length === 0) === (this.ints[i + SLAB] === NO_SLAB), `data location of ${id}`);
      if (length > 0) {
        const slab = this.ints[i + SLAB]!;
        liveBytes.set(slab, (liveBytes.get(slab) ?? 0) + length + REGION_HEADER_BYTES);
      }
      const hash = hashZnode(new Hash64(), this.referenceFields(id));
      const storedLow = this.ints[i + HASH_LOW]! >>> 0;
      const storedHigh = this.ints[i + HASH_HIGH]! >>> 0;
      assert(hash.low === storedLow && hash.high === storedHigh, `stale hash of ${this.paths[id]}`);
      digest.add(hash.low, hash.high);
    }
    assert(alive === this.count && alive === this.ids.size, `node count ${alive}/${this.count}`);
    for (const [sessionId, timeoutMs] of this.sessionTimeouts) {
      const hash = hashSession(new Hash64(), sessionId, timeoutMs);
      digest.add(hash.low, hash.high);
    }
    assert(digest.value === this.digestSum.value, 'incremental digest differs from recomputed');
    assert(aclReferences.size === this.acls.size, 'ACL cache holds unreferenced lists');
    for (const [aclId, references] of aclReferences) {
      assert(this.acls.referencesOf(aclId) === references, `ACL ${aclId} reference count`);
    }
    for (const [slab, bytes] of this.arena.liveBytesBySlab()) {
      assert((liveBytes.get(slab) ?? 0) === bytes, `slab ${slab} live bytes`);
    }
    let ephemerals = 0;
    for (const [sessionId, set] of this.ephemeralsBySession) {
      assert(set.size > 0 && this.sessionTimeouts.has(sessionId), 'ephemeral index entry');
      ephemerals += set.size;
    }
    assert(ephemerals === this.sessionOfEphemeral.size, 'ephemeral index size');
  }

  private checkNode(id: number): void {
    const i = id * INT_STRIDE;
    const path = this.paths[id]!;
    assert(this.ids.get(path) === id, `path index of ${path}`);
    const parent = this.ints[i + PARENT]!;
    if (id === ROOT_ID) assert(path === '/' && parent === NO_PARENT, 'root');
    else {
      assert(parent >= 0 && this.paths[parent] === parentOf(path), `parent of ${path}`);
      assert(this.children[parent]?.has(id) === true, `${path} missing from its parent`);
    }
    const set = this.children[id];
    if (set !== undefined) {
      assert(set.size > 0, `empty child set of ${path}`);
      for (const child of set) {
        assert(this.ints[child * INT_STRIDE + PARENT] === id, `child of ${path}`);
      }
    }
    const kind = KIND_BY_CODE[this.ints[i + KIND]!]!;
    assert(
      (kind === 'ephemeral') === this.sessionOfEphemeral.has(id),
      `ephemeral index of ${path}`,
    );
    if (kind === 'ephemeral') {
      assert(set === undefined, `ephemeral ${path} has children`);
      assert(
        this.ephemeralsBySession.get(this.sessionOfEphemeral.get(id)!)?.has(id) === true,
        `session index of ${path}`,
      );
    }
    assert((kind === 'container') === this.containerIds.has(id), `container index of ${path}`);
    assert((kind === 'ttl') === this.ttlMsById.has(id), `ttl index of ${path}`);
  }

  private referenceFields(id: number): ZnodeHashFields {
    const stat = this.statOf(id);
    return {
      path: this.paths[id]!,
      kind: KIND_BY_CODE[this.ints[id * INT_STRIDE + KIND]!]!,
      ephemeralOwner: stat.ephemeralOwner,
      czxid: stat.czxid,
      mzxid: stat.mzxid,
      pzxid: stat.pzxid,
      ctime: stat.ctime,
      mtime: stat.mtime,
      version: stat.version,
      cversion: stat.cversion,
      aversion: stat.aversion,
      acl: this.acls.aclOf(this.ints[id * INT_STRIDE + ACL_ID]!),
      data: this.dataView(id),
    };
  }

  // ---- digest -------------------------------------------------------------------------------

  /** Recomputes the node's hash and replaces its contribution to the digest. */
  private rehash(id: number): void {
    const i = id * INT_STRIDE;
    // A node inserted just now holds hash 0, so subtracting it is a no-op.
    this.digestSum.subtract(this.ints[i + HASH_LOW]! >>> 0, this.ints[i + HASH_HIGH]! >>> 0);
    this.computeNodeHash(id);
    this.ints[i + HASH_LOW] = this.hash.low;
    this.ints[i + HASH_HIGH] = this.hash.high;
    this.digestSum.add(this.hash.low, this.hash.high);
  }

  /** The `hashZnode` definition, computed from the table without allocating. */
  private computeNodeHash(id: number): void {
    const i = id * INT_STRIDE;
    const w = id * LONG_STRIDE * 2;
    const words = this.longWords;
    const aclId = this.ints[i + ACL_ID]!;
    const kind = this.ints[i + KIND]!;
    const hash = this.hash.reset(NODE_HASH_SEED).addString(this.paths[id]!).addInt(kind);
    if (kind === KIND_CODE.persistent) hash.addLongWords(0, 0);
    else hash.addLong(this.ownerOf(id));
    hash
      .addLongWords(words[w + 2 * CZXID]!, words[w + 2 * CZXID + 1]!)
      .addLongWords(words[w + 2 * MZXID]!, words[w + 2 * MZXID + 1]!)
      .addLongWords(words[w + 2 * PZXID]!, words[w + 2 * PZXID + 1]!)
      .addLongWords(words[w + 2 * CTIME]!, words[w + 2 * CTIME + 1]!)
      .addLongWords(words[w + 2 * MTIME]!, words[w + 2 * MTIME + 1]!)
      .addInt(this.ints[i + VERSION]!)
      .addInt(this.ints[i + CVERSION]!)
      .addInt(this.ints[i + AVERSION]!)
      .addInt(this.acls.hashLow(aclId))
      .addInt(this.acls.hashHigh(aclId));
    const length = this.ints[i + DATA_LENGTH]!;
    if (length === 0) hash.addInt(0);
    else {
      const start = this.ints[i + OFFSET]! + REGION_HEADER_BYTES;
      hash.addBytes(this.arena.bufferOf(this.ints[i + SLAB]!), start, start + length);
    }
    hash.finish();
  }
}

const EMPTY = Buffer.alloc(0);

/** Set only while `fromSnapshot` constructs a tree without the system nodes. */
let creatingEmpty = false;

/** Bytes of a node record after the path: kind … aversion, then the data length. */
const NODE_RECORD_FIXED_BYTES = 4 + 8 + 8 + 4 + 5 * 8 + 3 * 4 + 4;

function checkRoom(view: DataView, at: number, bytes: number, what: string): void {
  if (at + bytes > view.byteLength) {
    throw new SnapshotDecodeError(`truncated snapshot in ${what} at offset ${at}`);
  }
}

/** A non-negative int32 length at `at` whose bytes follow it within the view. */
function readLength(view: DataView, at: number, what: string): number {
  checkRoom(view, at, 4, what);
  const length = view.getInt32(at);
  if (length < 0) throw new SnapshotDecodeError(`bad length ${length} in ${what} at offset ${at}`);
  checkRoom(view, at + 4, length, what);
  return length;
}

/** Whether `parent` is the parent of the valid non-root `path`, without allocating. */
function isChildOf(path: string, parent: string): boolean {
  const slash = path.lastIndexOf('/');
  if (slash === 0) return parent === '/';
  return slash === parent.length && path.startsWith(parent);
}

/** Smallest encoded node record: path '/', empty data. */
const NODE_RECORD_BYTES_MIN = 5 + 4 + 8 + 8 + 4 + 5 * 8 + 3 * 4 + 4;

/** One node record of the snapshot body. */
function writeNodeRecord(writer: JuteWriter, image: NodeImage): void {
  writer
    .writeString(image.path)
    .writeInt(image.kind)
    .writeLong(image.sessionId)
    .writeLong(BigInt(image.ttlMs))
    .writeInt(image.aclId)
    .writeLong(image.czxid)
    .writeLong(image.mzxid)
    .writeLong(image.pzxid)
    .writeLong(image.ctime)
    .writeLong(image.mtime)
    .writeInt(image.version)
    .writeInt(image.cversion)
    .writeInt(image.aversion)
    .writeBuffer(image.data);
}

const HEADER_CHECK_SEED = 0x5a484452;

/** Signed 64-bit hash of the header fields the tree digest does not cover. */
function headerCheck(zxid: Zxid, digest: bigint, aclNextId: number): bigint {
  const hash = new Hash64().reset(HEADER_CHECK_SEED);
  hash.addLong(zxid).addLong(digest).addInt(aclNextId);
  return BigInt.asIntN(64, hash.finish().value);
}

function readAcl(reader: JuteReader): Acl {
  const perms = reader.readInt();
  const scheme = reader.readString();
  const id = reader.readString();
  if (scheme === null || id === null) throw new SnapshotDecodeError('null ACL scheme or id');
  return { perms, scheme, id };
}
