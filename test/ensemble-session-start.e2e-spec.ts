/**
 * Goal: an instance whose session is being created while the leader goes away still gets its
 * session (as a ZooKeeper client keeps connecting): the createSession forwarded to a leader
 * that dies before committing it fails with ConnectionLoss inside the replica, which retries
 * it with the next leader, instead of failing the app's start (`zab-replica: cannot start`).
 * Method: three in-process `EnsembleReplica`s (in-memory storage, peers on OS-reserved
 * loopback ports, a failure detector tolerant of a loaded machine). A follower starts a
 * createSession; the moment the leader has proposed it (checked every event-loop turn,
 * bounded in turns and time), before any ack can reach it over TCP, the leader is closed.
 * The session must be created, and the replica's warning shows that the first attempt was
 * lost and retried.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { EnsembleReplica } from '../libs/zab/src/node/ensemble-replica.js';
import { withTimeout } from '../libs/zab/src/testing/with-timeout.js';
import {
  reserveLoopbackPorts,
  waitUntil,
} from '../libs/zab/src/transport/tcp/tcp-peer-transport.test-support.js';

const replicas: EnsembleReplica[] = [];
after(async () => {
  await Promise.allSettled(replicas.map((replica) => replica.close()));
});

function agreedLeader(all: EnsembleReplica[]): Promise<EnsembleReplica> {
  return waitUntil(() => {
    const leader = all.find((r) => r.role === 'leading' && r.isEstablished);
    return leader !== undefined && all.every((r) => r.isEstablished && r.leader === leader.id)
      ? leader : undefined;
  }, (wake) => {
    const offs = all.map((r) => r.onRoleChange(wake));
    return () => offs.forEach((off) => off());
  }, 15_000, 'an established leader followed by every open replica');
}

test('a createSession lost with its leader is retried with the next one', async () => {
  const ports = await reserveLoopbackPorts(3);
  const ensemble = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
  const warnings: string[] = [];
  for (const id of [1, 2, 3]) {
    const logger = { log() {}, warn: (m: string) => warnings.push(m), error() {} };
    replicas.push(await EnsembleReplica.open({ id, ensemble, dataDir: ':memory:', tickMs: 50,
      zabTickMs: 50, secret: 'ensemble-session-start-secret' },
    { logger, timing: { syncLimitTicks: 20, leaseWaitTicks: 16, leaseTicks: 12 } }));
  }
  const leader = await agreedLeader(replicas);
  const follower = replicas.find((r) => r !== leader)!;
  const proposed = leader.stats.proposals;
  const creating = follower.createSession(2_000, true);
  const deadlineMs = performance.now() + 10_000;
  for (let turn = 0; turn < 10_000_000 && leader.stats.proposals === proposed &&
    performance.now() < deadlineMs; turn++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(leader.stats.proposals, proposed + 1, 'the leader proposed the createSession');
  const closing = leader.close();
  const session = await withTimeout(creating, 20_000, 'the session despite the failover');
  await closing;
  assert.ok(follower.tree.hasSession(session.sessionId), 'the session exists');
  assert.ok(warnings.some((w) => /createSession attempt 1 failed \(.*ConnectionLoss/.test(w)),
    `the first attempt was lost and retried: ${JSON.stringify(warnings)}`);
  const survivors = replicas.filter((r) => r !== leader);
  const next = await agreedLeader(survivors);
  assert.notEqual(next.id, leader.id);
});
