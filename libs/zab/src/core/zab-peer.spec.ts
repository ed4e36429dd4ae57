/**
 * Goal: each Zab / ZooKeeper rule the core implements, one test per rule, named after the
 * protocol step it checks. Method: drive a single `ZabPeer` by hand (testing/zab-peer-harness)
 * with the messages its peers would send and assert on the exact Ready batches it produces:
 * what is persisted, what is sent, and in which Ready (the driver's ordering contract).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeZxid } from './ids.js';
import type { PeerMessage } from './peer-message.js';
import {
  drain, electSelf, followEstablished, makePeer, makeTxns, ofType, passQuiet, sent,
  type HarnessPeer,
} from '../testing/zab-peer-harness.js';

function notification(leader: number, zxid: bigint, round: number, peerEpoch = 0,
  state: 'looking' | 'following' | 'leading' = 'looking'): PeerMessage {
  return { type: 'notification', state, leader, zxid, round, peerEpoch };
}

/** Leader 1 of voters [1,2,3] through discovery with follower 2 (acceptedEpoch 0, empty log). */
function leaderWithEpoch(options: Parameters<typeof makePeer>[1] = {}): HarnessPeer {
  const leader = makePeer(1, options);
  const voters = options.voters ?? [1, 2, 3];
  electSelf(leader, voters.slice(1, Math.floor(voters.length / 2) + 1));
  drain(leader);
  leader.peer.step(2, { type: 'followerInfo', acceptedEpoch: 0, hasData: true });
  return leader;
}

/** Leader 1 established with follower 2 synced (empty logs), epoch 1. */
function establishedLeader(voters = [1, 2, 3]): HarnessPeer {
  const leader = leaderWithEpoch({ voters });
  drain(leader);
  const quorum = voters.slice(1, Math.floor(voters.length / 2) + 1);
  for (const id of quorum) {
    if (id !== 2) leader.peer.step(id, { type: 'followerInfo', acceptedEpoch: 0, hasData: true });
  }
  for (const id of quorum) {
    leader.peer.step(id, { type: 'ackEpoch', currentEpoch: 0, lastZxid: 0n, counted: true });
  }
  drain(leader);
  for (const id of quorum) leader.peer.step(id, { type: 'ack', zxid: makeZxid(1, 0) });
  drain(leader);
  assert.equal(leader.peer.isEstablished, true);
  return leader;
}

/** Follower 2 following leader 1 through LeaderInfo(1), Diff, NewLeader, persisted, UpToDate. */
function syncedFollower(): HarnessPeer {
  const follower = makePeer(2);
  followEstablished(follower, 1, [3]);
  drain(follower);
  follower.peer.step(1, { type: 'leaderInfo', epoch: 1 });
  follower.peer.step(1, { type: 'diff', zxid: 0n });
  follower.peer.step(1, { type: 'newLeader', zxid: makeZxid(1, 0), lastZxid: 0n });
  follower.peer.step(1, { type: 'upToDate', zxid: 0n });
  drain(follower);
  assert.equal(follower.peer.isEstablished, true);
  return follower;
}

