/**
 * `ZabPeer`: one replica's Zab protocol as a pure, deterministic state machine (etcd RawNode
 * style). No I/O, no clock, no randomness of its own.
 *
 * API
 *   new ZabPeer(config: ZabConfig, persisted: PersistedState, history: HistoryView,
 *               random: RandomSource)
 *   inputs:  tick()                            one tick of time (zabTickMs in the driver)
 *            step(from, message)               a message received from peer `from`
 *            connectionLost(peer)              the transport's connection to `peer` broke (any
 *                                              message on it may be lost: the channel is FIFO
 *                                              and gap-free only within one connection)
 *            persisted(zxid)                   the log is durable through `zxid`
 *            nextZxid(): Zxid | undefined      leader in broadcast with a valid lease: the zxid
 *                                              the next `propose` must use (for the preparer)
 *            propose(zxid, txn): boolean       leader: broadcast a prepared txn
 *            forwardRequest(sessionId, cxid, bytes): boolean   learner: send a write to the leader
 *            sync(syncId): boolean             linearizable sync (answered in Ready.syncResults)
 *            touchSession(touch)               learner: report session activity in the next ping
 *   output:  hasReady(), ready(): Ready, advance()   (see ready.ts for the driver's ordering)
 *   queries: role, leader, epoch, isEstablished, isLeaseValid(), leaseExpiryTick, lastLoggedZxid,
 *            committedZxid, now (ticks), describeState()
 *   The state fields (acceptedEpoch, lastLoggedZxid, ...) are public because the phase handlers
 *   share them through `PeerContext`; a driver must treat them as read-only.
 *
 * Sessions: the core keeps no session table. Learners batch `touchSession` into their ping
 * replies; the leader's Ready carries them (`sessionTouches`) to the driver's session tracker,
 * which owns expiry and proposes closeSession txns like any write. When a leader becomes
 * established its Ready has `resetSessions` (every session gets its full timeout again).
 *
 * Protocol: FLE (election/fast-leader-election.ts), then the leader runs discovery,
 * synchronization and broadcast (phases/leader-phases.ts) and each learner the matching
 * follower/observer side (phases/learner-phases.ts). This class owns the shared state and
 * the role transitions.
 */
import { assert, invariantFailed } from '../util/assert.js';
import type { Epoch, PeerId, Zxid } from './ids.js';
import type { FollowerInfo, ObserverInfo, PeerMessage, SessionTouch } from './peer-message.js';
import type { HistoryView, PersistedState, RandomSource, Ready, Role } from './ready.js';
import { ReadyBuilder } from './ready-builder.js';
import { Election } from './election/fast-leader-election.js';
import { LeaderPhases, type LearnerCounts } from './phases/leader-phases.js';
import { LearnerPhases } from './phases/learner-phases.js';
import type { PeerContext } from './phases/peer-context.js';

export interface ZabConfig {
  readonly id: PeerId;
  readonly voters: readonly PeerId[];
  readonly observers: readonly PeerId[];
  /** FLE: first notification resend interval (ZooKeeper finalizeWait 200 ms); doubles. */
  readonly notificationTimeoutTicks: number;
  readonly notificationTimeoutMaxTicks: number;
  /** FLE: wait after a quorum of matching votes for a better vote before deciding. */
  readonly finalizeWaitTicks: number;
  /** Discovery + synchronization must complete within this many ticks. */
  readonly initLimitTicks: number;
  /** Broadcast: a learner hearing nothing, or a leader without a quorum, for this long gives up. */
  readonly syncLimitTicks: number;
  /** Leader lease; must be < leaseWaitTicks (see LeaderPhases.leaseExpiryTick). */
  readonly leaseTicks: number;
  /**
   * Lease promise: a follower that acked NEWLEADER and then leaves its leader (connection lost,
   * gap, refusal) or restarts does not help establish another leader (decide in FLE: count
   * itself as leader, send FollowerInfo) until this many of its ticks after it last heard from
   * the leader. It still exchanges votes meanwhile, so it decides the tick the wait ends. Safe
   * when (leaseTicks + 1) / slowest clock rate <= leaseWaitTicks / fastest rate; at most
   * syncLimitTicks, so a follower that sees its leader's link drop re-elects sooner than one
   * waiting out a silent (e.g. paused) leader.
   */
  readonly leaseWaitTicks: number;
  /** More txns than this to send → SNAP instead of DIFF (ZooKeeper's snapshotSizeFactor). */
  readonly diffTxnCountMax: number;
  readonly snapshotChunkBytes: number;
  /** A learner refuses (back to election) a snapshot stream larger than this. */
  readonly snapshotBytesMax: number;
  /** Linearizable syncs waiting on one replica; `sync` returns false beyond it. */
  readonly pendingSyncsMax: number;
}

