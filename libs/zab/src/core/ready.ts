/**
 * The inputs a `ZabPeer` is built from and the `Ready` batch of effects it hands its driver.
 *
 * Driver contract for one Ready (etcd raft's Ready/Advance), in this order:
 *  1. `epochWrite`: write the whole record atomically and durably (tmp + fsync + rename).
 *  2. `truncateAfterZxid`: durably drop every logged txn after the zxid (TRUNC).
 *     `installSnapshot`: replace the log by the snapshot; the replacement and this Ready's
 *     `append` must become durable together (write aside, fsync, switch): a crash leaves either
 *     the old log or the new one (ZK-3642, ZK-2872).
 *  3. `append`: append to the log in order (need not be durable yet); when an fsync covering
 *     them completes, call `persisted(lastDurableZxid)` (also after a snapshot install with no
 *     appends: `persisted(installSnapshot.zxid)`).
 *  4. `messages`: send only after 1 and 2 are durable (e.g. AckEpoch after acceptedEpoch,
 *     NEWLEADER's ack after currentEpoch). Messages do NOT wait for 3: acks of appended txns are
 *     emitted by the peer only after `persisted`.
 *  5. `commitThroughZxid`: apply the logged txns in zxid order through this zxid (every one is
 *     already in the log: appended by this or an earlier Ready).
 *  6. the rest (role changes, forwarded requests, session effects, sync results) in any order.
 *  Then call `advance()`; no other input may be given between `ready()` and `advance()`.
 */
import type { Epoch, PeerId, Zxid } from './ids.js';
import type { PeerMessage, SessionTouch } from './peer-message.js';

/** Durable protocol state besides the log (ZooKeeper's acceptedEpoch/currentEpoch files). */
export interface PersistedState {
  readonly acceptedEpoch: Epoch;
  readonly currentEpoch: Epoch;
  /** Last zxid in the durable log (or snapshot base), 0n when empty. */
  readonly lastLoggedZxid: Zxid;
  /** False for an empty/wiped data directory: the replica does not vote until synced (ZK-261). */
  readonly hasData: boolean;
}

export interface EpochWrite {
  readonly acceptedEpoch: Epoch;
  readonly currentEpoch: Epoch;
  readonly hasData: boolean;
}

export interface LoggedTxn {
  readonly zxid: Zxid;
  readonly txn: Buffer;
}

/**
 * Read-only view of the local log the leader uses to synchronize learners. It must reflect
 * every `append`/`truncate`/`installSnapshot` of Readys already advanced.
 */
export interface HistoryView {
  /**
   * Largest logged zxid <= `zxid` (0n when none); undefined when `zxid` precedes the retained
   * log.
   */
  lastZxidAtOrBefore(zxid: Zxid): Zxid | undefined;
  /** Txns after `zxid` in order, or undefined when not all retained or more than `countMax`. */
  txnsAfter(zxid: Zxid, countMax: number): readonly LoggedTxn[] | undefined;
  /** A snapshot of committed state through `zxid` (every txn after it must be in the log). */
  snapshot(): { readonly zxid: Zxid; readonly bytes: Buffer };
}

/** Seeded randomness (election timeout jitter); the peer never uses Math.random. */
export interface RandomSource {
  /** Uniform integer in [0, boundExclusive). */
  nextInt(boundExclusive: number): number;
}

export type Role = 'looking' | 'leading' | 'following' | 'observing';

export interface RoleChange {
  readonly role: Role;
  /** The leader followed or led (undefined while looking). */
  readonly leader: PeerId | undefined;
  readonly epoch: Epoch;
  /** True once the leader is established (NEWLEADER quorum) / the learner got UPTODATE. */
  readonly established: boolean;
  readonly reason: string;
}

export interface OutboundMessage {
  readonly to: PeerId;
  readonly message: PeerMessage;
}

export interface ForwardedRequest {
  readonly from: PeerId;
  readonly sessionId: bigint;
  readonly cxid: number;
  readonly bytes: Buffer;
}

export interface SyncResult {
  readonly syncId: number;
  readonly ok: boolean;
}

export interface SnapshotInstall {
  readonly zxid: Zxid;
  readonly bytes: Buffer;
}

export interface Ready {
  readonly epochWrite: EpochWrite | undefined;
  readonly truncateAfterZxid: Zxid | undefined;
  readonly installSnapshot: SnapshotInstall | undefined;
  readonly append: readonly LoggedTxn[];
  readonly messages: readonly OutboundMessage[];
  readonly commitThroughZxid: Zxid | undefined;
  readonly roleChanges: readonly RoleChange[];
  /** Leader only: forwarded client writes for the driver to prepare and `propose`. */
  readonly requests: readonly ForwardedRequest[];
  /** Leader only: session activity reported by learners' pings. */
  readonly sessionTouches: readonly SessionTouch[];
  /** Leader only, on establishment: give every session its full timeout again (§1.9). */
  readonly resetSessions: boolean;
  readonly syncResults: readonly SyncResult[];
}
