/**
 * Fast Leader Election (ZooKeeper `FastLeaderElection.lookForLeader`), driven by ticks.
 *
 * - Start: round (logical clock) + 1, vote for self = (currentEpoch, lastLoggedZxid, id), send
 *   to every other voter.
 * - LOOKING notification of a higher round: adopt the round, clear the received votes, vote for
 *   the better of its vote and our own initial vote, broadcast. Lower round: answer with our
 *   vote so the laggard catches up. Same round and a better vote: adopt it, broadcast.
 * - When the received votes equal to ours are a quorum, wait `finalizeWaitTicks` for a better
 *   vote; if none arrives, decide (leading when the vote names us, else following).
 * - FOLLOWING/LEADING notifications (an established ensemble) go to `outOfElection`; join its
 *   leader once a quorum of voters names it and the leader itself reports LEADING (checkLeader).
 * - No notification for a while: resend, doubling the interval up to the maximum (backoff).
 * - A replica without data (ZK-261) and an observer never vote: they send their notification
 *   (zxid −1) only to learn the established leader, and voters ignore such votes.
 * - An established peer answers a LOOKING notification with its decided vote.
 * - Lease promise: a follower that acked NEWLEADER promised its leader not to help establish
 *   anyone until leaseWaitTicks after it last heard from it (leader-phases.ts, lease). So while
 *   `now < peer.electionQuietUntilTick` it does not decide: it neither counts itself as leader
 *   nor follows anyone (no FollowerInfo, hence no AckEpoch or NEWLEADER ack). It does exchange
 *   votes, which promise nothing, so the quorum and the finalize wait are done by the time the
 *   promise ends and it decides on that tick. A (re)started replica does not know what it
 *   promised before and waits leaseWaitTicks from its start.
 */
import type { PeerId } from '../ids.js';
import { NO_DATA_ZXID, type Notification } from '../peer-message.js';
import type { PeerContext } from '../phases/peer-context.js';
import { isQuorum } from '../quorum/majority.js';
import { isBetterVote, sameVote, type Vote } from './vote.js';

export class Election {
  private round = 0;
  private vote: Vote;
  private decided: Vote & { round: number };
  private readonly received = new Map<PeerId, Vote>();
  private readonly outOfElection = new Map<PeerId, Notification>();
  private timeoutTicks = 0;
  private ticksSinceSend = 0;
  private finalizeAtTick: number | undefined;

  constructor(private readonly peer: PeerContext) {
    this.vote = this.initialVote();
    this.decided = { ...this.vote, round: 0 };
  }

  /** Whether this replica takes part as a voter (voting member with data, ZK-261). */
  private get votes(): boolean {
    return this.peer.isVoter && this.peer.hasData;
  }

  private initialVote(): Vote {
    return this.votes
      ? { leader: this.peer.id, zxid: this.peer.lastLoggedZxid, peerEpoch: this.peer.currentEpoch }
      : { leader: this.peer.id, zxid: NO_DATA_ZXID, peerEpoch: this.peer.currentEpoch };
  }

  decidedVote(): Vote & { round: number } {
    return this.decided;
  }

  start(_reason: string): void {
    this.round++;
    this.vote = this.initialVote();
    this.received.clear();
    this.outOfElection.clear();
    this.finalizeAtTick = undefined;
    if (this.votes) this.received.set(this.peer.id, this.vote);
    const base = this.peer.config.notificationTimeoutTicks;
    this.timeoutTicks = base + this.peer.random.nextInt(base + 1);
    this.sendToVoters();
  }

  /** Bound by the lease promise: votes, but does not decide yet. */
  private get quiet(): boolean {
    return this.peer.now < this.peer.electionQuietUntilTick;
  }

  tick(): void {
    if (!this.quiet) {
      if (this.finalizeAtTick !== undefined && this.peer.now >= this.finalizeAtTick) {
        this.decide();
        return;
      }
      // Established peers heard from while the promise held.
      for (const leader of new Set([...this.outOfElection.values()].map((n) => n.leader))) {
        if (this.joinEstablished(leader)) return;
      }
    }
    this.ticksSinceSend++;
    if (this.ticksSinceSend >= this.timeoutTicks) {
      this.sendToVoters();
      this.timeoutTicks =
        Math.min(this.timeoutTicks * 2, this.peer.config.notificationTimeoutMaxTicks);
    }
  }