export const DEFAULT_ZAB_TIMING = {
  notificationTimeoutTicks: 2,
  notificationTimeoutMaxTicks: 32,
  finalizeWaitTicks: 1,
  initLimitTicks: 10,
  syncLimitTicks: 5,
  leaseTicks: 3,
  leaseWaitTicks: 4,
  diffTxnCountMax: 1000,
  snapshotChunkBytes: 64 * 1024,
  snapshotBytesMax: 4 * 1024 * 1024 * 1024,
  pendingSyncsMax: 10_000,
} as const;

export class ZabPeer implements PeerContext {
  readonly config: ZabConfig;
  readonly history: HistoryView;
  readonly random: RandomSource;
  out = new ReadyBuilder();
  now = 0;
  acceptedEpoch: Epoch;
  currentEpoch: Epoch;
  hasData: boolean;
  lastLoggedZxid: Zxid;
  lastDurableZxid: Zxid;
  /** Highest zxid this replica has been told to apply. */
  committedZxid: Zxid = 0n;
  role: Role = 'looking';
  electionQuietUntilTick: number;
  private readonly election: Election;
  private leaderPhases: LeaderPhases | undefined;
  private learnerPhases: LearnerPhases | undefined;
  private pendingTouches: SessionTouch[] = [];
  /**
   * FollowerInfo / ObserverInfo that reached us while looking: a learner may decide for us
   * before we do (its lease wait ended first). Replayed when we lead, so it need not wait for
   * its next resend; dropped at every other transition. One per member at most.
   */
  private readonly earlyLearnerInfos = new Map<PeerId, FollowerInfo | ObserverInfo>();

  constructor(config: ZabConfig, persisted: PersistedState, history: HistoryView,
    random: RandomSource) {
    validateConfig(config);
    assert(persisted.acceptedEpoch >= persisted.currentEpoch, 'acceptedEpoch < currentEpoch');
    this.config = config;
    this.history = history;
    this.random = random;
    this.acceptedEpoch = persisted.acceptedEpoch;
    this.currentEpoch = persisted.currentEpoch;
    this.hasData = persisted.hasData;
    this.lastLoggedZxid = persisted.lastLoggedZxid;
    this.lastDurableZxid = persisted.lastLoggedZxid;
    // A restarted replica does not know when it last heard from a leader: the whole wait.
    this.electionQuietUntilTick = config.leaseWaitTicks;
    this.election = new Election(this);
    this.election.start('startup');
  }

  get id(): PeerId {
    return this.config.id;
  }

  get isVoter(): boolean {
    return this.config.voters.includes(this.config.id);
  }

  get leader(): PeerId | undefined {
    return this.leaderPhases !== undefined ? this.id : this.learnerPhases?.leader;
  }

  get epoch(): Epoch {
    return this.leaderPhases?.epoch ?? this.learnerPhases?.epoch ?? this.currentEpoch;
  }

  get isEstablished(): boolean {
    return this.leaderPhases?.isEstablished ?? this.learnerPhases?.isUpToDate ?? false;
  }

  /** Leader only (undefined otherwise): its learners and pending syncs, for `mntr`. */
  learnerCounts(): LearnerCounts | undefined {
    return this.leaderPhases?.learnerCounts();
  }

  isLeaseValid(): boolean {
    return this.leaderPhases?.isLeaseValid() ?? false;
  }

  get leaseExpiryTick(): number | undefined {
    return this.leaderPhases?.leaseExpiryTick();
  }

