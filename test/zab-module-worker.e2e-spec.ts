/**
 * Goal: ZabModule with the replica in a worker thread (the default, `isolation: 'worker'`)
 * behaves as with the replica on the main thread: the instance's session lives in the worker,
 * state survives restarts, app.close() removes the instance's ephemerals at once, observables
 * stop watching on unsubscribe and error with SessionExpiredError when the session ends; and a
 * replica worker that dies is logged, fails calls with a typed error and ends the observables.
 * Method: real applications through @nestjs/testing on temporary data directories; the
 * replica side is inspected through the handle's probes (answered in the worker, in channel
 * order, so no polling is needed); waits are on events with bounded timeouts.
 */
import 'reflect-metadata';
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test, type TestingModule } from '@nestjs/testing';
import { firstValueFrom, take, toArray } from 'rxjs';
import {
  CoordinationService,
  ReplicaWorkerExitedError,
  SessionExpiredError,
  WorkerCoordinationClient,
  WorkerReplicaHandle,
  ZAB_CLIENT,
  ZAB_REPLICA,
  ZabModule,
} from '../libs/zab/src/index.js';
import { deferred, withTimeout } from '../libs/zab/src/testing/with-timeout.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zab-module-worker-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function app(imports: unknown[]): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({ imports: imports as never[] }).compile();
  await moduleRef.init();
  return moduleRef;
}

describe('ZabModule with isolation worker', () => {
  test('the default runs the replica in a worker; the instance session lives there', async () => {
    const moduleRef = await app([ZabModule.forRoot({ dataDir: ':memory:' })]);
    const handle = moduleRef.get<WorkerReplicaHandle>(ZAB_REPLICA);
    assert.ok(handle instanceof WorkerReplicaHandle);
    assert.equal(handle.options.isolation, 'worker');
    assert.ok(moduleRef.get(ZAB_CLIENT) instanceof WorkerCoordinationClient);
    const zk = moduleRef.get(CoordinationService);
    assert.deepEqual(await handle.sessionIds(), [zk.sessionId]);
    await moduleRef.close();
    assert.equal(handle.state, 'closed');
  });

  test('state survives restarts; app.close() removes the instance ephemerals at once', async () => {
    const dataDir = tempDir();
    const first = await app([ZabModule.forRoot({ dataDir, isolation: 'worker' })]);
    const zk = first.get(CoordinationService);
    await zk.create('/config', JSON.stringify({ a: 1 }));
    await zk.create('/members', '');
    const member = await zk.create('/members/m-', 'me', { mode: 'ephemeral_sequential' });
    for (let i = 0; i < 50; i++) await zk.set('/config', JSON.stringify({ a: i }));
    // An independent session in the same worker sees the ephemeral vanish at close.
    const handle = first.get<WorkerReplicaHandle>(ZAB_REPLICA);
    const observer = await handle.connect(10_000);
    const gone = deferred<string>();
    await observer.exists(member, (event) => gone.resolve(event.type));
    await zk.create('/unused', '');
    const closing = first.close();
    assert.equal(await withTimeout(gone.promise, 5000, 'ephemeral deletion at close'), 'deleted');
    await closing;

    const second = await app([ZabModule.forRoot({ dataDir })]);
    const zk2 = second.get(CoordinationService);
    assert.deepEqual(JSON.parse((await zk2.get('/config')).data.toString()), { a: 49 });
    assert.equal((await zk2.get('/config')).stat.version, 50);
    assert.equal(await zk2.exists(member), null);
    await second.close();
  });

  test('data$ emits the current state then every change, and its watch is removed', async () => {
    const moduleRef = await app([ZabModule.forRoot({ dataDir: ':memory:' })]);
    const zk = moduleRef.get(CoordinationService);
    const handle = moduleRef.get<WorkerReplicaHandle>(ZAB_REPLICA);
    await zk.create('/flag', 'a');
    const watchesBefore = await handle.watchCount();
    const values = firstValueFrom(zk.data$('/flag').pipe(take(4), toArray()));
    await zk.set('/flag', 'b');
    await zk.set('/flag', 'c');
    await zk.delete('/flag');
    const seen = await withTimeout(values, 2000, 'four data$ values');
    assert.deepEqual(seen.map((v) => (v === null ? null : v.data.toString())), ['a', 'b', 'c', null]);
    // The unobserve message precedes this probe on the ordered channel.
    assert.equal(await handle.watchCount(), watchesBefore, 'watch removed after unsubscribe');
    await moduleRef.close();
  });

  test('observables error with SessionExpiredError when the session expires', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ZabModule.forRoot({ dataDir: ':memory:', tickMs: 20 })],
    })
      .overrideProvider(ZAB_CLIENT)
      .useFactory({
        factory: (handle: WorkerReplicaHandle) => handle.connect(40, { local: false }),
        inject: [ZAB_REPLICA],
      })
      .compile();
    await moduleRef.init();
    const zk = moduleRef.get(CoordinationService);
    const failure = new Promise<unknown>((resolve) => {
      zk.data$('/').subscribe({ error: resolve });
    });
    assert.ok((await withTimeout(failure, 5000, 'expiry error')) instanceof SessionExpiredError);
    await moduleRef.close();
  });

  test('a dead worker is logged, fails calls with a typed error, and ends the observables', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ZabModule.forRoot({ dataDir: tempDir() })],
    }).compile();
    const errors: string[] = [];
    moduleRef.useLogger({ log() {}, warn() {}, error: (message: unknown) => errors.push(String(message)) });
    await moduleRef.init();
    const zk = moduleRef.get(CoordinationService);
    const handle = moduleRef.get<WorkerReplicaHandle>(ZAB_REPLICA);
    await zk.create('/x', '1');
    const ended = new Promise<unknown>((resolve) => {
      zk.data$('/x').subscribe({ error: resolve });
    });
    await assert.rejects(handle.crashForTest(), ReplicaWorkerExitedError);
    assert.ok((await withTimeout(ended, 2000, 'observable error')) instanceof SessionExpiredError);
    await assert.rejects(zk.get('/x'), ReplicaWorkerExitedError);
    assert.ok(errors.some((line) => /replica worker exited unexpectedly/.test(line)), errors.join('\n'));
    assert.equal(handle.state, 'failed');
    await moduleRef.close();
  });
});