describe('Fast Leader Election', () => {
  test('lease promise at start-up: votes at once, decides only leaseWaitTicks after start', () => {
    const harness = makePeer(3, { log: makeTxns(1, 2), persisted: { currentEpoch: 1 } });
    const votes = ofType(sent(drain(harness)), 'notification');
    assert.deepEqual(votes.map((v) => [v.leader, v.zxid, v.peerEpoch]),
      [[3, makeZxid(1, 2), 1], [3, makeZxid(1, 2), 1]]);
    harness.peer.step(1, notification(3, makeZxid(1, 2), 1, 1));
    assert.equal(harness.peer.role, 'looking', 'a quorum, but the promise holds');
    for (let tick = 1; tick < harness.peer.config.leaseWaitTicks; tick++) harness.peer.tick();
    assert.equal(harness.peer.role, 'looking');
    harness.peer.tick();
    assert.equal(harness.peer.role, 'leading', 'decides on the tick the promise ends');
  });

  test('the finalize wait runs during the lease promise (they overlap, not add up)', () => {
    const harness = makePeer(3, { timing: { finalizeWaitTicks: 2 } });
    harness.peer.step(1, notification(3, 0n, 1));
    for (let tick = 1; tick < harness.peer.config.leaseWaitTicks; tick++) harness.peer.tick();
    assert.equal(harness.peer.role, 'looking');
    harness.peer.tick();
    assert.equal(harness.peer.role, 'leading');
  });

  test('a better vote in the same round is adopted and re-broadcast', () => {
    const harness = makePeer(1, { log: makeTxns(1, 2), persisted: { currentEpoch: 1 } });
    passQuiet(harness);
    harness.peer.tick();
    drain(harness);
    harness.peer.step(2, notification(2, makeZxid(1, 5), 1, 1));
    const votes = ofType(sent(drain(harness)), 'notification');
    assert.ok(votes.length >= 2 && votes.every((v) => v.leader === 2));
    assert.equal(harness.peer.role, 'following');
    assert.equal(harness.peer.leader, 2);
  });

  test('a higher peerEpoch beats a longer log (vote order is epoch, zxid, id)', () => {
    const harness = makePeer(1, { log: makeTxns(1, 9), persisted: { currentEpoch: 1 } });
    passQuiet(harness);
    harness.peer.step(3, notification(3, makeZxid(1, 2), 1, 2));
    assert.equal(harness.peer.leader, 3);
  });

  test('a lower vote does not change ours; a quorum for our vote decides LEADING', () => {
    const harness = makePeer(3, { log: makeTxns(1, 2), persisted: { currentEpoch: 1 } });
    passQuiet(harness);
    harness.peer.step(1, notification(1, makeZxid(1, 1), 1, 1));
    assert.equal(harness.peer.role, 'looking');
    harness.peer.step(2, notification(3, makeZxid(1, 2), 1, 1));
    assert.equal(harness.peer.role, 'leading');
  });

  test('a notification from a higher round resets the received votes and adopts the round', () => {
    const harness = makePeer(1, { voters: [1, 2, 3, 4, 5] });
    passQuiet(harness);
    harness.peer.step(2, notification(1, 0n, 1));
    harness.peer.step(3, notification(5, 0n, 2));
    assert.equal(harness.peer.role, 'looking', 'votes of round 1 no longer count');
    harness.peer.step(4, notification(5, 0n, 2));
    assert.equal(harness.peer.role, 'following');
    assert.equal(harness.peer.leader, 5);
  });

  test('finalize wait: a quorum only decides after finalizeWaitTicks without a better vote', () => {
    const harness = makePeer(3, { timing: { finalizeWaitTicks: 2 } });
    passQuiet(harness);
    harness.peer.step(1, notification(3, 0n, 1));
    assert.equal(harness.peer.role, 'looking');
    harness.peer.tick();
    assert.equal(harness.peer.role, 'looking');
    harness.peer.tick();
    assert.equal(harness.peer.role, 'leading');
  });

  test('notification resend interval doubles up to the maximum (backoff)', () => {
    const harness = makePeer(1, { timing: { notificationTimeoutTicks: 1,
      notificationTimeoutMaxTicks: 8 } });
    const sendTicks: number[] = [];
    for (let tick = 0; tick < 40; tick++) {
      harness.peer.tick();
      if (sent(drain(harness)).length > 0) sendTicks.push(harness.peer.now);
    }
    const gaps = sendTicks.slice(1).map((t, i) => t - sendTicks[i]!);
    assert.deepEqual(gaps.slice(0, 5), [2, 4, 8, 8, 8]);
  });

  test('late joiner: follows the leader a quorum reports established (outOfElection)', () => {
    const harness = makePeer(3);
    passQuiet(harness);
    harness.peer.step(2, notification(1, 0n, 7, 0, 'following'));
    assert.equal(harness.peer.role, 'looking', 'the leader itself has not said LEADING');
    harness.peer.step(1, notification(1, 0n, 7, 0, 'leading'));
    assert.equal(harness.peer.role, 'following');
    assert.deepEqual(ofType(sent(drain(harness), 1), 'followerInfo').length, 1);
  });

  test('an established peer answers a LOOKING notification with its decided vote', () => {
    const follower = syncedFollower();
    follower.peer.step(3, notification(3, 0n, 1));
    const [reply] = ofType(sent(drain(follower), 3), 'notification');
    assert.equal(reply?.state, 'following');
    assert.equal(reply?.leader, 1);
  });

  test('ZK-261: a wiped replica does not vote and its vote is not counted', () => {
    const wiped = makePeer(2, { persisted: { hasData: false } });
    const [own] = ofType(sent(passQuiet(wiped)), 'notification');
    assert.equal(own?.zxid, -1n);
    wiped.peer.step(1, notification(1, 0n, 1));
    wiped.peer.step(3, notification(1, 0n, 1));
    assert.equal(wiped.peer.role, 'looking', 'it never decides from LOOKING votes');

    const voter = makePeer(1);
    passQuiet(voter);
    voter.peer.step(2, notification(1, -1n, 1));
    assert.equal(voter.peer.role, 'looking', 'a -1 vote does not make a quorum');
    assert.equal(ofType(sent(drain(voter), 2), 'notification').length > 0, true, 'but is answered');
  });

  test('an observer never votes and follows an established leader', () => {
    const observer = makePeer(4, { observers: [4] });
    passQuiet(observer);
    observer.peer.step(1, notification(1, 0n, 1));
    observer.peer.step(2, notification(1, 0n, 1));
    assert.equal(observer.peer.role, 'looking');
    followEstablished(observer, 1, [2]);
    assert.equal(observer.peer.role, 'observing');
    assert.equal(ofType(sent(drain(observer), 1), 'observerInfo').length, 1);
  });
});