  /** One line for traces: role, leader, phase, epochs, log and commit points. */
  describeState(): string {
    const phase = this.leaderPhases?.phase ?? this.learnerPhases?.stage ?? 'election';
    return `${this.id} ${this.role}(${this.leader ?? '-'}) ${phase} ` +
      `accepted=${this.acceptedEpoch} ` +
      `current=${this.currentEpoch} logged=0x${this.lastLoggedZxid.toString(16)} ` +
      `durable=0x${this.lastDurableZxid.toString(16)} ` +
      `committed=0x${this.committedZxid.toString(16)}`;
  }

  // ---- inputs ----

  tick(): void {
    this.now++;
    if (this.leaderPhases !== undefined) this.leaderPhases.tick();
    else if (this.learnerPhases !== undefined) this.learnerPhases.tick();
    else this.election.tick();
  }

  /**
   * The driver found this replica unfit to lead (e.g. its event loop stalled past a fraction
   * of the election timeout, so its lease and pings cannot be trusted): a leader abandons its
   * epoch and goes back to election, as on losing its quorum. Other roles ignore it (a stalled
   * learner simply rejoins). Returns whether it stepped down.
   */
  stepDown(reason: string): boolean {
    if (this.role !== 'leading') return false;
    this.becomeLooking(`leader: stepped down (${reason})`);
    return true;
  }

  /**
   * ZK-261's one exception: the driver established that every voter is empty (a brand-new
   * ensemble, so no committed state can be lost), and this empty replica starts voting with
   * the empty vote (epoch 0, zxid 0). Only a looking voter without data; returns whether it
   * did. The flag becomes durable with the next epoch write, like after a sync.
   */
  startVotingEmpty(reason: string): boolean {
    if (this.hasData || this.role !== 'looking' || !this.isVoter) return false;
    this.hasData = true;
    this.election.start(reason);
    return true;
  }

  step(from: PeerId, message: PeerMessage): void {
    if (from === this.id) return;
    if (message.type === 'notification') {
      this.election.receive(from, message);
      return;
    }
    if (this.leaderPhases !== undefined) this.leaderPhases.receive(from, message);
    else if (this.learnerPhases !== undefined) this.learnerPhases.receive(from, message);
    else if ((message.type === 'followerInfo' || message.type === 'observerInfo') &&
      (this.config.voters.includes(from) || this.config.observers.includes(from))) {
      this.earlyLearnerInfos.set(from, message);
    }
  }

  /**
   * Zab assumes FIFO channels without holes; the transport guarantees that per connection and
   * reports a broken one here. A learner loses its leader (back to election at once, as
   * ZooKeeper's Follower on a socket error: a crashed leader is replaced without waiting out
   * syncLimit, but the lease promise still holds it back for leaseWaitTicks since it last heard
   * from the leader, since a broken link may be one the live leader has not noticed yet); a
   * leader forgets that learner, who reconnects from discovery.
   */
  connectionLost(peer: PeerId): void {
    this.earlyLearnerInfos.delete(peer);
    if (this.leaderPhases !== undefined) this.leaderPhases.forgetLearner(peer);
    else if (this.learnerPhases !== undefined && this.learnerPhases.leader === peer) {
      this.becomeLooking('learner: connection to the leader lost');
    }
  }

  persisted(zxid: Zxid): void {
    const durable = zxid < this.lastLoggedZxid ? zxid : this.lastLoggedZxid;
    if (durable <= this.lastDurableZxid) return;
    this.lastDurableZxid = durable;
    this.leaderPhases?.onPersisted();
    this.learnerPhases?.onPersisted();
  }

  nextZxid(): Zxid | undefined {
    return this.leaderPhases?.nextZxid();
  }

  propose(zxid: Zxid, txn: Buffer): boolean {
    return this.leaderPhases?.propose(zxid, txn) ?? false;
  }

  forwardRequest(sessionId: bigint, cxid: number, bytes: Buffer): boolean {
    return this.learnerPhases?.forwardRequest(sessionId, cxid, bytes) ?? false;
  }

