/**
 * The leader side of Zab phases 1-3 (ZooKeeper `Leader.lead` + `LearnerHandler`).
 *
 * Discovery: collect FollowerInfo from a quorum of voters with data (self included), propose
 *   epoch = max(their acceptedEpochs, ours) + 1, persist it as our acceptedEpoch, send
 *   LeaderInfo. Collect AckEpoch from a quorum; any follower whose (currentEpoch, lastZxid) is
 *   ahead of ours at election makes us give up ("follower is ahead of the leader"). Once our own
 *   history is durable, persist currentEpoch = epoch (never with a non-durable tail: a restart
 *   with currentEpoch = epoch and a shorter log could win an election and TRUNC committed txns).
 * Synchronization: per learner, DIFF / TRUNC / SNAP (`planSync`), the txns as Proposals, then
 *   NEWLEADER(epoch, 0). A quorum of NEWLEADER acks (ours implied: our history is durable)
 *   establishes the epoch: commit the whole initial history, UPTODATE to the acked learners.
 *   Learners that connect later get the same stream and their UPTODATE on their ack.
 * Broadcast: zxids (epoch, 1..), Proposals to synced followers, commit in zxid order when a
 *   quorum of voters (our own `persisted` included) is durable through the zxid; Commit to
 *   followers, Inform to observers.
 * Liveness: Ping every tick; no quorum heard within syncLimit → step down; discovery+sync
 *   beyond initLimit → step down. Lease: see `leaseExpiryTick`.
 */
import { assert, invariantFailed } from '../../util/assert.js';
import { counterOf, epochOf, makeZxid, ZXID_COUNTER_MAX, type Epoch, type PeerId,
  type Zxid } from '../ids.js';
import type { AckEpoch, FollowerInfo, ObserverInfo, PeerMessage, Ping } from '../peer-message.js';
import { isQuorum, quorumValue } from '../quorum/majority.js';
import type { LoggedTxn } from '../ready.js';
import { isAhead } from '../election/vote.js';
import type { PeerContext } from './peer-context.js';

/** A counter this high forces a new epoch (ZXID_COUNTER_MAX as a number). */
const COUNTER_LIMIT = Number(ZXID_COUNTER_MAX);

type LearnerStage = 'info' | 'ackedEpoch' | 'syncing';

interface LearnerHandle {
  readonly id: PeerId;
  readonly observer: boolean;
  readonly hasData: boolean;
  readonly acceptedEpoch: Epoch;
  stage: LearnerStage;
  countedAckEpoch: boolean;
  peerLastZxid: Zxid;
  /** Last zxid of the synchronization stream sent to it. */
  syncThroughZxid: Zxid;
  newLeaderAcked: boolean;
  /** Cumulative: the learner's log is durable through this zxid. */
  ackedZxid: Zxid;
  lastHeardTick: number;
  echoedHeartbeat: number;
  /** Heartbeat current when its NEWLEADER was sent: its NEWLEADER ack echoes at least that. */
  heartbeatAtSync: number;
}

export type SyncPlan =
  | { readonly kind: 'diff'; readonly txns: readonly LoggedTxn[] }
  | { readonly kind: 'trunc'; readonly zxid: Zxid; readonly txns: readonly LoggedTxn[] }
  | { readonly kind: 'snap'; readonly zxid: Zxid; readonly bytes: Buffer;
    readonly txns: readonly LoggedTxn[] };

interface PendingSync {
  readonly syncId: number;
  readonly from: PeerId | undefined;
  readonly heartbeat: number;
  readonly zxid: Zxid;
}

const NEVER = -1_000_000_000;

/** What a leader reports to operators (`mntr`); read-only, it never drives the protocol. */
export interface LearnerCounts {
  /** Voting learners connected to this leader (in discovery, sync or broadcast). */
  readonly followers: number;
  /** Of those, the ones that acked NEWLEADER: synced and receiving proposals. */
  readonly syncedFollowers: number;
  /** sync() requests waiting for their quorum confirmation. */
  readonly pendingSyncs: number;
}