describe('Discovery', () => {
  test('epoch proposal = max(acceptedEpoch of a quorum incl. leader) + 1, persisted first', () => {
    const leader = makePeer(1, { persisted: { acceptedEpoch: 3, currentEpoch: 3 } });
    electSelf(leader, [2]);
    drain(leader);
    leader.peer.step(2, { type: 'followerInfo', acceptedEpoch: 7, hasData: true });
    const readys = drain(leader);
    assert.equal(readys.length, 1);
    assert.deepEqual(readys[0]!.epochWrite, { acceptedEpoch: 8, currentEpoch: 3, hasData: true });
    assert.deepEqual(sent(readys, 2), [{ type: 'leaderInfo', epoch: 8 }]);
  });

  test('a wiped learner\'s FollowerInfo is not counted for the epoch quorum', () => {
    const leader = makePeer(1);
    electSelf(leader, [2]);
    drain(leader);
    leader.peer.step(2, { type: 'followerInfo', acceptedEpoch: 0, hasData: false });
    assert.deepEqual(sent(drain(leader), 2), []);
  });

  test('a FollowerInfo that arrives before we decide to lead is answered when we do', () => {
    const harness = makePeer(3, { timing: { finalizeWaitTicks: 1 } });
    passQuiet(harness);
    harness.peer.step(1, notification(3, 0n, 1));
    harness.peer.step(1, { type: 'followerInfo', acceptedEpoch: 0, hasData: true });
    assert.equal(harness.peer.role, 'looking', 'the finalize wait is still running');
    drain(harness);
    harness.peer.tick();
    assert.equal(harness.peer.role, 'leading');
    assert.deepEqual(ofType(sent(drain(harness), 1), 'leaderInfo'), [{ type: 'leaderInfo',
      epoch: 1 }], 'epoch decided with it, without waiting for its resend');
  });

  test('learner persists acceptedEpoch in the Ready that sends AckEpoch', () => {
    const follower = makePeer(2, { log: makeTxns(1, 3), persisted: { acceptedEpoch: 1,
      currentEpoch: 1 } });
    followEstablished(follower, 1, [3]);
    drain(follower);
    follower.peer.step(1, { type: 'leaderInfo', epoch: 4 });
    const [ready] = drain(follower);
    assert.deepEqual(ready?.epochWrite, { acceptedEpoch: 4, currentEpoch: 1, hasData: true });
    assert.deepEqual(sent([ready!], 1), [{ type: 'ackEpoch', currentEpoch: 1,
      lastZxid: makeZxid(1, 3), counted: true }]);
  });

  test('learner: a LeaderInfo of another epoch after discovery means the leader started ' +
    'over (back to election); a duplicate is ignored', () => {
    const follower = makePeer(2);
    followEstablished(follower, 1, [3]);
    follower.peer.step(1, { type: 'leaderInfo', epoch: 1 });
    follower.peer.step(1, { type: 'leaderInfo', epoch: 1 });
    assert.equal(follower.peer.role, 'following', 'a duplicate answers a retried FollowerInfo');
    follower.peer.step(1, { type: 'leaderInfo', epoch: 2 });
    assert.equal(follower.peer.role, 'looking');
  });

  test('learner refuses a LeaderInfo with an epoch below its acceptedEpoch', () => {
    const follower = makePeer(2, { persisted: { acceptedEpoch: 5, currentEpoch: 4 } });
    followEstablished(follower, 1, [3]);
    follower.peer.step(1, { type: 'leaderInfo', epoch: 3 });
    assert.equal(follower.peer.role, 'looking');
  });

  test('leader gives up when a follower is ahead of it (ZooKeeper waitForEpochAck)', () => {
    const leader = leaderWithEpoch();
    drain(leader);
    leader.peer.step(2, { type: 'ackEpoch', currentEpoch: 0, lastZxid: makeZxid(0, 4),
      counted: true });
    assert.equal(leader.peer.role, 'looking');
  });

  test('leader persists currentEpoch only after an AckEpoch quorum and with a durable log', () => {
    const leader = leaderWithEpoch({ log: makeTxns(1, 2), persisted: { acceptedEpoch: 1,
      currentEpoch: 1, lastLoggedZxid: makeZxid(1, 2) } });
    drain(leader);
    leader.peer.step(2, { type: 'ackEpoch', currentEpoch: 1, lastZxid: makeZxid(1, 2),
      counted: true });
    const [ready] = drain(leader);
    assert.deepEqual(ready?.epochWrite, { acceptedEpoch: 2, currentEpoch: 2, hasData: true });
  });

  test('initLimit: a leader without a synced quorum returns to election', () => {
    const leader = leaderWithEpoch();
    for (let tick = 0; tick <= leader.peer.config.initLimitTicks; tick++) leader.peer.tick();
    assert.equal(leader.peer.role, 'looking');
  });
});