  sync(syncId: number): boolean {
    if (this.leaderPhases !== undefined) return this.leaderPhases.sync(syncId, undefined);
    return this.learnerPhases?.sync(syncId) ?? false;
  }

  touchSession(touch: SessionTouch): void {
    if (this.learnerPhases !== undefined) this.pendingTouches.push(touch);
  }

  drainTouches(): SessionTouch[] {
    const touches = this.pendingTouches;
    this.pendingTouches = [];
    return touches;
  }

  // ---- output ----

  hasReady(): boolean {
    return !this.out.isEmpty();
  }

  ready(): Ready {
    return this.out.build();
  }

  advance(): void {
    this.out = new ReadyBuilder();
    this.leaderPhases?.afterAdvance();
  }

  // ---- role transitions (PeerContext) ----

  becomeLeader(vote: { zxid: Zxid; peerEpoch: Epoch }): void {
    this.role = 'leading';
    this.learnerPhases = undefined;
    this.leaderPhases = new LeaderPhases(this, vote);
    this.noteRole('elected by FLE', false);
    const early = [...this.earlyLearnerInfos];
    this.earlyLearnerInfos.clear();
    for (const [from, info] of early) {
      if (this.leaderPhases === undefined) return; // it gave up (e.g. a newer accepted epoch)
      this.leaderPhases.receive(from, info);
    }
  }

  becomeLearner(leader: PeerId): void {
    this.role = this.isVoter ? 'following' : 'observing';
    this.leaderPhases = undefined;
    this.learnerPhases = new LearnerPhases(this, leader);
    this.earlyLearnerInfos.clear();
    this.noteRole('FLE decided', false);
  }

  /** Back to election: the only exit of every phase (timeouts, gaps, refusals). */
  becomeLooking(reason: string): void {
    this.leaderPhases?.abandon();
    this.learnerPhases?.abandon();
    this.leaderPhases = undefined;
    this.learnerPhases = undefined;
    this.pendingTouches = [];
    this.earlyLearnerInfos.clear();
    this.role = 'looking';
    this.noteRole(reason, false);
    this.election.start(reason);
  }

  noteRole(reason: string, established: boolean): void {
    this.out.roleChanges.push({
      role: this.role,
      leader: this.leader,
      epoch: this.epoch,
      established,
      reason,
    });
  }

  /** The vote an established peer reports to LOOKING peers (its FLE decision). */
  electedVote(): { leader: PeerId; zxid: Zxid; peerEpoch: Epoch; round: number } {
    return this.election.decidedVote();
  }

  /** Queue an atomic durable write of the whole epoch record (written before any send). */
  writeEpochs(): void {
    this.out.epochWrite = { acceptedEpoch: this.acceptedEpoch, currentEpoch: this.currentEpoch,
      hasData: this.hasData };
  }

  commitThrough(zxid: Zxid): void {
    if (zxid > this.lastLoggedZxid) {
      invariantFailed(`commit ${zxid} beyond log ${this.lastLoggedZxid}`);
    }
    if (zxid <= this.committedZxid) return;
    this.committedZxid = zxid;
    this.out.commitThrough(zxid);
  }
}

function validateConfig(config: ZabConfig): void {
  assert(config.voters.length > 0, 'no voters');
  assert(new Set([...config.voters, ...config.observers]).size ===
    config.voters.length + config.observers.length, 'duplicate or overlapping member ids');
  if (!(config.voters.includes(config.id) || config.observers.includes(config.id))) {
    invariantFailed(`id ${config.id} is not a member`);
  }
  assert(config.leaseTicks < config.leaseWaitTicks, 'leaseTicks must be < leaseWaitTicks');
  assert(config.leaseWaitTicks <= config.syncLimitTicks,
    'leaseWaitTicks must be <= syncLimitTicks');
  assert(config.finalizeWaitTicks >= 0 && config.notificationTimeoutTicks >= 1, 'bad FLE timing');
  assert(config.snapshotChunkBytes >= 1 && config.diffTxnCountMax >= 0, 'bad sync limits');
  assert(config.snapshotBytesMax >= config.snapshotChunkBytes && config.pendingSyncsMax >= 1,
    'bad limits');
}