  receive(from: PeerId, n: Notification): void {
    if (this.peer.role !== 'looking') {
      const state = this.peer.role === 'leading' ? 'leading' : 'following';
      if (n.state === 'looking') this.reply(from, state);
      return;
    }
    const fromVoter = this.peer.config.voters.includes(from);
    if (!fromVoter) {
      if (this.votes) this.reply(from, 'looking');
      return;
    }
    switch (n.state) {
      case 'looking':
        this.receiveLooking(from, n);
        return;
      case 'following':
      case 'leading':
        this.receiveEstablished(from, n);
        return;
      case 'observing':
        return;
    }
  }

  private receiveLooking(from: PeerId, n: Notification): void {
    // A non-voter only listens for an established leader; it never answers (no reply loops).
    if (!this.votes) return;
    if (n.zxid === NO_DATA_ZXID) {
      // ZK-261: a replica without data is not counted; answer so it learns our vote.
      this.reply(from, 'looking');
      return;
    }
    const theirs: Vote = { leader: n.leader, zxid: n.zxid, peerEpoch: n.peerEpoch };
    if (n.round > this.round) {
      this.round = n.round;
      this.received.clear();
      const own = this.initialVote();
      this.vote = isBetterVote(theirs, own) ? theirs : own;
      this.received.set(this.peer.id, this.vote);
      this.finalizeAtTick = undefined;
      this.sendToVoters();
    } else if (n.round < this.round) {
      this.reply(from, 'looking');
      return;
    } else if (isBetterVote(theirs, this.vote)) {
      this.vote = theirs;
      this.received.set(this.peer.id, this.vote);
      this.finalizeAtTick = undefined;
      this.sendToVoters();
    } else if (!sameVote(theirs, this.vote)) {
      // Same round, worse vote: the sender may have missed ours (it was quiet, or its link
      // came up after our send); tell it now rather than at our next backoff resend. The
      // sender adopts ours (better) and answers with it, which is not worse: no reply loop.
      this.reply(from, 'looking');
    }
    this.received.set(from, theirs);
    this.checkQuorum();
  }

  private checkQuorum(): void {
    const agreeing = [...this.received].filter(([, v]) => sameVote(v, this.vote)).map(([id]) => id);
    if (!isQuorum(this.peer.config.voters, agreeing)) {
      this.finalizeAtTick = undefined;
      return;
    }
    if (this.finalizeAtTick !== undefined) return;
    this.finalizeAtTick = this.peer.now + this.peer.config.finalizeWaitTicks;
    // While quiet the finalize wait runs on; `tick` decides when the promise ends.
    if (this.peer.config.finalizeWaitTicks === 0 && !this.quiet) this.decide();
  }

  private decide(): void {
    this.finalizeAtTick = undefined;
    this.decided = { ...this.vote, round: this.round };
    if (this.vote.leader === this.peer.id) {
      this.peer.becomeLeader({ zxid: this.vote.zxid, peerEpoch: this.vote.peerEpoch });
    } else {
      this.peer.becomeLearner(this.vote.leader);
    }
  }

  /** Join an established ensemble: quorum names the leader and the leader says LEADING. */
  private receiveEstablished(from: PeerId, n: Notification): void {
    this.outOfElection.set(from, n);
    // A LEADING peer may still be in discovery: joining it helps establish it, so not while
    // quiet (`tick` joins when the promise ends).
    if (!this.quiet) this.joinEstablished(n.leader);
  }

  private joinEstablished(leader: PeerId): boolean {
    if (leader === this.peer.id) return false;
    const leaderSays = this.outOfElection.get(leader);
    if (leaderSays === undefined || leaderSays.state !== 'leading' ||
      leaderSays.leader !== leader) {
      return false;
    }
    const naming = [...this.outOfElection].filter(([, m]) => m.leader === leader)
      .map(([id]) => id);
    if (!isQuorum(this.peer.config.voters, naming)) return false;
    if (leaderSays.round > this.round) this.round = leaderSays.round;
    this.vote = { leader, zxid: leaderSays.zxid, peerEpoch: leaderSays.peerEpoch };
    this.decide();
    return true;
  }

  private notification(state: Notification['state'], vote: Vote, round: number): Notification {
    return { type: 'notification', state, leader: vote.leader, zxid: vote.zxid, round,
      peerEpoch: vote.peerEpoch };
  }

  private reply(to: PeerId, state: Notification['state']): void {
    const n = state === 'looking'
      ? this.notification('looking', this.vote, this.round)
      : this.notification(state, this.decided, this.decided.round);
    this.peer.out.send(to, n);
  }

  private sendToVoters(): void {
    this.ticksSinceSend = 0;
    const n = this.notification('looking', this.vote, this.round);
    for (const voter of this.peer.config.voters) {
      if (voter !== this.peer.id) this.peer.out.send(voter, n);
    }
  }
}