describe('Synchronization', () => {
  function syncStream(leader: HarnessPeer, lastZxid: bigint): PeerMessage[] {
    drain(leader);
    leader.peer.step(2, { type: 'ackEpoch', currentEpoch: 0, lastZxid, counted: true });
    return sent(drain(leader), 2);
  }

  test('DIFF: the learner\'s last zxid is in our log → Proposals after it, NEWLEADER', () => {
    const leader = leaderWithEpoch({ log: makeTxns(1, 4), persisted: { acceptedEpoch: 1,
      currentEpoch: 1 } });
    const stream = syncStream(leader, makeZxid(1, 2));
    assert.deepEqual(stream.map((m) => m.type), ['diff', 'proposal', 'proposal', 'newLeader']);
    assert.deepEqual(ofType(stream, 'proposal').map((p) => p.zxid),
      [makeZxid(1, 3), makeZxid(1, 4)]);
    assert.deepEqual(ofType(stream, 'newLeader')[0], { type: 'newLeader', zxid: makeZxid(2, 0),
      lastZxid: makeZxid(1, 4) });
  });

  test('TRUNC: an uncommitted tail in the same epoch is cut at our last zxid below it', () => {
    const leader = leaderWithEpoch({ log: makeTxns(1, 3), persisted: { acceptedEpoch: 1,
      currentEpoch: 1 } });
    drain(leader);
    leader.peer.step(2, { type: 'ackEpoch', currentEpoch: 1, lastZxid: makeZxid(1, 2),
      counted: true });
    drain(leader);
    leader.peer.step(3, { type: 'followerInfo', acceptedEpoch: 1, hasData: true });
    leader.peer.step(3, { type: 'ackEpoch', currentEpoch: 0, lastZxid: makeZxid(1, 9),
      counted: true });
    const stream = sent(drain(leader), 3);
    assert.deepEqual(stream.map((m) => m.type), ['leaderInfo', 'trunc', 'newLeader']);
    assert.equal(ofType(stream, 'trunc')[0]?.zxid, makeZxid(1, 3));
  });

  test('SNAP: TRUNC would cross an epoch boundary → snapshot, chunked', () => {
    const leader = leaderWithEpoch({ log: [...makeTxns(1, 2), ...makeTxns(3, 2)],
      persisted: { acceptedEpoch: 3, currentEpoch: 3 } });
    drain(leader);
    leader.peer.step(2, { type: 'ackEpoch', currentEpoch: 3, lastZxid: makeZxid(3, 2),
      counted: true });
    drain(leader);
    leader.peer.step(3, { type: 'followerInfo', acceptedEpoch: 2, hasData: true });
    leader.peer.step(3, { type: 'ackEpoch', currentEpoch: 2, lastZxid: makeZxid(2, 4),
      counted: true });
    const stream = sent(drain(leader), 3);
    const snaps = ofType(stream, 'snap');
    assert.ok(snaps.length >= 1);
    assert.deepEqual(snaps.map((s) => s.chunkIndex), snaps.map((_, i) => i));
    assert.equal(Buffer.concat(snaps.map((s) => s.bytes)).toString(), 'snapshot');
  });

  test('SNAP: the learner is behind the retained log (too old for DIFF)', () => {
    const leader = leaderWithEpoch({ log: makeTxns(1, 5, 3), persisted: { acceptedEpoch: 1,
      currentEpoch: 1 } });
    leader.history.compactedThroughZxid = makeZxid(1, 2);
    const stream = syncStream(leader, makeZxid(1, 1));
    assert.equal(stream[0]?.type, 'snap');
    assert.equal(ofType(stream, 'proposal').length, 5, 'txns after the snapshot follow');
  });

  test('follower: synced txns durable → currentEpoch durable → ack (ZK-3911/4643)', () => {
    const follower = makePeer(2);
    followEstablished(follower, 1, [3]);
    drain(follower);
    follower.peer.step(1, { type: 'leaderInfo', epoch: 1 });
    drain(follower);
    follower.peer.step(1, { type: 'diff', zxid: makeZxid(0, 2) });
    for (const logged of makeTxns(0, 2)) {
      follower.peer.step(1, { type: 'proposal', zxid: logged.zxid, txn: logged.txn });
    }
    follower.peer.step(1, { type: 'newLeader', zxid: makeZxid(1, 0), lastZxid: makeZxid(0, 2) });
    const [written] = drain(follower);
    assert.equal(written?.append.length, 2);
    assert.equal(written?.epochWrite, undefined, 'currentEpoch must wait for the txns');
    assert.deepEqual(sent([written!]), [], 'no ack before the txns are durable');
    follower.peer.persisted(makeZxid(0, 1));
    assert.deepEqual(sent(drain(follower)), [], 'a partial fsync is not enough');
    follower.peer.persisted(makeZxid(0, 2));
    const [acked] = drain(follower);
    assert.deepEqual(acked?.epochWrite, { acceptedEpoch: 1, currentEpoch: 1, hasData: true });
    assert.deepEqual(sent([acked!]), [{ type: 'ack', zxid: makeZxid(1, 0) }]);
  });

  test('follower: a hole in the synchronization stream is refused (ZK-4925)', () => {
    const follower = makePeer(2);
    followEstablished(follower, 1, [3]);
    follower.peer.step(1, { type: 'leaderInfo', epoch: 1 });
    follower.peer.step(1, { type: 'diff', zxid: makeZxid(0, 3) });
    follower.peer.step(1, { type: 'proposal', zxid: makeZxid(0, 1), txn: Buffer.from('a') });
    follower.peer.step(1, { type: 'proposal', zxid: makeZxid(0, 3), txn: Buffer.from('c') });
    assert.equal(follower.peer.role, 'looking');
  });

  test('follower: a stream that does not end at NEWLEADER.lastZxid is not acked', () => {
    const follower = makePeer(2);
    followEstablished(follower, 1, [3]);
    follower.peer.step(1, { type: 'leaderInfo', epoch: 1 });
    follower.peer.step(1, { type: 'diff', zxid: makeZxid(0, 1) });
    follower.peer.step(1, { type: 'newLeader', zxid: makeZxid(1, 0), lastZxid: makeZxid(0, 1) });
    assert.equal(follower.peer.role, 'looking');
  });

  test('follower: TRUNC and SNAP are written with the synced txns at NEWLEADER', () => {
    const follower = makePeer(2, { log: makeTxns(1, 4), persisted: { acceptedEpoch: 1,
      currentEpoch: 1 } });
    followEstablished(follower, 1, [3]);
    follower.peer.step(1, { type: 'leaderInfo', epoch: 2 });
    follower.peer.step(1, { type: 'trunc', zxid: makeZxid(1, 2) });
    follower.peer.step(1, { type: 'newLeader', zxid: makeZxid(2, 0), lastZxid: makeZxid(1, 2) });
    const readys = drain(follower);
    assert.equal(readys.find((r) => r.truncateAfterZxid !== undefined)?.truncateAfterZxid,
      makeZxid(1, 2));
    assert.deepEqual(ofType(sent(readys), 'ack'), [{ type: 'ack', zxid: makeZxid(2, 0) }],
      'the kept prefix was durable already');
  });

  test('leader: a quorum of NEWLEADER acks establishes the epoch; UPTODATE; sessions reset', () => {
    const leader = leaderWithEpoch({ log: makeTxns(1, 2), persisted: { acceptedEpoch: 1,
      currentEpoch: 1 } });
    drain(leader);
    leader.peer.step(2, { type: 'ackEpoch', currentEpoch: 1, lastZxid: makeZxid(1, 2),
      counted: true });
    drain(leader);
    assert.equal(leader.peer.isEstablished, false);
    leader.peer.step(2, { type: 'ack', zxid: makeZxid(2, 0) });
    const readys = drain(leader);
    assert.equal(leader.peer.isEstablished, true);
    assert.equal(readys[0]?.commitThroughZxid, makeZxid(1, 2), 'the initial history commits');
    assert.deepEqual(ofType(sent(readys, 2), 'upToDate'), [{ type: 'upToDate',
      zxid: makeZxid(1, 2) }]);
    assert.equal(readys[0]?.resetSessions, true);
  });

  test('observers: their NEWLEADER ack is not counted', () => {
    const leader = leaderWithEpoch({ observers: [4] });
    drain(leader);
    leader.peer.step(4, { type: 'observerInfo', acceptedEpoch: 0 });
    leader.peer.step(2, { type: 'ackEpoch', currentEpoch: 0, lastZxid: 0n, counted: true });
    leader.peer.step(4, { type: 'ackEpoch', currentEpoch: 0, lastZxid: 0n, counted: true });
    drain(leader);
    leader.peer.step(4, { type: 'ack', zxid: makeZxid(1, 0) });
    assert.equal(leader.peer.isEstablished, false);
    leader.peer.step(2, { type: 'ack', zxid: makeZxid(1, 0) });
    assert.equal(leader.peer.isEstablished, true);
  });
});

