/**
 * Goal: the ZooKeeper data-loss bugs of the synchronization phase (research/zookeeper.md §2)
 * cannot happen here. Method: scripted simulator scenarios (no random faults) that crash
 * replicas at the exact Ready where each bug lived — often the whole ensemble at once — then
 * restart everything and require, with the safety checkers on at every step, that a leader is
 * established, a new write commits everywhere and every acknowledged write survived.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { counterOf, type PeerId } from '../../core/ids.js';
import type { Ready } from '../../core/ready.js';
import { DEFAULT_ZAB_TIMING } from '../../core/zab-peer.js';
import { Prng } from './prng.js';
import { DEFAULT_SIM_OPTIONS, SimCluster, type CrashPoint, type SimOptions,
  type SimReplica } from './sim-cluster.js';
import { establishedLeader, livenessPhase } from './run-seed.js';

function quietCluster(options: Partial<SimOptions> = {}, seed = 1): SimCluster {
  return new SimCluster({ ...DEFAULT_SIM_OPTIONS, delayTicksMax: 0, fsyncDelayTicksMax: 1,
    ...options }, new Prng(seed));
}

function runUntil(cluster: SimCluster, what: string, done: () => boolean, ticksMax = 300): void {
  for (let tick = 0; tick < ticksMax; tick++) {
    if (done()) return;
    cluster.step();
  }
  assert.fail(`not reached within ${ticksMax} ticks: ${what}\n` +
    cluster.trace.slice(-30).join('\n'));
}

function leaderOf(cluster: SimCluster): PeerId {
  runUntil(cluster, 'a leader with a lease', () => establishedLeader(cluster) !== undefined);
  return establishedLeader(cluster)!;
}

/** Writes `count` txns through the leader and waits until every live replica applied them. */
function writeCommitted(cluster: SimCluster, count: number): void {
  const target = cluster.checker.committed.length + count;
  let written = 0;
  runUntil(cluster, `${count} writes applied everywhere`, () => {
    if (written < count && cluster.write(leaderOf(cluster))) written++;
    return [...cluster.replicas.values()].every((r) => !r.alive || r.applied.length >= target);
  });
}

function finishAndCheck(cluster: SimCluster, acknowledged: number): void {
  cluster.crashHook = undefined;
  cluster.dropHook = undefined;
  const failure = livenessPhase(cluster, new Prng(2), 600);
  assert.equal(failure, undefined, `${failure ?? ''}\n${cluster.trace.slice(-40).join('\n')}`);
  assert.ok(cluster.checker.committed.length > acknowledged, 'all acknowledged writes kept');
}

function crashEveryone(cluster: SimCluster): void {
  for (const id of cluster.replicas.keys()) cluster.crash(id);
}

/**
 * A follower misses writes and restarts. With `newEpoch` the old leader is down by then, so the
 * follower syncs from a new leader in a new epoch (the case of the ZooKeeper bugs); without,
 * it rejoins the same leader in its epoch. `restart` returns the follower to the ensemble.
 */
function laggingFollower(options: Partial<SimOptions> = {}, newEpoch = true):
  { cluster: SimCluster; lagging: PeerId; restart: () => void } {
  const cluster = quietCluster(options);
  const leader = leaderOf(cluster);
  writeCommitted(cluster, 3);
  const lagging = cluster.voterIds.find((id) => id !== leader)!;
  cluster.crash(lagging);
  writeCommitted(cluster, 3);
  const restart = (): void => {
    if (newEpoch) cluster.crash(leader);
    cluster.restart(lagging);
  };
  return { cluster, lagging, restart };
}

function isSyncing(replica: SimReplica): boolean {
  return replica.peer?.role === 'following' && !replica.peer.isEstablished;
}

interface SyncStep {
  name: string;
  point: CrashPoint;
  matches: (ready: Ready, r: SimReplica) => boolean;
}

const FOLLOWER_SYNC_STEPS: SyncStep[] = [
  { name: 'synced txns handed to the disk, not yet fsynced', point: 'persisted',
    matches: (ready, r) => isSyncing(r) &&
      (ready.append.length > 0 || ready.installSnapshot !== undefined) },
  { name: 'synced txns durable, currentEpoch not yet written', point: 'start',
    matches: (ready, r) => isSyncing(r) && ready.epochWrite !== undefined &&
      ready.epochWrite.currentEpoch > r.disk.epochs.currentEpoch },
  { name: 'currentEpoch durable, NEWLEADER ack not yet sent', point: 'persisted',
    matches: (ready, r) => isSyncing(r) && ready.messages.some((m) => m.message.type === 'ack') },
  { name: 'NEWLEADER ack sent, before UPTODATE', point: 'sent',
    matches: (ready, r) => isSyncing(r) && ready.messages.some((m) => m.message.type === 'ack') },
];

