/**
 * The follower/observer side of Zab phases 1-3 (ZooKeeper `Learner.registerWithLeader`,
 * `Learner.syncWithLeader`, `Follower.followLeader`, `Observer`).
 *
 * Discovery: send FollowerInfo(acceptedEpoch). On LeaderInfo(e): e < acceptedEpoch → refuse
 *   (back to election); e > acceptedEpoch → persist acceptedEpoch = e BEFORE the AckEpoch
 *   (same Ready: epoch writes are durable before sends); e == acceptedEpoch → AckEpoch marked
 *   not counted.
 * Synchronization: DIFF / TRUNC / SNAP then Proposals (must be contiguous, ZK-4925) then
 *   NEWLEADER. On NEWLEADER the truncation / snapshot and the synced txns go to the log; only
 *   when `persisted` covers them is currentEpoch persisted, and the NEWLEADER ack is sent in
 *   that same later Ready (txns durable → currentEpoch durable → ack: ZK-3911, -4643, -4646,
 *   -4785, -3642). Nothing is applied before UPTODATE.
 * Broadcast: Proposals appended (contiguous), acked cumulatively after `persisted`; Commit /
 *   Inform apply in order. A gap, a commit beyond the log, or silence for syncLimit (initLimit
 *   before UPTODATE) sends the learner back to election.
 */
import { counterOf, epochOf, makeZxid, type Epoch, type PeerId, type Zxid } from '../ids.js';
import type { LeaderInfo, PeerMessage, Snap } from '../peer-message.js';
import type { LoggedTxn } from '../ready.js';
import type { PeerContext } from './peer-context.js';

type Stage =
  'discovery' | 'synchronization' | 'newLeaderPending' | 'awaitingUpToDate' | 'broadcast';

type SyncStart =
  | { readonly kind: 'diff' }
  | { readonly kind: 'trunc'; readonly zxid: Zxid }
  | { readonly kind: 'snap'; readonly zxid: Zxid; readonly chunks: Buffer[];
    readonly chunkCount: number };

/** Zab histories are contiguous: (e, c+1) after (e, c); an epoch's first txn is (e', 1). */
export function isNextZxid(previous: Zxid, zxid: Zxid): boolean {
  if (epochOf(zxid) === epochOf(previous)) return counterOf(zxid) === counterOf(previous) + 1;
  return epochOf(zxid) > epochOf(previous) && counterOf(zxid) === 1;
}

/** Only leader-role traffic proves the leader is alive (a peer we follow may itself be a
 * confused learner sending us FollowerInfo). */
function isFromLeader(message: PeerMessage): boolean {
  switch (message.type) {
    case 'leaderInfo': case 'diff': case 'trunc': case 'snap': case 'proposal': case 'commit':
    case 'newLeader': case 'upToDate': case 'inform': case 'syncReply':
      return true;
    case 'ping':
      return message.fromLeader;
    case 'notification': case 'followerInfo': case 'observerInfo': case 'ackEpoch': case 'ack':
    case 'request': case 'sync':
      return false;
  }
}

export class LearnerPhases {
  stage: Stage = 'discovery';
  epoch: Epoch | undefined;
  private ticksSinceLeader = 0;
  private syncStart: SyncStart | undefined;
  private syncTxns: LoggedTxn[] = [];
  private syncPreviousZxid: Zxid = 0n;
  private syncThroughZxid: Zxid = 0n;
  private knownCommitZxid: Zxid = 0n;
  private lastAckedZxid: Zxid = 0n;
  private readonly pendingSyncs = new Map<number, Zxid | undefined>();
  /** Bytes of the snapshot stream received so far (bounded by snapshotBytesMax). */
  private snapshotBytes = 0;

  constructor(private readonly peer: PeerContext, readonly leader: PeerId) {
    this.sendLearnerInfo();
  }

