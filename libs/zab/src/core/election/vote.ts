/**
 * FLE votes and ZooKeeper's total order on them (`FastLeaderElection.totalOrderPredicate`):
 * lexicographic on (peerEpoch = currentEpoch, lastLoggedZxid, server id).
 */
import type { Epoch, PeerId, Zxid } from '../ids.js';

export interface Vote {
  readonly leader: PeerId;
  readonly zxid: Zxid;
  readonly peerEpoch: Epoch;
}

/** True when `candidate` beats `current` in ZooKeeper's vote order. */
export function isBetterVote(candidate: Vote, current: Vote): boolean {
  if (candidate.peerEpoch !== current.peerEpoch) return candidate.peerEpoch > current.peerEpoch;
  if (candidate.zxid !== current.zxid) return candidate.zxid > current.zxid;
  return candidate.leader > current.leader;
}

export function sameVote(a: Vote, b: Vote): boolean {
  return a.leader === b.leader && a.zxid === b.zxid && a.peerEpoch === b.peerEpoch;
}

/** True when history (epoch, zxid) `a` is more recent than `b` (the "follower is ahead" check). */
export function isAhead(a: { epoch: Epoch; zxid: Zxid }, b: { epoch: Epoch; zxid: Zxid }): boolean {
  return a.epoch > b.epoch || (a.epoch === b.epoch && a.zxid > b.zxid);
}
