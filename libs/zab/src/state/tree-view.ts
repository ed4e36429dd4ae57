/**
 * Contracts between the data tree and its readers: the read-only view the request preparer
 * validates against, and the result of applying one transaction.
 */
import type { SessionId, Zxid } from '../core/ids.js';
import type { NodeKind } from './create-mode.js';
import type { Acl, Stat } from './stat.js';
import type { WatchEvent } from './watch-event.js';

/** A committed node as the preparer needs it. Returned objects are fresh copies. */
export interface NodeInfo {
  stat: Stat;
  kind: NodeKind;
  /** TTL in ms for `ttl` nodes, else 0. */
  ttlMs: number;
  acl: readonly Acl[];
}

/**
 * What the request preparer reads of a node (ZooKeeper's `ChangeRecord` fields): no Stat
 * object, and the ACL is the tree's shared frozen list, not a copy.
 */
export interface NodeState {
  readonly kind: NodeKind;
  readonly ttlMs: number;
  /** Owning session for ephemerals, else 0n. */
  readonly ephemeralOwner: SessionId;
  readonly version: number;
  readonly cversion: number;
  readonly aversion: number;
  readonly mtime: bigint;
  readonly childCount: number;
  readonly acl: readonly Acl[];
}

/** Read-only view of the committed state (what every replica has applied). */
export interface TreeView {
  /** Zxid of the last applied transaction (0n for an empty tree). */
  readonly lastZxid: Zxid;
  nodeInfo(path: string): NodeInfo | undefined;
  /** The preparer's view of the node at `path` (cheaper than `nodeInfo`), or undefined. */
  nodeState(path: string): NodeState | undefined;
  /** Child names of the node at `path` (unordered), or undefined when there is no node. */
  childrenOf(path: string): string[] | undefined;
  hasSession(sessionId: SessionId): boolean;
  /** Negotiated timeout of a live session, or undefined. */
  sessionTimeoutMs(sessionId: SessionId): number | undefined;
  /** Paths of the ephemeral nodes the session owns. */
  ephemeralsOf(sessionId: SessionId): string[];
}

/** Per-op outcome inside a multi (ZooKeeper's `OpResult`). */
export interface OpResult {
  /** `create` results carry the created path; `setData` the new stat. */
  type: 'create' | 'delete' | 'setData' | 'check' | 'error';
  code: number;
  path?: string;
  stat?: Stat;
}

/** Outcome of `DataTree.apply(txn)`. `code` is 0 on success. */
export interface ApplyResult {
  code: number;
  /** Created path (create). */
  path?: string;
  /** Stat after the change (create, setData, setACL). */
  stat?: Stat;
  /** Per-op results (multi). */
  results?: OpResult[];
  /** Watch events, in order, that this transaction triggers. */
  events: WatchEvent[];
}
