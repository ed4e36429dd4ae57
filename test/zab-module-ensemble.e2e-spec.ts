/**
 * Goal: three Nest apps, each `ZabModule.forRoot({ id, ensemble, isolation: 'main' })` with
 * the same three-member ensemble, form one ensemble in one process: each app starts once its
 * own session is created through the elected leader, a write through one app's
 * `CoordinationService` is read through the others after `sync`, the admin status names one
 * leader, and closing the leader's app leaves the other two writing once they elect anew.
 * Method: real apps through @nestjs/testing, in-memory storage, peer ports reserved from the
 * OS on 127.0.0.1. Waits are the services' own promises (writes wait for a leader, bounded by
 * the driver's request timeout); nothing sleeps or polls.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  CoordinationService,
  EnsembleReplica,
  ZAB_REPLICA,
  ZabModule,
} from '../libs/zab/src/index.js';
import {
  reserveLoopbackPorts,
  waitUntil,
} from '../libs/zab/src/transport/tcp/tcp-peer-transport.test-support.js';

async function startApp(id: number, ensemble: string): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [ZabModule.forRoot({ id, ensemble, isolation: 'main', dataDir: ':memory:',
      tickMs: 50, sessionTimeoutMs: 1_000, secret: 'zab-module-ensemble-secret' })],
  }).setLogger({ log() {}, warn() {}, error() {} }).compile();
  await moduleRef.init();
  return moduleRef;
}

test('three apps with isolation main form an ensemble through ZabModule', async () => {
  const ports = await reserveLoopbackPorts(3);
  const ensemble = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
  const apps = new Map<number, TestingModule>();
  try {
    const started = await Promise.all([1, 2, 3].map((id) => startApp(id, ensemble)));
    started.forEach((app, i) => apps.set(i + 1, app));
    const replicas = started.map((app) => app.get<EnsembleReplica>(ZAB_REPLICA));
    for (const replica of replicas) assert.ok(replica instanceof EnsembleReplica);
    await started[0]!.get(CoordinationService).create('/via-app-1', 'one');
    for (const app of started) {
      await app.get(CoordinationService).sync('/');
      assert.equal((await app.get(CoordinationService).get('/via-app-1')).data.toString(),
        'one');
    }
    const modes = replicas.map((r) => r.status().mode).sort();
    assert.deepEqual(modes, ['follower', 'follower', 'leader']);
    const leaderId = replicas.find((r) => r.status().mode === 'leader')!.id;
    await apps.get(leaderId)!.close();
    apps.delete(leaderId);
    const [a, b] = [...apps.values()];
    // A write in flight when the leader goes fails with ConnectionLoss (as in ZooKeeper), so
    // wait for the survivors to agree on a new leader (their role-change events) first.
    const survivors = [a!, b!].map((app) => app.get<EnsembleReplica>(ZAB_REPLICA));
    await waitUntil(() => {
      const [x, y] = survivors;
      const agreed = x!.isEstablished && y!.isEstablished && x!.leader === y!.leader &&
        x!.leader !== leaderId;
      return agreed ? true : undefined;
    }, (wake) => {
      const offs = survivors.map((r) => r.onRoleChange(wake));
      return () => offs.forEach((off) => off());
    }, 10_000, 'a new leader followed by both survivors');
    await a!.get(CoordinationService).create('/after-failover', 'two');
    await b!.get(CoordinationService).sync('/');
    assert.ok(await b!.get(CoordinationService).exists('/after-failover'));
    assert.ok(await b!.get(CoordinationService).exists('/via-app-1'));
  } finally {
    await Promise.allSettled([...apps.values()].map((app) => app.close()));
  }
});