describe('Broadcast', () => {
  function ticksForLease(leader: HarnessPeer, echoers: number[]): void {
    leader.peer.tick();
    const pings = ofType(sent(drain(leader)), 'ping');
    const heartbeat = pings[0]?.heartbeat ?? 0;
    for (const id of echoers) {
      leader.peer.step(id, { type: 'ping', fromLeader: false, heartbeat, sessionTouches: [] });
    }
    drain(leader);
  }

  test('zxids are (epoch, 1..) and the txns are appended and proposed to synced followers', () => {
    const leader = establishedLeader();
    ticksForLease(leader, [2]);
    assert.equal(leader.peer.nextZxid(), makeZxid(1, 1));
    assert.equal(leader.peer.propose(makeZxid(1, 1), Buffer.from('a')), true);
    assert.equal(leader.peer.nextZxid(), makeZxid(1, 2));
    const [ready] = drain(leader);
    assert.deepEqual(ready?.append.map((t) => t.zxid), [makeZxid(1, 1)]);
    assert.deepEqual(sent([ready!], 2).map((m) => m.type), ['proposal']);
  });

  test('commit needs a quorum of durable copies (the leader\'s own persisted included)', () => {
    const leader = establishedLeader([1, 2, 3, 4, 5]);
    ticksForLease(leader, [2, 3]);
    leader.peer.propose(makeZxid(1, 1), Buffer.from('a'));
    leader.peer.propose(makeZxid(1, 2), Buffer.from('b'));
    drain(leader);
    leader.peer.step(2, { type: 'ack', zxid: makeZxid(1, 2) });
    leader.peer.step(3, { type: 'ack', zxid: makeZxid(1, 1) });
    assert.equal(drain(leader).find((r) => r.commitThroughZxid !== undefined), undefined,
      'leader not durable yet: 2 of 5');
    leader.peer.persisted(makeZxid(1, 2));
    const readys = drain(leader);
    assert.equal(readys[0]?.commitThroughZxid, makeZxid(1, 1), 'in order, only what 3 hold');
    assert.deepEqual(ofType(sent(readys, 2), 'commit'), [{ type: 'commit', zxid: makeZxid(1, 1) }]);
  });

  test('follower acks only after persisted, cumulatively; applies commits in order', () => {
    const follower = syncedFollower();
    follower.peer.step(1, { type: 'proposal', zxid: makeZxid(1, 1), txn: Buffer.from('a') });
    follower.peer.step(1, { type: 'proposal', zxid: makeZxid(1, 2), txn: Buffer.from('b') });
    assert.deepEqual(ofType(sent(drain(follower)), 'ack'), []);
    follower.peer.persisted(makeZxid(1, 2));
    assert.deepEqual(ofType(sent(drain(follower)), 'ack'), [{ type: 'ack', zxid: makeZxid(1, 2) }]);
    follower.peer.step(1, { type: 'commit', zxid: makeZxid(1, 2) });
    assert.equal(drain(follower)[0]?.commitThroughZxid, makeZxid(1, 2));
  });

  test('follower: a proposal gap or a commit beyond the log sends it back to election', () => {
    const gap = syncedFollower();
    gap.peer.step(1, { type: 'proposal', zxid: makeZxid(1, 2), txn: Buffer.from('b') });
    assert.equal(gap.peer.role, 'looking');
    const beyond = syncedFollower();
    beyond.peer.step(1, { type: 'commit', zxid: makeZxid(1, 1) });
    assert.equal(beyond.peer.role, 'looking');
  });

  test('observers receive Inform with the txn at commit, never Proposal', () => {
    const leader = leaderWithEpoch({ observers: [4] });
    drain(leader);
    leader.peer.step(4, { type: 'observerInfo', acceptedEpoch: 0 });
    for (const id of [2, 4]) {
      leader.peer.step(id, { type: 'ackEpoch', currentEpoch: 0, lastZxid: 0n, counted: true });
    }
    drain(leader);
    for (const id of [2, 4]) leader.peer.step(id, { type: 'ack', zxid: makeZxid(1, 0) });
    drain(leader);
    ticksForLease(leader, [2]);
    leader.peer.propose(makeZxid(1, 1), Buffer.from('a'));
    leader.peer.persisted(makeZxid(1, 1));
    leader.peer.step(2, { type: 'ack', zxid: makeZxid(1, 1) });
    const toObserver = sent(drain(leader), 4).filter((m) => m.type !== 'ping');
    assert.deepEqual(toObserver, [{ type: 'inform', zxid: makeZxid(1, 1), txn: Buffer.from('a') }]);
  });

  test('the zxid counter about to overflow forces a new epoch', () => {
    const leader = establishedLeader();
    ticksForLease(leader, [2]);
    leader.peer.lastLoggedZxid = makeZxid(1, 0xfffffffe);
    assert.equal(leader.peer.nextZxid(), undefined);
    leader.peer.tick();
    assert.equal(leader.peer.role, 'looking');
  });
});