  /** Sent on start and every tick until LeaderInfo arrives (the leader may still be deciding,
   * as ZooKeeper's learner retries its connection); duplicates are idempotent on the leader. */
  private sendLearnerInfo(): void {
    const message: PeerMessage = this.peer.isVoter
      ? { type: 'followerInfo', acceptedEpoch: this.peer.acceptedEpoch, hasData: this.peer.hasData }
      : { type: 'observerInfo', acceptedEpoch: this.peer.acceptedEpoch };
    this.peer.out.send(this.leader, message);
  }

  get isUpToDate(): boolean {
    return this.stage === 'broadcast';
  }

  tick(): void {
    this.ticksSinceLeader++;
    const limit = this.stage === 'broadcast'
      ? this.peer.config.syncLimitTicks : this.peer.config.initLimitTicks;
    if (this.ticksSinceLeader > limit) this.peer.becomeLooking('learner: leader silent too long');
    else if (this.stage === 'discovery') this.sendLearnerInfo();
  }

  receive(from: PeerId, message: PeerMessage): void {
    if (from !== this.leader) return;
    if (isFromLeader(message)) this.ticksSinceLeader = 0;
    switch (message.type) {
      case 'leaderInfo': return this.onLeaderInfo(message);
      case 'diff': return this.onSyncStart({ kind: 'diff' }, this.peer.lastLoggedZxid);
      case 'trunc': return this.onTrunc(message.zxid);
      case 'snap': return this.onSnap(message);
      case 'proposal': return this.onProposal({ zxid: message.zxid, txn: message.txn });
      case 'newLeader': return this.onNewLeader(message.zxid, message.lastZxid);
      case 'commit': return this.onCommit(message.zxid);
      case 'upToDate': return this.onUpToDate(message.zxid);
      case 'inform': return this.onInform({ zxid: message.zxid, txn: message.txn });
      case 'ping':
        if (!isFromLeader(message)) return;
        this.peer.out.send(from, { type: 'ping', fromLeader: false, heartbeat: message.heartbeat,
          sessionTouches: this.peer.drainTouches() });
        return;
      case 'syncReply':
        if (this.pendingSyncs.has(message.syncId)) {
          this.pendingSyncs.set(message.syncId, message.zxid);
        }
        return this.completeSyncs();
      case 'notification': case 'followerInfo': case 'observerInfo': case 'ackEpoch':
      case 'ack': case 'request': case 'sync':
        return;
    }
  }

  /** Discovery step 2 on the learner: persist acceptedEpoch, then AckEpoch (same Ready). */
  private onLeaderInfo(info: LeaderInfo): void {
    if (this.stage !== 'discovery') {
      // A duplicate answers a retried FollowerInfo. Another epoch: the leader left its epoch
      // and leads again over the same link, so it has forgotten this learner; its pings
      // would keep us waiting forever.
      if (info.epoch !== this.epoch) this.peer.becomeLooking('learner: the leader started over');
      return;
    }
    if (info.epoch < this.peer.acceptedEpoch) {
      this.peer.becomeLooking('learner: leader proposed an epoch older than acceptedEpoch');
      return;
    }
    const counted = info.epoch > this.peer.acceptedEpoch;
    if (counted) {
      this.peer.acceptedEpoch = info.epoch;
      this.peer.writeEpochs();
    }
    this.epoch = info.epoch;
    this.stage = 'synchronization';
    this.peer.out.send(this.leader, { type: 'ackEpoch', currentEpoch: this.peer.currentEpoch,
      lastZxid: this.peer.lastLoggedZxid, counted });
  }

  private onSyncStart(start: SyncStart, previous: Zxid): void {
    if (this.stage !== 'synchronization' || this.syncStart !== undefined) {
      this.peer.becomeLooking('learner: unexpected synchronization header');
      return;
    }
    this.syncStart = start;
    this.syncPreviousZxid = previous;
  }

  private onTrunc(zxid: Zxid): void {
    if (zxid > this.peer.lastLoggedZxid || zxid < this.peer.committedZxid) {
      this.peer.becomeLooking('learner: TRUNC outside the uncommitted tail');
      return;
    }
    this.onSyncStart({ kind: 'trunc', zxid }, zxid);
  }

