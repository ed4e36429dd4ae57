/**
 * Goal: with the default `isolation: 'worker'`, three Nest apps in one process form one Zab
 * ensemble (each replica an `EnsembleReplica` in its own worker thread): they elect, replicate
 * and fail over as the main-thread version does (test/zab-module-ensemble.e2e-spec.ts); and a
 * 5 s stall of the apps' main thread — the shared one of all three apps, since they run in one
 * process — costs nothing: every app's session survives, no election happens (every replica's
 * epoch is unchanged) and the ensemble keeps committing while the main thread is blocked
 * (writes posted to a worker just before the stall are committed, as another worker records
 * with its own clock, before the stall ends).
 * Method: real apps through @nestjs/testing, in-memory storage, peer ports reserved from the
 * OS on 127.0.0.1. Waits are the services' own promises, bounded by the driver's request
 * timeout; the stall is a bounded busy loop (the one deliberate block: it is what is tested).
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  CoordinationService,
  ErrorCode,
  KeeperError,
  WorkerReplicaHandle,
  ZAB_REPLICA,
  ZabModule,
} from '../libs/zab/src/index.js';
import {
  reserveLoopbackPorts,
} from '../libs/zab/src/transport/tcp/tcp-peer-transport.test-support.js';

const STALL_MS = 5_000;

async function startApp(id: number, ensemble: string): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [ZabModule.forRoot({ id, ensemble, dataDir: ':memory:',
      tickMs: 50, sessionTimeoutMs: 1_000, secret: 'zab-module-worker-ensemble-secret' })],
  }).setLogger({ log() {}, warn() {}, error() {} }).compile();
  await moduleRef.init();
  return moduleRef;
}

async function startEnsemble(): Promise<TestingModule[]> {
  const ports = await reserveLoopbackPorts(3);
  const ensemble = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
  return Promise.all([1, 2, 3].map((id) => startApp(id, ensemble)));
}

function handleOf(app: TestingModule): WorkerReplicaHandle {
  const handle = app.get<WorkerReplicaHandle>(ZAB_REPLICA);
  assert.ok(handle instanceof WorkerReplicaHandle, 'the default isolation is the worker');
  return handle;
}

/**
 * A write that a leader change answers with ConnectionLoss (as ZooKeeper does for requests in
 * flight) is retried; each attempt itself waits for a leader, bounded by the request timeout.
 */
async function createRetrying(service: CoordinationService, path: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await service.create(path, 'x');
      return;
    } catch (error) {
      const lost = error instanceof KeeperError && error.code === ErrorCode.ConnectionLoss;
      if (!lost || attempt >= 5) throw error;
    }
  }
}

/** Blocks this thread (every app's main thread) for `ms`; returns when it began and ended. */
function stallMainThread(ms: number): { startMs: number; endMs: number } {
  const startMs = Date.now();
  while (Date.now() - startMs < ms) {
    // Deliberate busy loop: the stall under test.
  }
  return { startMs, endMs: Date.now() };
}

test('three apps with the default worker isolation elect, replicate and fail over', async () => {
  const apps = await startEnsemble();
  const open = new Set(apps);
  try {
    const handles = apps.map(handleOf);
    await apps[0]!.get(CoordinationService).create('/via-app-1', 'one');
    for (const app of apps) {
      await app.get(CoordinationService).sync('/');
      assert.equal((await app.get(CoordinationService).get('/via-app-1')).data.toString(), 'one');
    }
    const statuses = await Promise.all(handles.map((h) => h.status()));
    assert.deepEqual(statuses.map((s) => s.mode).sort(), ['follower', 'follower', 'leader']);
    const leader = apps[statuses.findIndex((s) => s.mode === 'leader')]!;
    await leader.close();
    open.delete(leader);
    const [a, b] = [...open];
    await createRetrying(a!.get(CoordinationService), '/after-failover');
    await b!.get(CoordinationService).sync('/');
    assert.ok(await b!.get(CoordinationService).exists('/after-failover'));
    assert.ok(await b!.get(CoordinationService).exists('/via-app-1'));
    const modes = (await Promise.all([a!, b!].map((app) => handleOf(app).status())))
      .map((s) => s.mode).sort();
    assert.deepEqual(modes, ['follower', 'leader']);
  } finally {
    await Promise.allSettled([...open].map((app) => app.close()));
  }
});

test('a 5 s main-thread stall keeps sessions, the leader and commits going', async () => {
  const apps = await startEnsemble();
  try {
    const handles = apps.map(handleOf);
    const services = apps.map((app) => app.get(CoordinationService));
    await services[0]!.create('/owned-by-app-1', 'mine', { mode: 'ephemeral' });
    const before = await Promise.all(handles.map((h) => h.status()));
    await handles[2]!.recordEvents('/');
    // Posted to app 2's worker (the outbox flushes on setImmediate) before the stall begins.
    const writes = Array.from({ length: 20 }, (_, i) => services[1]!.create(`/during-${i}`));
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
    const stall = stallMainThread(STALL_MS);
    await Promise.all(writes);
    const created = (await handles[2]!.recordedEvents())
      .filter((e) => e.event.type === 'created' && e.event.path.startsWith('/during-'));
    assert.equal(created.length, 20, 'app 3 saw every write of app 2');
    for (const { atMs } of created) {
      assert.ok(atMs < stall.endMs, `committed before the stall ended (${atMs} < ${stall.endMs})`);
    }
    assert.ok(created.some(({ atMs }) => atMs >= stall.startMs), 'some committed in the stall');
    const after = await Promise.all(handles.map((h) => h.status()));
    assert.deepEqual(after.map((s) => s.epoch), before.map((s) => s.epoch), 'no election');
    assert.deepEqual(after.map((s) => s.mode), before.map((s) => s.mode), 'same roles');
    // Every app's own session survived: app 1's ephemeral is still there, and each writes.
    assert.ok(await services[2]!.exists('/owned-by-app-1'));
    for (const [i, service] of services.entries()) await service.create(`/after-stall-${i}`);
  } finally {
    await Promise.allSettled(apps.map((app) => app.close()));
  }
});
