/**
 * What an in-process client (`LocalCoordinationClient`) needs from the replica it runs on:
 * the standalone `Replica` and the ensemble driver (`EnsembleReplica`) both provide it.
 */
import type { SessionId } from '../core/ids.js';
import type { DataTree } from '../state/data-tree.js';
import type { WriteRequest } from '../state/request.js';
import type { WatchRegistry } from '../state/watch-registry.js';
import type { CommittedResult, ReplicaWatcher } from './replica.js';
import type { ReplicaStatus } from './replica-status.js';

export interface ClientReplica {
  /** The committed state; reads are served from it. */
  readonly tree: DataTree;
  readonly watches: WatchRegistry<ReplicaWatcher>;
  /** Resolves once the write committed and was applied to `tree` (with its result code). */
  submit(sessionId: SessionId, cxid: number, request: WriteRequest, internal?: boolean):
    Promise<CommittedResult>;
  createSession(requestedTimeoutMs: number, local: boolean):
    Promise<{ sessionId: SessionId; timeoutMs: number }>;
  touchSession(sessionId: SessionId): boolean;
  closeSession(sessionId: SessionId): Promise<void>;
  /** Resolves once `tree` shows every write committed before the call (anywhere). */
  barrier(): Promise<void>;
  onSessionEnd(listener: (sessionId: SessionId, state: 'expired' | 'closed') => void): () => void;
  /**
   * Ensemble members only (a standalone replica is always its own quorum): calls `listener`
   * with false when this replica stops serving in a working quorum (it left its leader, or as
   * leader heard no quorum within syncLimit, and went back to election) and with true when it
   * serves in one again (leader established / learner up to date). Each change once, in
   * order. Clients report them as the `suspended` and `reconnected` connection states.
   */
  onQuorumChange?(listener: (inQuorum: boolean) => void): () => void;
  reportListenerError(error: unknown): void;
  /**
   * ZooKeeper's addAuth for a session served here (not replicated: a client that moves to
   * another replica sends it again, as ZooKeeper clients do). Throws `AuthFailedError` for an
   * unknown scheme (only `digest` is served) or malformed credentials (`user:password`, UTF-8,
   * at most 1024 bytes; at most 16 identities per session), `SessionExpiredError` for a
   * session that is not live here. Takes effect at once: writes submitted after it carry the
   * identity to the leader, whose request preparer checks it against the node's ACL.
   */
  addAuth(sessionId: SessionId, scheme: string, auth: Buffer): void;
  /**
   * For operations served locally (reads): throws `NoAuthError` unless the session's
   * identities grant `permission` (a `Perms` bit set: any one bit suffices) on the node at
   * `path`; a missing node passes (the read itself reports NoNode). ZooKeeper's read rules:
   * getData/getChildren(2)/getAllChildrenNumber READ; exists none; getACL READ|ADMIN, and
   * when a second check for ADMIN alone throws, digest ids are shown redacted
   * (`redactDigests` in state/acl.ts), as LocalCoordinationClient.getAcl does.
   */
  checkPermission(sessionId: SessionId, path: string, permission: number): void;
}

/**
 * What the worker server (`WorkerServer`) serves: a client replica plus what its status and
 * probes, failure report and shutdown need. `Replica` and `EnsembleReplica` both provide it.
 */
export interface ServedReplica extends ClientReplica {
  status(): ReplicaStatus;
  onFailure(listener: (error: Error) => void): () => void;
  close(): Promise<void>;
}