  private onSnap(snap: Snap): void {
    if (snap.chunkIndex === 0) {
      this.snapshotBytes = 0;
      this.onSyncStart({ kind: 'snap', zxid: snap.zxid, chunks: [],
        chunkCount: snap.chunkCount }, snap.zxid);
    }
    const start = this.syncStart;
    if (start?.kind !== 'snap' || start.zxid !== snap.zxid ||
      start.chunkCount !== snap.chunkCount || start.chunks.length !== snap.chunkIndex) {
      // onSyncStart may already have abandoned this learner for a bad header.
      if (this.peer.role !== 'looking') {
        this.peer.becomeLooking('learner: snapshot chunks out of order');
      }
      return;
    }
    start.chunks.push(snap.bytes);
    this.snapshotBytes += snap.bytes.length;
    if (this.snapshotBytes > this.peer.config.snapshotBytesMax) {
      this.peer.becomeLooking('learner: snapshot larger than snapshotBytesMax');
    }
  }

  private snapComplete(): boolean {
    const start = this.syncStart;
    return start !== undefined &&
      (start.kind !== 'snap' || start.chunks.length === start.chunkCount);
  }

  private onProposal(logged: LoggedTxn): void {
    if (this.stage === 'discovery') return;
    if (this.stage === 'synchronization') {
      if (!this.snapComplete() || !isNextZxid(this.syncPreviousZxid, logged.zxid)) {
        this.peer.becomeLooking('learner: non-contiguous synchronization (ZK-4925)');
        return;
      }
      this.syncTxns.push(logged);
      this.syncPreviousZxid = logged.zxid;
      return;
    }
    this.appendLive(logged);
  }

  private appendLive(logged: LoggedTxn): boolean {
    if (!isNextZxid(this.peer.lastLoggedZxid, logged.zxid)) {
      this.peer.becomeLooking('learner: gap in proposals (ZK-4925)');
      return false;
    }
    this.peer.out.append.push(logged);
    this.peer.lastLoggedZxid = logged.zxid;
    return true;
  }

  /**
   * NEWLEADER: write the synchronized history (truncate / install snapshot, then append).
   * The ack waits for `persisted` (see maybeAckNewLeader).
   */
  private onNewLeader(zxid: Zxid, lastZxid: Zxid): void {
    const start = this.syncStart;
    if (this.stage !== 'synchronization' || this.epoch === undefined || start === undefined ||
      !this.snapComplete() || zxid !== makeZxid(this.epoch, 0)) {
      this.peer.becomeLooking('learner: unexpected NEWLEADER');
      return;
    }
    const streamEnd = start.kind === 'diff' && this.syncTxns.length === 0
      ? this.peer.lastLoggedZxid : this.syncPreviousZxid;
    if (streamEnd !== lastZxid) {
      this.peer.becomeLooking('learner: synchronization stream has a hole');
      return;
    }
    switch (start.kind) {
      case 'diff':
        break;
      case 'trunc':
        this.peer.out.truncate(start.zxid);
        this.peer.lastLoggedZxid = start.zxid;
        if (this.peer.lastDurableZxid > start.zxid) this.peer.lastDurableZxid = start.zxid;
        break;
      case 'snap':
        // The snapshot is committed state: it replaces the log and the applied state.
        this.peer.out.snapshot({ zxid: start.zxid, bytes: Buffer.concat(start.chunks) });
        this.peer.lastLoggedZxid = start.zxid;
        this.peer.lastDurableZxid = -1n;
        this.peer.committedZxid = start.zxid;
        break;
    }
    for (const logged of this.syncTxns) this.peer.out.append.push(logged);
    if (this.syncTxns.length > 0) this.peer.lastLoggedZxid = this.syncPreviousZxid;
    this.syncTxns = [];
    this.syncThroughZxid = this.peer.lastLoggedZxid;
    this.stage = 'newLeaderPending';
    this.maybeAckNewLeader();
  }