describe('Liveness, lease, sessions, sync', () => {
  test('leader without a quorum heard within syncLimit steps down', () => {
    const leader = establishedLeader();
    for (let tick = 0; tick <= leader.peer.config.syncLimitTicks; tick++) leader.peer.tick();
    assert.equal(leader.peer.role, 'looking');
  });

  test('follower hearing nothing for syncLimit ticks returns to election', () => {
    const follower = syncedFollower();
    for (let tick = 0; tick < follower.peer.config.syncLimitTicks; tick++) follower.peer.tick();
    assert.equal(follower.peer.role, 'following');
    follower.peer.tick();
    assert.equal(follower.peer.role, 'looking');
  });

  test('lease: valid only within leaseTicks of a heartbeat echoed by a quorum', () => {
    const leader = establishedLeader();
    for (let tick = 0; tick <= leader.peer.config.leaseTicks; tick++) leader.peer.tick();
    assert.equal(leader.peer.isLeaseValid(), false, 'no echo for leaseTicks');
    drain(leader);
    leader.peer.tick();
    const [ping] = ofType(sent(drain(leader), 2), 'ping');
    leader.peer.step(2, { type: 'ping', fromLeader: false, heartbeat: ping!.heartbeat,
      sessionTouches: [] });
    assert.equal(leader.peer.isLeaseValid(), true);
    assert.equal(leader.peer.propose(makeZxid(1, 1), Buffer.from('a')), true);
    for (let tick = 0; tick < leader.peer.config.leaseTicks; tick++) leader.peer.tick();
    assert.equal(leader.peer.isLeaseValid(), false);
    assert.equal(leader.peer.nextZxid(), undefined, 'no writes without a lease');
  });

  test('a follower whose leader link drops votes at once but helps establish no one until ' +
    'leaseWaitTicks after it last heard from the leader', () => {
    const follower = syncedFollower();
    const wait = follower.peer.config.leaseWaitTicks;
    assert.ok(wait < follower.peer.config.syncLimitTicks, 'shorter than the silence timeout');
    follower.peer.tick();
    follower.peer.step(1, { type: 'ping', fromLeader: true, heartbeat: 7, sessionTouches: [] });
    const heardAt = follower.peer.now;
    follower.peer.tick();
    drain(follower);
    follower.peer.connectionLost(1);
    assert.equal(follower.peer.role, 'looking', 'no syncLimit wait for a dropped link');
    const [own] = ofType(sent(drain(follower)), 'notification');
    assert.ok(own !== undefined, 'votes at once');
    follower.peer.step(3, notification(3, 0n, own.round, follower.peer.currentEpoch));
    while (follower.peer.now < heardAt + wait - 1) {
      follower.peer.tick();
      assert.equal(follower.peer.role, 'looking', `tick ${follower.peer.now}: promise holds`);
    }
    assert.deepEqual(ofType(sent(drain(follower)), 'followerInfo'), []);
    follower.peer.tick();
    assert.equal(follower.peer.now, heardAt + wait);
    assert.equal(follower.peer.role, 'following');
    assert.equal(follower.peer.leader, 3);
    assert.equal(ofType(sent(drain(follower), 3), 'followerInfo').length, 1);
  });

  test('during the lease promise an established ensemble is joined only when it ends', () => {
    const follower = syncedFollower();
    follower.peer.connectionLost(1);
    drain(follower);
    follower.peer.step(1, notification(1, 0n, 1, 0, 'leading'));
    follower.peer.step(3, notification(1, 0n, 1, 0, 'following'));
    const wait = follower.peer.config.leaseWaitTicks;
    for (let tick = 1; tick < wait; tick++) follower.peer.tick();
    assert.equal(follower.peer.role, 'looking', 'LEADING may still be in discovery');
    follower.peer.tick();
    assert.equal(follower.peer.role, 'following');
    assert.equal(follower.peer.leader, 1);
  });

  test('session touches ride on the follower\'s ping to the leader\'s Ready', () => {
    const follower = syncedFollower();
    follower.peer.touchSession({ sessionId: 42n, timeoutMs: 3000 });
    follower.peer.step(1, { type: 'ping', fromLeader: true, heartbeat: 7, sessionTouches: [] });
    const [reply] = ofType(sent(drain(follower), 1), 'ping');
    assert.deepEqual(reply, { type: 'ping', fromLeader: false, heartbeat: 7,
      sessionTouches: [{ sessionId: 42n, timeoutMs: 3000 }] });
    const leader = establishedLeader();
    leader.peer.step(2, reply!);
    assert.deepEqual(drain(leader)[0]?.sessionTouches, [{ sessionId: 42n, timeoutMs: 3000 }]);
  });

  test('forwarded writes reach the leader\'s Ready as requests', () => {
    const follower = syncedFollower();
    assert.equal(follower.peer.forwardRequest(9n, 1, Buffer.from('w')), true);
    const [request] = ofType(sent(drain(follower), 1), 'request');
    const leader = establishedLeader();
    leader.peer.step(2, request!);
    assert.deepEqual(drain(leader)[0]?.requests, [{ from: 2, sessionId: 9n, cxid: 1,
      bytes: Buffer.from('w') }]);
  });

  test('linearizable sync completes only after a quorum echoes a heartbeat sent after it', () => {
    const leader = establishedLeader();
    assert.equal(leader.peer.sync(1), true);
    const readys = drain(leader);
    assert.deepEqual(readys.flatMap((r) => r.syncResults), []);
    const [ping] = ofType(sent(readys, 2), 'ping');
    leader.peer.step(2, { type: 'ping', fromLeader: false, heartbeat: ping!.heartbeat - 1,
      sessionTouches: [] });
    assert.deepEqual(drain(leader).flatMap((r) => r.syncResults), [],
      'an older echo is not enough');
    leader.peer.step(2, { type: 'ping', fromLeader: false, heartbeat: ping!.heartbeat,
      sessionTouches: [] });
    assert.deepEqual(drain(leader).flatMap((r) => r.syncResults), [{ syncId: 1, ok: true }]);
  });

  test('limits: pending syncs per replica and snapshot bytes per stream', () => {
    const leader = establishedLeader();
    assert.deepEqual([leader.peer.sync(1), leader.peer.sync(2), leader.peer.sync(3)],
      [true, true, false]);
    const follower = makePeer(2);
    followEstablished(follower, 1, [3]);
    follower.peer.step(1, { type: 'leaderInfo', epoch: 1 });
    for (let index = 0; index < 10; index++) {
      follower.peer.step(1, { type: 'snap', zxid: 0n, chunkIndex: index, chunkCount: 10,
        bytes: Buffer.alloc(8) });
    }
    assert.equal(follower.peer.role, 'looking', '80 bytes > snapshotBytesMax 64');
  });

  test('a follower\'s sync is answered after the leader\'s reply and the local apply', () => {
    const follower = syncedFollower();
    assert.equal(follower.peer.sync(5), true);
    assert.deepEqual(ofType(sent(drain(follower), 1), 'sync'), [{ type: 'sync', syncId: 5 }]);
    follower.peer.step(1, { type: 'proposal', zxid: makeZxid(1, 1), txn: Buffer.from('a') });
    follower.peer.step(1, { type: 'syncReply', syncId: 5, zxid: makeZxid(1, 1) });
    assert.deepEqual(drain(follower).flatMap((r) => r.syncResults), []);
    follower.peer.step(1, { type: 'commit', zxid: makeZxid(1, 1) });
    assert.deepEqual(drain(follower).flatMap((r) => r.syncResults), [{ syncId: 5, ok: true }]);
  });

  test('stepDown: a leader goes back to election; a follower ignores it', () => {
    const leader = establishedLeader();
    assert.equal(leader.peer.stepDown('event loop stalled'), true);
    assert.equal(leader.peer.role, 'looking');
    assert.equal(leader.peer.isEstablished, false);
    const changes = drain(leader).flatMap((r) => r.roleChanges);
    assert.deepEqual(changes.map((c) => [c.role, c.established]), [['looking', false]]);
    assert.match(changes[0]!.reason, /stepped down \(event loop stalled\)/);
    assert.equal(leader.peer.stepDown('again'), false, 'only a leader steps down');
    const follower = syncedFollower();
    assert.equal(follower.peer.stepDown('event loop stalled'), false);
    assert.equal(follower.peer.role, 'following');
    assert.deepEqual(drain(follower).flatMap((r) => r.roleChanges), []);
  });
});