export class LeaderPhases {
  phase: 'discovery' | 'synchronization' | 'broadcast' = 'discovery';
  epoch: Epoch | undefined;
  private readonly startedTick: number;
  private readonly summary: { epoch: Epoch; zxid: Zxid };
  private readonly learners = new Map<PeerId, LearnerHandle>();
  private syncQueue: PeerId[] = [];
  private historyEndZxid: Zxid = 0n;
  private readonly outstanding = new Map<Zxid, Buffer>();
  private heartbeat = 0;
  private readonly heartbeatSentTick = new Map<number, number>();
  /**
   * `leaseExpiryTick()` as last computed; undefined once any of its inputs changed (a
   * heartbeat sent or echoed, a learner added, removed or synced). Every proposal checks the
   * lease twice, so it is computed once per change instead of once per check.
   */
  private leaseExpiryCache: number | undefined;
  private pendingSyncs: PendingSync[] = [];

  constructor(private readonly peer: PeerContext, _vote: { zxid: Zxid; peerEpoch: Epoch }) {
    this.startedTick = peer.now;
    this.summary = { epoch: peer.currentEpoch, zxid: peer.lastLoggedZxid };
    this.maybeDecideEpoch();
  }

  get isEstablished(): boolean {
    return this.phase === 'broadcast';
  }

  learnerCounts(): LearnerCounts {
    const voting = [...this.learners.values()].filter((h) => !h.observer);
    return { followers: voting.length,
      syncedFollowers: voting.filter((h) => h.newLeaderAcked).length,
      pendingSyncs: this.pendingSyncs.length };
  }

  // ---- liveness and lease ----

  tick(): void {
    const inRole = this.peer.now - this.startedTick;
    if (this.phase !== 'broadcast' && inRole > this.peer.config.initLimitTicks) {
      this.peer.becomeLooking('leader: initLimit passed before a quorum synced');
      return;
    }
    if (this.phase === 'broadcast') {
      const heard = quorumValue(this.peer.config.voters, (v) => this.heardTick(v), NEVER);
      if (this.peer.now - heard > this.peer.config.syncLimitTicks) {
        this.peer.becomeLooking('leader: not sufficient followers synced within syncLimit');
        return;
      }
      if (counterOf(this.peer.lastLoggedZxid) >= Number(ZXID_COUNTER_MAX) - 1 &&
        epochOf(this.peer.lastLoggedZxid) === this.epoch) {
        this.peer.becomeLooking('leader: zxid counter about to overflow, new epoch needed');
        return;
      }
    }
    this.sendPings();
  }

  private heardTick(voter: PeerId): number | undefined {
    if (voter === this.peer.id) return this.peer.now;
    const handle = this.learners.get(voter);
    return handle?.newLeaderAcked === true ? handle.lastHeardTick : undefined;
  }

  private sendPings(): void {
    this.heartbeat++;
    this.heartbeatSentTick.set(this.heartbeat, this.peer.now);
    this.leaseExpiryCache = undefined;
    this.leaseExpiryTick(); // prunes send ticks older than the quorum's echo (bounded map)
    const ping: Ping = { type: 'ping', fromLeader: true, heartbeat: this.heartbeat,
      sessionTouches: [] };
    for (const handle of this.learners.values()) this.peer.out.send(handle.id, ping);
  }

  private quorumEchoedHeartbeat(): number {
    return quorumValue(this.peer.config.voters, (voter) => {
      if (voter === this.peer.id) return this.heartbeat;
      const handle = this.learners.get(voter);
      return handle?.newLeaderAcked === true ? handle.echoedHeartbeat : undefined;
    }, 0);
  }

