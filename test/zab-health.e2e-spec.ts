/**
 * Goal: the terminus readiness indicator is up while the replica is in a working quorum and
 * down when it is not: a standalone replica is up; in a 3-app ensemble the leader and the
 * followers are up with the leader's id, and the last app standing after two of three close is
 * down (looking, no quorum), and `HealthCheckService` then reports the check as failed.
 * Method: Nest apps through @nestjs/testing with TerminusModule; the ensemble in one process
 * (isolation main) on 127.0.0.1; waits are on the replicas' role-change events, bounded.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test, type TestingModule } from '@nestjs/testing';
import { EnsembleReplica, ZAB_REPLICA, ZabModule, type ZabModuleOptions } from '../libs/zab/src/index.js';
import { ZabHealthIndicator } from '../libs/zab/src/health.js';
import { reserveLoopbackPorts, waitUntil } from '../libs/zab/src/transport/tcp/tcp-peer-transport.test-support.js';

async function startApp(options: ZabModuleOptions): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [TerminusModule, ZabModule.forRoot(options)],
    providers: [ZabHealthIndicator],
  }).setLogger({ log() {}, warn() {}, error() {} }).compile();
  await moduleRef.init();
  return moduleRef;
}

test('a standalone replica is ready, with its details', async () => {
  const app = await startApp({ dataDir: ':memory:', isolation: 'main' });
  try {
    const result = await app.get(ZabHealthIndicator).isReady();
    assert.equal(result.zab!.status, 'up');
    assert.equal(result.zab!.mode, 'standalone');
    const report = await app.get(HealthCheckService).check([() => app.get(ZabHealthIndicator).isReady('coordination')]);
    assert.equal(report.status, 'ok');
  } finally {
    await app.close();
  }
});

test('ensemble members are ready in a quorum; the last one standing is not', async () => {
  const ports = await reserveLoopbackPorts(3);
  const ensemble = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
  const apps = new Map<number, TestingModule>();
  try {
    const started = await Promise.all([1, 2, 3].map((id) => startApp({ id, ensemble, isolation: 'main',
      dataDir: ':memory:', tickMs: 50, sessionTimeoutMs: 1_000, secret: 'zab-health-secret-0123456789' })));
    started.forEach((app, i) => apps.set(i + 1, app));
    const results = await Promise.all(started.map((app) => app.get(ZabHealthIndicator).isReady()));
    const leaders = new Set(results.map((r) => r.zab!.leader));
    assert.equal(leaders.size, 1, 'every member names the same leader');
    assert.deepEqual(results.map((r) => r.zab!.status), ['up', 'up', 'up']);
    assert.deepEqual(results.map((r) => String(r.zab!.mode)).sort(), ['follower', 'follower', 'leader']);

    await apps.get(1)!.close();
    apps.delete(1);
    await apps.get(2)!.close();
    apps.delete(2);
    const last = apps.get(3)!;
    const replica = last.get<EnsembleReplica>(ZAB_REPLICA);
    await waitUntil(() => (replica.isEstablished ? undefined : true),
      (wake) => replica.onRoleChange(wake), 10_000, 'the last member to lose its quorum');
    const alone = await last.get(ZabHealthIndicator).isReady();
    assert.equal(alone.zab!.status, 'down');
    assert.equal(alone.zab!.mode, 'looking');
    await assert.rejects(last.get(HealthCheckService).check([() => last.get(ZabHealthIndicator).isReady()]),
      (error: unknown) => (error as { getStatus?: () => number }).getStatus?.() === 503);
  } finally {
    await Promise.allSettled([...apps.values()].map((app) => app.close()));
  }
});
