/**
 * Write requests as clients state them, before validation: the input of the leader's
 * request preparer (request-preparer.ts). Reads never become requests; they are served from
 * the local tree.
 */
import type { CreateModeName } from './create-mode.js';
import type { Acl } from './stat.js';

export interface CreateRequest {
  op: 'create';
  path: string;
  data: Buffer;
  acl: Acl[];
  mode: CreateModeName;
  /** Required for the TTL modes, in ms (1 .. TTL_MS_MAX). */
  ttlMs?: number;
}

export interface DeleteRequest {
  op: 'delete';
  path: string;
  /** Expected version, -1 for any. */
  version: number;
}

export interface SetDataRequest {
  op: 'setData';
  path: string;
  data: Buffer;
  /** Expected version, -1 for any. */
  version: number;
}

export interface SetAclRequest {
  op: 'setACL';
  path: string;
  acl: Acl[];
  /** Expected aversion, -1 for any. */
  version: number;
}

export interface CheckRequest {
  op: 'check';
  path: string;
  version: number;
}

export type MultiOpRequest = CreateRequest | DeleteRequest | SetDataRequest | CheckRequest;

export interface MultiRequest {
  op: 'multi';
  ops: MultiOpRequest[];
}

export interface CreateSessionRequest {
  op: 'createSession';
  /** Requested timeout in ms, negotiated by the session tracker before preparation. */
  timeoutMs: number;
}

export interface CloseSessionRequest {
  op: 'closeSession';
}

/**
 * Internal requests issued by the leader's sweeper: delete the node only if it is still an
 * empty container that once had children (`deleteContainer`), or still a childless TTL node
 * unmodified for its TTL at the transaction's time (`deleteExpiredTtl`).
 */
export interface DeleteContainerRequest {
  op: 'deleteContainer';
  path: string;
}

export interface DeleteExpiredTtlRequest {
  op: 'deleteExpiredTtl';
  path: string;
}

export type WriteRequest =
  | CreateRequest
  | DeleteRequest
  | SetDataRequest
  | SetAclRequest
  | CheckRequest
  | MultiRequest
  | CreateSessionRequest
  | CloseSessionRequest
  | DeleteContainerRequest
  | DeleteExpiredTtlRequest;
