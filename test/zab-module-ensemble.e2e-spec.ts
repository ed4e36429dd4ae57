/**
 * Goal: three Nest apps, each `ZabModule.forRoot({ id, ensemble, isolation: 'main' })` with
 * the same three-member ensemble, form one ensemble in one process: each app starts once its
 * own session is created through the elected leader, a write through one app's
 * `CoordinationService` is read through the others after `sync`, the admin status names one
 * leader, and closing the leader's app leaves the other two writing once they elect anew.
 * Method: real apps through @nestjs/testing, in-memory storage, peer ports reserved from the
 * OS on 127.0.0.1. Waits are the services' own promises (writes wait for a leader, bounded by
 * the driver's request timeout) and role-change events; nothing sleeps or polls. Under load a
 * leader change can happen at any time (a starved event loop); a write or sync in flight then
 * fails with ConnectionLoss, as in ZooKeeper: a sync is sent again, a create too but NodeExists
 * then counts only with the data this test wrote (the lost attempt committed), bounded.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  CoordinationService,
  EnsembleReplica,
  ErrorCode,
  KeeperError,
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

const LOSS_RETRIES_MAX = 3;

function isCode(error: unknown, code: number): boolean {
  return error instanceof KeeperError && error.code === code;
}

/** Creates `path` once across ConnectionLoss: NodeExists on a resend must hold our data. */
async function createOnce(service: CoordinationService, path: string, data: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await service.create(path, data);
      return;
    } catch (error) {
      if (attempt > 1 && isCode(error, ErrorCode.NodeExists)) {
        assert.equal((await service.get(path)).data.toString(), data, `${path}: the lost create committed`);
        return;
      }
      if (!isCode(error, ErrorCode.ConnectionLoss) || attempt > LOSS_RETRIES_MAX) throw error;
    }
  }
}

/** `sync` changes nothing, so it is sent again after a ConnectionLoss (bounded). */
async function syncOnce(service: CoordinationService): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await service.sync('/');
    } catch (error) {
      if (!isCode(error, ErrorCode.ConnectionLoss) || attempt > LOSS_RETRIES_MAX) throw error;
    }
  }
}

/** Resolves with `check`'s value once it holds, re-checked at every role change (bounded). */
function onRoles<T>(replicas: EnsembleReplica[], check: () => T | undefined, what: string): Promise<T> {
  return waitUntil(check, (wake) => {
    const offs = replicas.map((r) => r.onRoleChange(wake));
    return () => offs.forEach((off) => off());
  }, 10_000, what);
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
    await createOnce(started[0]!.get(CoordinationService), '/via-app-1', 'one');
    for (const app of started) {
      await syncOnce(app.get(CoordinationService));
      assert.equal((await app.get(CoordinationService).get('/via-app-1')).data.toString(),
        'one');
    }
    // The modes once all three follow one established leader (one may be re-electing now).
    const { modes, leaderId } = await onRoles(replicas, () => {
      const leader = replicas.find((r) => r.role === 'leading' && r.isEstablished);
      const agreed = leader !== undefined &&
        replicas.every((r) => r.isEstablished && r.leader === leader.id);
      return agreed ? { modes: replicas.map((r) => r.status().mode).sort(), leaderId: leader.id }
        : undefined;
    }, 'an established leader followed by all three');
    assert.deepEqual(modes, ['follower', 'follower', 'leader']);
    await apps.get(leaderId)!.close();
    apps.delete(leaderId);
    const [a, b] = [...apps.values()];
    // A write in flight when the leader goes fails with ConnectionLoss (as in ZooKeeper), so
    // wait for the survivors to agree on a new leader (their role-change events) first.
    const survivors = [a!, b!].map((app) => app.get<EnsembleReplica>(ZAB_REPLICA));
    await onRoles(survivors, () => {
      const [x, y] = survivors;
      const agreed = x!.isEstablished && y!.isEstablished && x!.leader === y!.leader &&
        x!.leader !== leaderId;
      return agreed ? true : undefined;
    }, 'a new leader followed by both survivors');
    // Still, under load the new leader may step down again while the write is in flight.
    await createOnce(a!.get(CoordinationService), '/after-failover', 'two');
    await syncOnce(b!.get(CoordinationService));
    assert.ok(await b!.get(CoordinationService).exists('/after-failover'));
    assert.ok(await b!.get(CoordinationService).exists('/via-app-1'));
  } finally {
    await Promise.allSettled([...apps.values()].map((app) => app.close()));
  }
});