describe('ZooKeeper synchronization bugs as scenarios', () => {
  for (const step of FOLLOWER_SYNC_STEPS) {
    for (const mode of ['diff', 'snap'] as const) {
      test(`ZK-3911/4643/4646/4785 (${mode}): whole ensemble crashes when ${step.name}`, () => {
        const timing = { ...DEFAULT_ZAB_TIMING, diffTxnCountMax: mode === 'snap' ? 0 : 1000 };
        const { cluster, lagging, restart } = laggingFollower({ timing });
        const acknowledged = cluster.checker.committed.length;
        let crashed = false;
        cluster.crashHook = (replica, ready, point) => {
          if (crashed || replica.id !== lagging || point !== step.point) return false;
          if (!step.matches(ready, replica)) return false;
          crashed = true;
          crashEveryone(cluster);
          return true;
        };
        restart();
        runUntil(cluster, 'the crash point', () => crashed);
        finishAndCheck(cluster, acknowledged);
      });
    }
  }

  test('ZK-3911 variant: only the syncing follower crashes at each step, leader serves', () => {
    const steps = FOLLOWER_SYNC_STEPS.filter((s) => !s.name.includes('currentEpoch not yet'));
    for (const step of steps) {
      const { cluster, lagging } = laggingFollower({}, false);
      const acknowledged = cluster.checker.committed.length;
      let crashed = false;
      cluster.crashHook = (replica, ready, point) => {
        if (crashed || replica.id !== lagging || point !== step.point) return false;
        crashed = step.matches(ready, replica);
        return crashed;
      };
      cluster.restart(lagging);
      runUntil(cluster, `the crash point (${step.name})`, () => crashed);
      writeCommitted(cluster, 2);
      finishAndCheck(cluster, acknowledged);
    }
  });

  test('ZK-3911/4646/4643: a follower with synced txns not yet durable neither acks nor ' +
    'writes currentEpoch, so it can never win an election with a short log', () => {
    const cluster = quietCluster();
    const oldLeader = leaderOf(cluster);
    const [other, lagging] = cluster.voterIds.filter((id) => id !== oldLeader) as [PeerId, PeerId];
    cluster.crash(lagging);
    writeCommitted(cluster, 3); // on oldLeader and other only
    const acknowledged = cluster.checker.committed.length;
    // X reaches `other` only: the old leader crashes before its own fsync of X.
    let proposed = false;
    cluster.crashHook = (replica, ready, point) => {
      if (proposed || replica.id !== oldLeader || point !== 'sent') return false;
      if (ready.append.length === 0) return false;
      proposed = true;
      return true;
    };
    assert.equal(cluster.write(oldLeader), true);
    const x = cluster.replica(other).disk;
    const lastCommitted = cluster.checker.committed.at(-1)!.zxid;
    runUntil(cluster, 'X durable on the other follower',
      () => (x.durableLog.at(-1)?.zxid ?? 0n) > lastCommitted);
    cluster.crashHook = undefined;
    cluster.fsyncHeld.add(lagging);
    cluster.restart(lagging);
    const epochBefore = cluster.replica(lagging).disk.epochs.currentEpoch;
    for (let tick = 0; tick < 60; tick++) {
      cluster.step();
      assert.equal(establishedLeader(cluster), undefined,
        'no NEWLEADER quorum without a durable ack');
    }
    assert.equal(cluster.replica(lagging).disk.epochs.currentEpoch, epochBefore,
      'currentEpoch is not written before the synced txns are durable (ZK-4643)');
    // The whole-ensemble crash: the lagging follower must not out-vote the old leader's history.
    cluster.crash(other);
    cluster.crash(lagging);
    cluster.fsyncHeld.clear();
    cluster.restart(oldLeader);
    cluster.restart(lagging);
    runUntil(cluster, 'a leader of the two', () => establishedLeader(cluster) !== undefined);
    finishAndCheck(cluster, acknowledged);
  });

  test('ZK-3642: leader crashes after SNAP, before NEWLEADER reaches the learner', () => {
    const timing = { ...DEFAULT_ZAB_TIMING, diffTxnCountMax: 0 };
    const { cluster, lagging } = laggingFollower({ timing }, false);
    const acknowledged = cluster.checker.committed.length;
    const leader = establishedLeader(cluster)!;
    let snapSent = false;
    let crashed = false;
    cluster.dropHook = (from, to, message) => {
      if (from === leader && to === lagging && message.type === 'snap') snapSent = true;
      return snapSent && from === leader && to === lagging && message.type === 'newLeader';
    };
    cluster.crashHook = (replica, _ready, point) => {
      if (crashed || replica.id !== leader || point !== 'sent' || !snapSent) return false;
      crashed = true;
      return true;
    };
    cluster.restart(lagging);
    runUntil(cluster, 'leader crash after SNAP', () => crashed);
    for (let tick = 0; tick < 40; tick++) cluster.step();
    cluster.crash(lagging);
    finishAndCheck(cluster, acknowledged);
  });

  test('ZK-2845: an ex-leader\'s logged but uncommitted txn is truncated, never applied', () => {
    const cluster = quietCluster();
    const oldLeader = leaderOf(cluster);
    writeCommitted(cluster, 3);
    cluster.partitionOff([oldLeader]);
    assert.equal(cluster.write(oldLeader), true, 'proposed and logged on the old leader only');
    const orphan = cluster.replica(oldLeader).disk.log.at(-1)!;
    runUntil(cluster, 'the orphan is durable on the old leader',
      () => cluster.replica(oldLeader).disk.durableContains(orphan.zxid, orphan.txn));
    cluster.crash(oldLeader);
    cluster.heal();
    runUntil(cluster, 'a new leader', () => {
      const leader = establishedLeader(cluster);
      return leader !== undefined && leader !== oldLeader;
    });
    writeCommitted(cluster, 3);
    const acknowledged = cluster.checker.committed.length;
    finishAndCheck(cluster, acknowledged);
    assert.equal(cluster.checker.committed.some((t) => t.txn.equals(orphan.txn)), false);
    const rejoined = cluster.replica(oldLeader).disk.log;
    assert.equal(rejoined.some((t) => t.txn.equals(orphan.txn)), false, 'TRUNC removed it');
  });

  test('ZK-261: a wiped replica does not help elect a leader that lacks committed writes', () => {
    const cluster = quietCluster();
    const first = leaderOf(cluster);
    const [a, b] = cluster.voterIds.filter((id) => id !== first) as [PeerId, PeerId];
    cluster.crash(b);
    writeCommitted(cluster, 3);
    const acknowledged = cluster.checker.committed.length;
    cluster.crash(first);
    cluster.wipe(a); // the only other copy of the writes is on `first`, which is down
    cluster.restart(a);
    cluster.restart(b);
    for (let tick = 0; tick < 200; tick++) {
      cluster.step();
      assert.equal(establishedLeader(cluster), undefined, 'no quorum with data: no leader');
    }
    finishAndCheck(cluster, acknowledged);
    assert.equal(cluster.replica(a).peer?.hasData, true, 'the wiped replica synced');
  });

  test('a partitioned old leader\'s lease ends before a new leader is established', () => {
    const cluster = quietCluster({ voters: 5 });
    const oldLeader = leaderOf(cluster);
    writeCommitted(cluster, 2);
    cluster.partitionOff([oldLeader]);
    runUntil(cluster, 'a new leader', () => {
      const leader = establishedLeader(cluster);
      return leader !== undefined && leader !== oldLeader;
    });
    assert.equal(cluster.replica(oldLeader).peer?.isLeaseValid(), false);
    finishAndCheck(cluster, cluster.checker.committed.length);
  });

  test('a follower that sees its leader\'s link drop does not help establish a new leader ' +
    'within the lease', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const cluster = quietCluster({}, seed);
      const oldLeader = leaderOf(cluster);
      writeCommitted(cluster, 2);
      // Both links break and only the followers are told: the old leader keeps its lease,
      // which lasts until leaseTicks after the newest heartbeat they echoed.
      const droppedAt = cluster.now;
      for (const id of cluster.voterIds) if (id !== oldLeader) cluster.linkDown(id, oldLeader);
      assert.equal(cluster.replica(oldLeader).peer?.isLeaseValid(), true);
      // The lease checker throws if anyone establishes a leader while that lease is valid.
      runUntil(cluster, 'a new leader', () => {
        const leader = establishedLeader(cluster);
        return leader !== undefined && leader !== oldLeader;
      });
      // ... and no later than needed: a follower waiting out syncLimit (as for a silent leader)
      // could not be established before syncLimit + 1 ticks after the drop.
      assert.ok(cluster.now - droppedAt <= cluster.options.timing.syncLimitTicks,
        `seed ${seed}: re-elected ${cluster.now - droppedAt} ticks after the link drop`);
      finishAndCheck(cluster, cluster.checker.committed.length);
    }
  });

  test('zxid counter overflow forces a new epoch and writes continue', () => {
    const cluster = quietCluster();
    const leader = leaderOf(cluster);
    writeCommitted(cluster, 1);
    const peer = cluster.replica(leader).peer!;
    const epoch = peer.epoch;
    peer.lastLoggedZxid = (BigInt(epoch) << 32n) | 0xfffffffen;
    runUntil(cluster, 'step down on overflow',
      () => peer.role !== 'leading' || !peer.isEstablished);
    assert.ok(counterOf(peer.lastLoggedZxid) === 0xfffffffe);
  });
});