  /**
   * The lease ends `leaseTicks` after the send tick of the newest heartbeat echoed by a quorum
   * of voters (or of the NEWLEADER each of them acked). Each of those followers received that
   * message after we sent it and, having acked NEWLEADER, promised not to help establish anyone
   * until leaseWaitTicks of its own ticks after its last message from us: its learner timeout
   * (syncLimitTicks >= leaseWaitTicks), and `electionQuietUntilTick` when it leaves us earlier
   * (connection lost, gap, refusal) or restarts. Any new leader needs one of them. So our lease
   * ends before a new leader can be established provided
   * (leaseTicks + 1) / slowestClockRate <= leaseWaitTicks / fastestRate (the +1 is tick
   * granularity: the follower's first tick after our message may come at once). The simulator
   * draws clock rates down to 0.8 and checks, at every establishment, that no other replica
   * still holds a valid lease.
   */
  leaseExpiryTick(): number {
    if (this.leaseExpiryCache !== undefined) return this.leaseExpiryCache;
    const echoed = this.quorumEchoedHeartbeat();
    const sent = this.heartbeatSentTick.get(echoed) ?? NEVER;
    for (const key of this.heartbeatSentTick.keys()) {
      if (key < echoed) this.heartbeatSentTick.delete(key);
    }
    this.leaseExpiryCache = sent + this.peer.config.leaseTicks;
    return this.leaseExpiryCache;
  }

  isLeaseValid(): boolean {
    return this.phase === 'broadcast' && this.peer.now < this.leaseExpiryTick();
  }

  // ---- messages ----

  receive(from: PeerId, message: PeerMessage): void {
    const handle = this.learners.get(from);
    if (handle !== undefined) handle.lastHeardTick = this.peer.now;
    switch (message.type) {
      case 'followerInfo':
      case 'observerInfo':
        this.onLearnerInfo(from, message);
        return;
      case 'ackEpoch':
        if (handle !== undefined) this.onAckEpoch(handle, message);
        return;
      case 'ack':
        if (handle !== undefined) this.onAck(handle, message.zxid);
        return;
      case 'ping':
        if (handle !== undefined && !message.fromLeader) this.onPingReply(handle, message);
        return;
      case 'request':
        if (this.phase === 'broadcast' && handle?.newLeaderAcked === true) {
          this.peer.out.requests.push({ from, sessionId: message.sessionId, cxid: message.cxid,
            bytes: message.bytes });
        }
        return;
      case 'sync':
        if (handle?.newLeaderAcked === true) this.sync(message.syncId, from);
        return;
      case 'notification': case 'leaderInfo': case 'diff': case 'trunc': case 'snap':
      case 'proposal': case 'commit': case 'newLeader': case 'upToDate': case 'inform':
      case 'syncReply':
        return; // addressed to learners; another leader's traffic is ignored
    }
  }

  forgetLearner(id: PeerId): void {
    this.learners.delete(id);
    this.leaseExpiryCache = undefined;
    this.syncQueue = this.syncQueue.filter((queued) => queued !== id);
  }

  /** Discovery step 1 (CEPOCH). A reconnecting learner starts over with a fresh handle. */
  private onLearnerInfo(from: PeerId, info: FollowerInfo | ObserverInfo): void {
    const observer = info.type === 'observerInfo';
    const members = observer ? this.peer.config.observers : this.peer.config.voters;
    if (!members.includes(from)) return;
    const existing = this.learners.get(from);
    if (existing !== undefined && existing.stage === 'info') {
      // A retry of the same connection attempt (FIFO: it precedes any AckEpoch).
      if (this.epoch !== undefined) {
        this.peer.out.send(from, { type: 'leaderInfo', epoch: this.epoch });
      }
      return;
    }
    this.syncQueue = this.syncQueue.filter((id) => id !== from);
    this.leaseExpiryCache = undefined;
    this.learners.set(from, {
      id: from, observer, hasData: info.type === 'followerInfo' && info.hasData,
      acceptedEpoch: info.acceptedEpoch, stage: 'info', countedAckEpoch: false, peerLastZxid: 0n,
      syncThroughZxid: 0n, newLeaderAcked: false, ackedZxid: 0n, lastHeardTick: this.peer.now,
      echoedHeartbeat: 0, heartbeatAtSync: 0,
    });
    if (this.epoch === undefined) {
      this.maybeDecideEpoch();
      return;
    }
    if (!observer && info.hasData && info.acceptedEpoch > this.epoch) {
      // It accepted a newer epoch than ours: it would refuse us forever; re-elect.
      this.peer.becomeLooking('leader: a voter has accepted a newer epoch');
      return;
    }
    this.peer.out.send(from, { type: 'leaderInfo', epoch: this.epoch });
  }

