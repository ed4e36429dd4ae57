/**
 * Transactions: the unit of replication. The leader's request preparer turns a client request
 * into a transaction whose every value is resolved (sequential names, new versions, the
 * parent's new cversion, the time), so that `DataTree.apply(txn)` is total and deterministic:
 * the same log gives the same tree on every replica. A request that fails validation becomes
 * an `error` transaction, still logged in order so per-session FIFO replies hold (ZooKeeper's
 * `ErrorTxn`).
 */
import type { SessionId, Zxid } from '../core/ids.js';
import type { NodeKind } from './create-mode.js';
import type { Acl } from './stat.js';

export interface TxnHeader {
  /** Session that issued the request (the new session's id for `createSession`). */
  sessionId: SessionId;
  /** Client's request counter (xid), echoed in the reply; 0 for internal requests. */
  cxid: number;
  zxid: Zxid;
  /** Leader's wall clock in ms since the Unix epoch; the only time the state machine sees. */
  time: bigint;
}

export interface CreateTxn {
  type: 'create';
  /** Final path; for sequential creates it already carries the 10-digit counter. */
  path: string;
  data: Buffer;
  acl: Acl[];
  kind: NodeKind;
  /** Owning session for `ephemeral`, else 0n. */
  ephemeralOwner: SessionId;
  /** For `ttl` nodes: the TTL in ms; else 0. */
  ttlMs: number;
  /** The parent's cversion after this create (ZooKeeper's `parentCVersion`). */
  parentCVersion: number;
}

export interface DeleteTxn {
  type: 'delete';
  path: string;
}

export interface SetDataTxn {
  type: 'setData';
  path: string;
  data: Buffer;
  /** The node's version after this write. */
  version: number;
}

export interface SetAclTxn {
  type: 'setACL';
  path: string;
  acl: Acl[];
  /** The node's aversion after this write. */
  version: number;
}

/** Version check inside a multi; changes nothing. */
export interface CheckTxn {
  type: 'check';
  path: string;
  version: number;
}

export interface CreateSessionTxn {
  type: 'createSession';
  /** Negotiated timeout; the session id is the header's `sessionId`. */
  timeoutMs: number;
}

/** Closes the header's session and deletes its ephemerals (the tree knows which). */
export interface CloseSessionTxn {
  type: 'closeSession';
}

export interface ErrorTxn {
  type: 'error';
  /** ZooKeeper result code (see error-code.ts). */
  code: number;
}

/**
 * All-or-nothing batch. When any op failed in preparation, every op is an `error` txn: the
 * failing op carries its code, the ops before it `Ok` and the ops after it
 * `RuntimeInconsistency` (ZooKeeper's per-op results), and nothing changes. ZooKeeper itself
 * logs the ops before the failure as their real txns and rewrites them to `ErrorTxn(Ok)` at
 * apply time (`DataTree.processTxn`); we rewrite at preparation, so the client-visible
 * results are the same and apply stays trivial.
 */
export interface MultiTxn {
  type: 'multi';
  txns: MultiOpTxn[];
}

export type MultiOpTxn = CreateTxn | DeleteTxn | SetDataTxn | CheckTxn | ErrorTxn;

export type TxnBody =
  | CreateTxn
  | DeleteTxn
  | SetDataTxn
  | SetAclTxn
  | CheckTxn
  | CreateSessionTxn
  | CloseSessionTxn
  | ErrorTxn
  | MultiTxn;

export interface Txn {
  header: TxnHeader;
  body: TxnBody;
}