  /** Synced txns durable → currentEpoch (and hasData) durable → NEWLEADER ack, in order. */
  private maybeAckNewLeader(): void {
    if (this.stage !== 'newLeaderPending' || this.epoch === undefined) return;
    if (this.peer.lastDurableZxid < this.syncThroughZxid) return;
    this.peer.currentEpoch = this.epoch;
    this.peer.hasData = true;
    this.peer.writeEpochs();
    this.peer.out.send(this.leader, { type: 'ack', zxid: makeZxid(this.epoch, 0) });
    this.lastAckedZxid = this.syncThroughZxid;
    this.stage = 'awaitingUpToDate';
  }

  onPersisted(): void {
    this.maybeAckNewLeader();
    if (this.stage !== 'awaitingUpToDate' && this.stage !== 'broadcast') return;
    if (!this.peer.isVoter || this.peer.lastDurableZxid <= this.lastAckedZxid) return;
    this.lastAckedZxid = this.peer.lastDurableZxid;
    this.peer.out.send(this.leader, { type: 'ack', zxid: this.lastAckedZxid });
  }

  private onCommit(zxid: Zxid): void {
    if (this.stage === 'discovery' || this.stage === 'synchronization') return;
    if (zxid > this.knownCommitZxid) this.knownCommitZxid = zxid;
    this.applyCommits();
  }

  private onUpToDate(zxid: Zxid): void {
    if (this.stage !== 'awaitingUpToDate') return;
    if (zxid > this.knownCommitZxid) this.knownCommitZxid = zxid;
    this.stage = 'broadcast';
    this.peer.noteRole('learner: UPTODATE', true);
    this.applyCommits();
  }

  private onInform(logged: LoggedTxn): void {
    if (this.stage === 'discovery' || this.stage === 'synchronization') return;
    if (logged.zxid > this.peer.lastLoggedZxid && !this.appendLive(logged)) return;
    this.onCommit(logged.zxid);
  }

  private applyCommits(): void {
    if (this.stage !== 'broadcast' || this.knownCommitZxid <= this.peer.committedZxid) return;
    if (this.knownCommitZxid > this.peer.lastLoggedZxid) {
      this.peer.becomeLooking('learner: commit beyond the log (lost proposal)');
      return;
    }
    this.peer.commitThrough(this.knownCommitZxid);
    this.completeSyncs();
  }

  forwardRequest(sessionId: bigint, cxid: number, bytes: Buffer): boolean {
    if (this.stage !== 'broadcast') return false;
    this.peer.out.send(this.leader, { type: 'request', sessionId, cxid, bytes });
    return true;
  }

  sync(syncId: number): boolean {
    if (this.stage !== 'broadcast') return false;
    if (this.pendingSyncs.size >= this.peer.config.pendingSyncsMax) return false;
    this.pendingSyncs.set(syncId, undefined);
    this.peer.out.send(this.leader, { type: 'sync', syncId });
    return true;
  }

  private completeSyncs(): void {
    for (const [syncId, zxid] of this.pendingSyncs) {
      if (zxid === undefined || zxid > this.peer.committedZxid) continue;
      this.pendingSyncs.delete(syncId);
      this.peer.out.syncResults.push({ syncId, ok: true });
    }
  }

  abandon(): void {
    if (this.stage === 'awaitingUpToDate' || this.stage === 'broadcast') {
      // Keep the lease promise made by acking NEWLEADER (see Election).
      const until = this.peer.now + this.peer.config.leaseWaitTicks - this.ticksSinceLeader;
      if (until > this.peer.electionQuietUntilTick) this.peer.electionQuietUntilTick = until;
    }
    for (const syncId of this.pendingSyncs.keys()) {
      this.peer.out.syncResults.push({ syncId, ok: false });
    }
    this.pendingSyncs.clear();
  }
}