  /** Discovery step 2 (NEWEPOCH): epoch = max accepted epoch of a quorum + 1, persisted first. */
  private maybeDecideEpoch(): void {
    const counted = [...this.learners.values()].filter((h) => !h.observer && h.hasData);
    if (!isQuorum(this.peer.config.voters, [this.peer.id, ...counted.map((h) => h.id)])) return;
    let epoch = this.peer.acceptedEpoch;
    for (const handle of counted) if (handle.acceptedEpoch > epoch) epoch = handle.acceptedEpoch;
    this.epoch = epoch + 1;
    this.peer.acceptedEpoch = this.epoch;
    this.peer.writeEpochs();
    for (const handle of this.learners.values()) {
      this.peer.out.send(handle.id, { type: 'leaderInfo', epoch: this.epoch });
    }
  }

  /** Discovery step 3 (ACK-E): refuse to lead a follower that is ahead of us. */
  private onAckEpoch(handle: LearnerHandle, ack: AckEpoch): void {
    if (handle.stage !== 'info' || this.epoch === undefined) return;
    // Only the discovery quorum is checked (ZooKeeper waitForEpochAck); a later joiner's
    // extra tail was never committed (the electing quorum did not have it): TRUNC handles it.
    if (this.phase === 'discovery' &&
      isAhead({ epoch: ack.currentEpoch, zxid: ack.lastZxid }, this.summary)) {
      this.peer.becomeLooking('leader: follower is ahead of the leader');
      return;
    }
    handle.stage = 'ackedEpoch';
    handle.countedAckEpoch = ack.counted;
    handle.peerLastZxid = ack.lastZxid;
    this.syncQueue.push(handle.id);
    if (this.phase === 'discovery') this.maybeFinishDiscovery();
    else this.flushSyncs();
  }

  private maybeFinishDiscovery(): void {
    if (this.phase !== 'discovery' || this.epoch === undefined) return;
    const acked = [...this.learners.values()]
      .filter((h) => !h.observer && h.hasData && h.stage !== 'info' && h.countedAckEpoch);
    if (!isQuorum(this.peer.config.voters, [this.peer.id, ...acked.map((h) => h.id)])) return;
    if (this.peer.lastDurableZxid < this.peer.lastLoggedZxid) return; // onPersisted retries
    this.peer.currentEpoch = this.epoch;
    this.peer.writeEpochs();
    this.phase = 'synchronization';
    this.historyEndZxid = this.peer.lastLoggedZxid;
    this.flushSyncs();
    this.maybeEstablish();
  }

  onPersisted(): void {
    if (this.phase === 'discovery') this.maybeFinishDiscovery();
    else if (this.phase === 'broadcast') this.tryCommit();
  }

  afterAdvance(): void {
    this.flushSyncs();
  }

  // ---- synchronization ----

  /** Streams are built from the history view, which lags this Ready's appends: wait for them. */
  private flushSyncs(): void {
    if (this.phase === 'discovery' || this.peer.out.append.length > 0) return;
    const queue = this.syncQueue;
    this.syncQueue = [];
    for (const id of queue) {
      const handle = this.learners.get(id);
      if (handle !== undefined && handle.stage === 'ackedEpoch') this.syncLearner(handle);
    }
  }

  private syncLearner(handle: LearnerHandle): void {
    assert(this.epoch !== undefined, 'sync before the epoch is decided');
    const plan = planSync(this.peer, handle.peerLastZxid);
    const out = this.peer.out;
    switch (plan.kind) {
      case 'diff':
        out.send(handle.id, { type: 'diff', zxid: this.peer.lastLoggedZxid });
        break;
      case 'trunc':
        out.send(handle.id, { type: 'trunc', zxid: plan.zxid });
        break;
      case 'snap':
        sendSnapshot(this.peer, handle.id, plan.zxid, plan.bytes);
        break;
    }
    for (const logged of plan.txns) {
      out.send(handle.id, { type: 'proposal', zxid: logged.zxid, txn: logged.txn });
    }
    out.send(handle.id, { type: 'newLeader', zxid: makeZxid(this.epoch, 0),
      lastZxid: this.peer.lastLoggedZxid });
    handle.stage = 'syncing';
    handle.syncThroughZxid = this.peer.lastLoggedZxid;
    handle.heartbeatAtSync = this.heartbeat;
  }

