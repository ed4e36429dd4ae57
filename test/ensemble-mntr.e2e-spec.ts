/**
 * Goal: `/commands/mntr` of an ensemble member reports real figures, not placeholders: the
 * leader counts its followers and synced followers (a learner reports 0, as in ZooKeeper),
 * uptime grows, outstanding requests and pending syncs rise while writes and syncs are in
 * flight and fall back to 0, and the min/avg/max write latency counts the writes answered on
 * that member and moves with load.
 * Method: three in-process `EnsembleReplica`s (in-memory storage, peers on OS-reserved
 * loopback ports, a failure detector tolerant of a loaded machine); mntr bodies come from `adminResponse` over each replica's `status()`
 * (the HTTP layer is covered by admin-server.spec). Waits are the replicas' role-change
 * events and the writes' own promises, bounded. In-flight figures are read a few event-loop
 * turns after the requests were queued (bounded count), before any reply can arrive.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { adminResponse } from '../libs/zab/src/node/admin-server.js';
import { EnsembleReplica } from '../libs/zab/src/node/ensemble-replica.js';
import { LocalCoordinationClient } from '../libs/zab/src/node/local-client.js';
import {
  reserveLoopbackPorts,
  waitUntil,
} from '../libs/zab/src/transport/tcp/tcp-peer-transport.test-support.js';

const replicas: EnsembleReplica[] = [];
const clients: LocalCoordinationClient[] = [];
after(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  await Promise.allSettled(replicas.map((replica) => replica.close()));
});

async function mntr(replica: EnsembleReplica): Promise<Record<string, number>> {
  const response = await adminResponse('GET', '/commands/mntr', () => replica.status());
  assert.equal(response.statusCode, 200);
  return response.body as Record<string, number>;
}

function agreedLeader(all: EnsembleReplica[]): Promise<EnsembleReplica> {
  return waitUntil(() => {
    const leader = all.find((r) => r.role === 'leading' && r.isEstablished);
    return leader !== undefined && all.every((r) => r.isEstablished && r.leader === leader.id)
      ? leader : undefined;
  }, (wake) => {
    const offs = all.map((r) => r.onRoleChange(wake));
    return () => offs.forEach((off) => off());
  }, 15_000, 'an established leader followed by both others');
}

/** The largest value `read` takes over `turns` event-loop turns (a bounded look). */
async function peakOver(turns: number, read: () => number): Promise<number> {
  let peak = read();
  for (let turn = 0; turn < turns; turn++) {
    await new Promise((resolve) => setImmediate(resolve));
    peak = Math.max(peak, read());
  }
  return peak;
}

test('mntr of an ensemble: followers, uptime, outstanding requests, pending syncs, latency',
  async () => {
    const ports = await reserveLoopbackPorts(3);
    const ensemble = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
    for (const id of [1, 2, 3]) {
      // Three replicas share this event loop: a failure detector tolerant of a loaded CI
      // machine (1 s of silence, 500 ms stall) keeps failover out of a test about counters.
      replicas.push(await EnsembleReplica.open({ id, ensemble, dataDir: ':memory:', tickMs: 50,
        zabTickMs: 50, secret: 'ensemble-mntr-secret-0123' },
      { timing: { syncLimitTicks: 20, leaseWaitTicks: 16, leaseTicks: 12 } }));
    }
    const leader = await agreedLeader(replicas);
    const follower = replicas.find((r) => r !== leader)!;
    const before = await mntr(leader);
    assert.deepEqual([before.followers, before.synced_followers, before.ensemble_size],
      [2, 2, 3]);
    const onFollower = await mntr(follower);
    assert.deepEqual([onFollower.followers, onFollower.synced_followers], [0, 0]);
    assert.ok(before.uptime > 0, `uptime ${before.uptime}`);

    const client = await LocalCoordinationClient.connect(follower, 2_000);
    clients.push(client);
    const idle = await mntr(follower);
    const writes = Array.from({ length: 200 }, (_, i) =>
      client.create(`/load-${i}`, Buffer.alloc(64)));
    const outstanding = await peakOver(3, () => follower.status().outstandingRequests);
    assert.ok(outstanding > 0, 'writes in flight are outstanding');
    // A write caught in a leader change fails with ConnectionLoss and is not answered here.
    const settled = await Promise.allSettled(writes);
    const answered = settled.filter((outcome) => outcome.status === 'fulfilled').length;
    assert.ok(answered > 0);
    const loaded = await mntr(follower);
    assert.equal(loaded.outstanding_requests, 0);
    assert.ok(loaded.uptime > idle.uptime, 'uptime grows');
    const latency = follower.status().latency;
    assert.equal(latency.count, answered + 1, 'the answered writes and the session');
    assert.ok(loaded.min_latency > 0 && loaded.min_latency <= loaded.avg_latency &&
      loaded.avg_latency <= loaded.max_latency, JSON.stringify(loaded));
    assert.ok(loaded.max_latency > 0);
    assert.notDeepEqual([idle.avg_latency, idle.max_latency],
      [loaded.avg_latency, loaded.max_latency], 'latency moves with load');
    assert.equal((await mntr(leader)).min_latency, 0, 'nothing was submitted on the leader');

    const syncs = Array.from({ length: 20 }, () => leader.barrier().catch(() => undefined));
    const pending = await peakOver(3, () => leader.status().pendingSyncs);
    assert.ok(pending > 0, 'syncs awaiting their quorum round are pending');
    await Promise.all(syncs);
    assert.equal((await mntr(leader)).pending_syncs, 0);
  });
