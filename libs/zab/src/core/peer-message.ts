/**
 * Messages exchanged between replicas (Zab paper / ZooKeeper `QuorumPacket` names).
 *
 * The sender is not part of a message: the transport knows which peer a frame came from and
 * `ZabPeer.step(from, message)` receives it separately. Transactions are opaque bytes (core does
 * not import state/); snapshots are opaque bytes streamed in chunks.
 *
 * Conventions that differ from ZooKeeper's packets, and why:
 * - `Commit(zxid)` commits every txn up to `zxid` (ZooKeeper sends one COMMIT per zxid); commits
 *   are in zxid order anyway, so one cumulative message carries the same information.
 * - `Ack(zxid)` from a follower means "my log is durable through `zxid`" (cumulative); acks of
 *   NEWLEADER carry `makeZxid(newEpoch, 0)` exactly as in ZooKeeper.
 * - `Ping` both ways carries a heartbeat number; the learner echoes the leader's number so the
 *   leader can time its lease and confirm quorum rounds for linearizable `sync`.
 */
import type { Epoch, PeerId, SessionId, Zxid } from './ids.js';

/** FLE server state as carried in notifications. */
export type ServerState = 'looking' | 'following' | 'leading' | 'observing';

export const SERVER_STATES: readonly ServerState[] =
  ['looking', 'following', 'leading', 'observing'];

/** `zxid` of a replica whose data directory is empty/wiped (ZooKeeper's −1, ZK-261). */
export const NO_DATA_ZXID: Zxid = -1n;

/** FLE notification: the sender's current vote, its round (logical clock) and its state. */
export interface Notification {
  readonly type: 'notification';
  readonly state: ServerState;
  readonly leader: PeerId;
  readonly zxid: Zxid;
  readonly round: number;
  readonly peerEpoch: Epoch;
}

/** Discovery step 1 (paper CEPOCH): a follower announces its accepted epoch. */
export interface FollowerInfo {
  readonly type: 'followerInfo';
  readonly acceptedEpoch: Epoch;
  /** False for a wiped replica: its accepted epoch is not counted (ZK-261). */
  readonly hasData: boolean;
}

/** Same as FollowerInfo for an observer (never counted in any quorum). */
export interface ObserverInfo {
  readonly type: 'observerInfo';
  readonly acceptedEpoch: Epoch;
}

/** Discovery step 2 (paper NEWEPOCH): the prospective leader's new epoch. */
export interface LeaderInfo {
  readonly type: 'leaderInfo';
  readonly epoch: Epoch;
}

/** Discovery step 3 (paper ACK-E), sent after the learner persisted `acceptedEpoch`. */
export interface AckEpoch {
  readonly type: 'ackEpoch';
  readonly currentEpoch: Epoch;
  readonly lastZxid: Zxid;
  /** False when the learner had already accepted this epoch (ZooKeeper sends −1). */
  readonly counted: boolean;
}

/** Synchronization: the txns after the learner's last zxid follow as Proposals. */
export interface Diff {
  readonly type: 'diff';
  readonly zxid: Zxid;
}

/** Synchronization: the learner drops every logged txn after `zxid` (uncommitted tail). */
export interface Trunc {
  readonly type: 'trunc';
  readonly zxid: Zxid;
}

/** Synchronization: one chunk of the leader's snapshot through `zxid` (opaque bytes). */
export interface Snap {
  readonly type: 'snap';
  readonly zxid: Zxid;
  readonly chunkIndex: number;
  readonly chunkCount: number;
  readonly bytes: Buffer;
}

export interface Proposal {
  readonly type: 'proposal';
  readonly zxid: Zxid;
  readonly txn: Buffer;
}

export interface Commit {
  readonly type: 'commit';
  readonly zxid: Zxid;
}

/**
 * End of the synchronization stream; `zxid` is `makeZxid(newEpoch, 0)`. `lastZxid` is the last
 * zxid of the stream (ZooKeeper's NEWLEADER does not carry it): the learner refuses to ack a
 * stream that does not end there, so a hole in the stream can never be acked as synced.
 */
export interface NewLeader {
  readonly type: 'newLeader';
  readonly zxid: Zxid;
  readonly lastZxid: Zxid;
}

export interface Ack {
  readonly type: 'ack';
  readonly zxid: Zxid;
}

/** Paper COMMIT-LD: the learner may serve; `zxid` is the leader's last committed zxid. */
export interface UpToDate {
  readonly type: 'upToDate';
  readonly zxid: Zxid;
}

/** A committed txn with its payload, for observers (they see no Proposal/Commit). */
export interface Inform {
  readonly type: 'inform';
  readonly zxid: Zxid;
  readonly txn: Buffer;
}

export interface SessionTouch {
  readonly sessionId: SessionId;
  readonly timeoutMs: number;
}

export interface Ping {
  readonly type: 'ping';
  /** True for the leader's heartbeat, false for a learner's echo (never answered). */
  readonly fromLeader: boolean;
  readonly heartbeat: number;
  /** Learner → leader only: sessions active on the learner since its last ping. */
  readonly sessionTouches: readonly SessionTouch[];
}

/** A client write forwarded by a learner to the leader, whose driver prepares it. */
export interface Request {
  readonly type: 'request';
  readonly sessionId: SessionId;
  readonly cxid: number;
  readonly bytes: Buffer;
}

/** Learner → leader: linearizable sync request. */
export interface Sync {
  readonly type: 'sync';
  readonly syncId: number;
}

/** Leader → learner: after a quorum confirmed leadership; apply through `zxid`, then answer. */
export interface SyncReply {
  readonly type: 'syncReply';
  readonly syncId: number;
  readonly zxid: Zxid;
}

export type PeerMessage =
  | Notification
  | FollowerInfo
  | ObserverInfo
  | LeaderInfo
  | AckEpoch
  | Diff
  | Trunc
  | Snap
  | Proposal
  | Commit
  | NewLeader
  | Ack
  | UpToDate
  | Inform
  | Ping
  | Request
  | Sync
  | SyncReply;

export type PeerMessageType = PeerMessage['type'];