  private onAck(handle: LearnerHandle, zxid: Zxid): void {
    assert(this.epoch !== undefined, 'ack before the epoch is decided');
    if (zxid === makeZxid(this.epoch, 0)) {
      if (handle.stage !== 'syncing' || handle.newLeaderAcked) return;
      handle.newLeaderAcked = true;
      this.leaseExpiryCache = undefined;
      handle.ackedZxid = handle.syncThroughZxid;
      if (handle.heartbeatAtSync > handle.echoedHeartbeat) {
        handle.echoedHeartbeat = handle.heartbeatAtSync;
      }
      if (this.phase === 'broadcast') {
        this.peer.out.send(handle.id, { type: 'upToDate', zxid: this.peer.committedZxid });
        this.tryCommit();
      } else {
        this.maybeEstablish();
      }
      return;
    }
    // An ack before the NEWLEADER ack is not counted (ZK-4646's symptom).
    if (!handle.newLeaderAcked || handle.observer || zxid <= handle.ackedZxid) return;
    handle.ackedZxid = zxid < this.peer.lastLoggedZxid ? zxid : this.peer.lastLoggedZxid;
    this.tryCommit();
  }

  /** NEWLEADER acked by a quorum (our durable history counts for us): the epoch is established. */
  private maybeEstablish(): void {
    if (this.phase !== 'synchronization') return;
    const acked = [...this.learners.values()].filter((h) => !h.observer && h.newLeaderAcked);
    if (!isQuorum(this.peer.config.voters, [this.peer.id, ...acked.map((h) => h.id)])) return;
    this.phase = 'broadcast';
    this.peer.commitThrough(this.historyEndZxid);
    for (const handle of this.learners.values()) {
      if (handle.newLeaderAcked) {
        this.peer.out.send(handle.id, { type: 'upToDate', zxid: this.peer.committedZxid });
      }
    }
    this.peer.out.resetSessions = true;
    this.peer.noteRole('leader: NEWLEADER acked by a quorum', true);
  }

  // ---- broadcast ----

  nextZxid(): Zxid | undefined {
    if (this.epoch === undefined || !this.isLeaseValid()) return undefined;
    const last = this.peer.lastLoggedZxid;
    const counter = epochOf(last) === this.epoch ? counterOf(last) : 0;
    if (counter + 1 >= COUNTER_LIMIT) return undefined; // tick() steps down
    return makeZxid(this.epoch, counter + 1);
  }

  propose(zxid: Zxid, txn: Buffer): boolean {
    const expected = this.nextZxid();
    if (expected === undefined) return false;
    if (zxid !== expected) invariantFailed(`propose ${zxid}, expected ${expected}`);
    this.peer.out.append.push({ zxid, txn });
    this.peer.lastLoggedZxid = zxid;
    this.outstanding.set(zxid, txn);
    for (const handle of this.learners.values()) {
      if (handle.stage === 'syncing' && !handle.observer) {
        this.peer.out.send(handle.id, { type: 'proposal', zxid, txn });
      }
    }
    return true;
  }

  /** Commit point = largest zxid a quorum of voters holds durably; commits are in zxid order. */
  private tryCommit(): void {
    if (this.phase !== 'broadcast') return;
    const point = quorumValue(this.peer.config.voters, (voter) => {
      if (voter === this.peer.id) return this.peer.lastDurableZxid;
      const handle = this.learners.get(voter);
      return handle?.newLeaderAcked === true ? handle.ackedZxid : undefined;
    }, 0n);
    const previous = this.peer.committedZxid;
    if (point <= previous) return;
    this.peer.commitThrough(point);
    // Insertion order is zxid order (only `propose` adds): stop at the first one past point.
    const informs: Array<[Zxid, Buffer]> = [];
    for (const entry of this.outstanding) {
      if (entry[0] > point) break;
      if (entry[0] > previous) informs.push(entry);
    }
    for (const handle of this.learners.values()) {
      if (handle.stage !== 'syncing') continue;
      if (!handle.observer) {
        this.peer.out.send(handle.id, { type: 'commit', zxid: point });
        continue;
      }
      for (const [zxid, txn] of informs) {
        this.peer.out.send(handle.id, { type: 'inform', zxid, txn });
      }
    }
    for (const [zxid] of informs) this.outstanding.delete(zxid);
    this.completeSyncs();
  }

