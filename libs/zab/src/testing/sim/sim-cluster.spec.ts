/**
 * Goal: whole-ensemble behaviour on the simulator without random faults: FLE with 3 and 5
 * voters elects the replica with the freshest (currentEpoch, lastZxid, id), a late joiner
 * follows the established leader, observers and forwarded writes converge, link-down
 * notices reach whom the model says (a crashed leader's peers; only one end of a `linkDown`),
 * and a run is exactly reproducible from its seed. Method: SimCluster with preset disks,
 * stepped until quiescent, then assertions on roles and applied txns.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeZxid, type PeerId } from '../../core/ids.js';
import { makeTxns } from '../zab-peer-harness.js';
import { Prng } from './prng.js';
import { DEFAULT_SIM_OPTIONS, SimCluster, type SimOptions } from './sim-cluster.js';
import { establishedLeader, runSeed } from './run-seed.js';

function cluster(options: Partial<SimOptions> = {}): SimCluster {
  return new SimCluster({ ...DEFAULT_SIM_OPTIONS, ...options }, new Prng(3));
}

/** Restarts every replica from the given disks (currentEpoch, txns of each epoch). */
function withDisks(sim: SimCluster, disks: Record<PeerId, { epoch: number; txns: number }>): void {
  for (const id of sim.replicas.keys()) sim.crash(id);
  for (const [id, { epoch, txns }] of Object.entries(disks)) {
    const disk = sim.replica(Number(id)).disk;
    disk.writeEpochs({ acceptedEpoch: epoch, currentEpoch: epoch, hasData: true });
    disk.replace(makeTxns(epoch, txns));
    disk.fsync();
  }
  for (const id of sim.replicas.keys()) sim.restart(id);
}

function settle(sim: SimCluster, ticks = 100): PeerId {
  for (let tick = 0; tick < ticks && establishedLeader(sim) === undefined; tick++) sim.step();
  const leader = establishedLeader(sim);
  assert.ok(leader !== undefined, sim.trace.join('\n'));
  for (let tick = 0; tick < 20; tick++) sim.step();
  return leader;
}

describe('FLE over the simulated ensemble', () => {
  test('3 voters: the highest currentEpoch wins even with a shorter log', () => {
    const sim = cluster();
    withDisks(sim, { 1: { epoch: 1, txns: 3 }, 2: { epoch: 2, txns: 1 },
      3: { epoch: 1, txns: 5 } });
    assert.equal(settle(sim), 2);
  });

  test('5 voters: same epoch → longest log; same log → highest id', () => {
    const sim = cluster({ voters: 5 });
    withDisks(sim, { 1: { epoch: 1, txns: 4 }, 2: { epoch: 1, txns: 6 }, 3: { epoch: 1, txns: 6 },
      4: { epoch: 1, txns: 2 }, 5: { epoch: 1, txns: 5 } });
    assert.equal(settle(sim), 3);
    for (const replica of sim.replicas.values()) {
      assert.equal(replica.disk.log.at(-1)?.zxid, makeZxid(1, 6), `replica ${replica.id} synced`);
    }
  });

  test('a late joiner follows the established leader and catches up', () => {
    const sim = cluster();
    sim.crash(3);
    const leader = settle(sim);
    for (let i = 0; i < 5; i++) sim.write(leader);
    sim.restart(3);
    settle(sim, 60);
    const late = sim.replica(3);
    assert.equal(late.peer?.leader, leader);
    assert.equal(late.peer?.isEstablished, true);
    assert.equal(late.applied.length, sim.checker.committed.length);
  });

  test('writes forwarded by followers and observers commit everywhere, observers included', () => {
    const sim = cluster({ observers: 1 });
    settle(sim);
    for (const id of [1, 2, 3, 4]) sim.write(id);
    for (let tick = 0; tick < 30; tick++) sim.step();
    assert.ok(sim.checker.committed.length >= 3);
    for (const replica of sim.replicas.values()) {
      assert.equal(replica.applied.length, sim.checker.committed.length, `replica ${replica.id}`);
    }
    assert.equal(sim.replica(4).peer?.role, 'observing');
  });
});

describe('link-down notices', () => {
  test('a crashed leader\'s followers are told and leave it before syncLimit', () => {
    const sim = cluster({ crashNoticeProbability: 1 });
    const leader = settle(sim);
    sim.crash(leader);
    const followers = sim.voterIds.filter((id) => id !== leader);
    for (let tick = 0; tick < 3; tick++) sim.step();
    for (const id of followers) assert.equal(sim.replica(id).peer?.role, 'looking', `${id}`);
  });

  test('without a notice (power loss) the followers wait out syncLimit', () => {
    const sim = cluster({ crashNoticeProbability: 0 });
    const leader = settle(sim);
    sim.crash(leader);
    const followers = sim.voterIds.filter((id) => id !== leader);
    for (let tick = 0; tick < 3; tick++) sim.step();
    for (const id of followers) assert.equal(sim.replica(id).peer?.role, 'following', `${id}`);
  });

  test('linkDown tells only the one end; the other keeps leading with its lease', () => {
    const sim = cluster();
    const leader = settle(sim);
    const followers = sim.voterIds.filter((id) => id !== leader);
    for (const id of followers) sim.linkDown(id, leader);
    sim.step();
    for (const id of followers) assert.equal(sim.replica(id).peer?.role, 'looking', `${id}`);
    // Told, the leader would forget both learners and its lease would end at once.
    assert.equal(sim.replica(leader).peer?.role, 'leading');
    assert.equal(sim.replica(leader).peer?.isLeaseValid(), true);
  });
});

test('a run is exactly reproducible from its seed', () => {
  const first = runSeed(4242, { verbose: true });
  const again = runSeed(4242, { verbose: true });
  assert.deepEqual(again.trace, first.trace);
  assert.equal(first.ok, true, first.failure);
});