  private onPingReply(handle: LearnerHandle, ping: Ping): void {
    if (ping.heartbeat > handle.echoedHeartbeat && ping.heartbeat <= this.heartbeat) {
      handle.echoedHeartbeat = ping.heartbeat;
      this.leaseExpiryCache = undefined;
    }
    if (ping.sessionTouches.length > 0) this.peer.out.sessionTouches.push(...ping.sessionTouches);
    this.completeSyncs();
  }

  /** Linearizable sync: answer after a heartbeat round sent after the request is echoed by a
   * quorum (we were still leader) and everything proposed before it is committed. */
  sync(syncId: number, from: PeerId | undefined): boolean {
    if (this.phase !== 'broadcast') return false;
    if (this.pendingSyncs.length >= this.peer.config.pendingSyncsMax) return false;
    this.pendingSyncs.push({ syncId, from, heartbeat: this.heartbeat + 1,
      zxid: this.peer.lastLoggedZxid });
    this.sendPings();
    this.completeSyncs();
    return true;
  }

  private completeSyncs(): void {
    if (this.pendingSyncs.length === 0) return;
    const echoed = this.quorumEchoedHeartbeat();
    this.pendingSyncs = this.pendingSyncs.filter((pending) => {
      if (pending.heartbeat > echoed || pending.zxid > this.peer.committedZxid) return true;
      const { syncId, from, zxid } = pending;
      if (from === undefined) this.peer.out.syncResults.push({ syncId, ok: true });
      else this.peer.out.send(from, { type: 'syncReply', syncId, zxid });
      return false;
    });
  }

  abandon(): void {
    for (const pending of this.pendingSyncs) {
      if (pending.from === undefined) {
        this.peer.out.syncResults.push({ syncId: pending.syncId, ok: false });
      }
    }
    this.pendingSyncs = [];
  }
}

/**
 * ZooKeeper's sync choice (§1.5) for a learner whose last zxid is `peerZxid`:
 * - equal to ours → empty DIFF; in our log → DIFF of the txns after it;
 * - not in our log but our largest zxid below it is in the same epoch (its tail is a suffix
 *   we never had: uncommitted) or is 0 → TRUNC to that zxid, then DIFF;
 * - otherwise (TRUNC would cross an epoch boundary, or too old, or too many txns) → SNAP.
 */
export function planSync(peer: PeerContext, peerZxid: Zxid): SyncPlan {
  const countMax = peer.config.diffTxnCountMax;
  if (peerZxid === peer.lastLoggedZxid) return { kind: 'diff', txns: [] };
  const below = peerZxid < 0n ? undefined : peer.history.lastZxidAtOrBefore(peerZxid);
  if (below !== undefined && below === peerZxid) {
    const txns = peer.history.txnsAfter(peerZxid, countMax);
    if (txns !== undefined) return { kind: 'diff', txns };
  } else if (below !== undefined && (below === 0n || epochOf(below) === epochOf(peerZxid))) {
    const txns = peer.history.txnsAfter(below, countMax);
    if (txns !== undefined) return { kind: 'trunc', zxid: below, txns };
  }
  const snapshot = peer.history.snapshot();
  const txns = peer.history.txnsAfter(snapshot.zxid, Number.MAX_SAFE_INTEGER);
  assert(txns !== undefined, 'history lacks the txns after its own snapshot');
  return { kind: 'snap', zxid: snapshot.zxid, bytes: snapshot.bytes, txns };
}

function sendSnapshot(peer: PeerContext, to: PeerId, zxid: Zxid, bytes: Buffer): void {
  const chunkBytes = peer.config.snapshotChunkBytes;
  const chunkCount = Math.max(1, Math.ceil(bytes.length / chunkBytes));
  for (let index = 0; index < chunkCount; index++) {
    const chunk = bytes.subarray(index * chunkBytes, (index + 1) * chunkBytes);
    peer.out.send(to, { type: 'snap', zxid, chunkIndex: index, chunkCount, bytes: chunk });
  }
}
