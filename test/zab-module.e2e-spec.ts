/**
 * Goal: ZabModule and CoordinationService work as a Nest user expects: forRoot with no
 * options (durable replica in ./.zab/1), forRootAsync with injected configuration, option
 * errors that fail the start with a readable message, typed errors, the observables'
 * contract (cold, current state first, every change, watch removed on unsubscribe, typed error
 * when the session ends), durability across application restarts and ephemerals that vanish
 * at app.close().
 * Method: real applications through @nestjs/testing on temporary data directories.
 */
import 'reflect-metadata';
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { firstValueFrom, take, toArray } from 'rxjs';
import {
  BadVersionError,
  CoordinationService,
  LocalCoordinationClient,
  NodeExistsError,
  NoNodeError,
  Replica,
  ReplicaConfigurationError,
  SessionExpiredError,
  ZAB_CLIENT,
  ZAB_REPLICA,
  ZabModule,
  type WatchEvent,
} from '../libs/zab/src/index.js';
import { withTimeout } from '../libs/zab/src/testing/with-timeout.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zab-module-'));
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

describe('ZabModule', () => {
  test('forRoot() with no options runs a durable replica in ./.zab/1', async () => {
    const cwd = process.cwd();
    const dir = tempDir();
    process.chdir(dir);
    try {
      const moduleRef = await app([ZabModule.forRoot()]);
      const zk = moduleRef.get(CoordinationService);
      assert.equal(await zk.create('/hello', 'world'), '/hello');
      await moduleRef.close();
      assert.ok(existsSync(join(dir, '.zab', '1')));
      const again = await app([ZabModule.forRoot()]);
      assert.equal((await again.get(CoordinationService).get('/hello')).data.toString(), 'world');
      await again.close();
    } finally {
      process.chdir(cwd);
    }
  });

  test('forRootAsync takes options from an injected provider', async () => {
    @Injectable()
    class Settings {
      readonly dataDir = ':memory:';
    }
    @Module({ providers: [Settings], exports: [Settings] })
    class SettingsModule {}
    const moduleRef = await app([
      ZabModule.forRootAsync({
        imports: [SettingsModule],
        inject: [Settings],
        useFactory: (settings: Settings) => ({ dataDir: settings.dataDir, tickMs: 500 }),
      }),
    ]);
    const replica = moduleRef.get<Replica>(ZAB_REPLICA);
    assert.equal(replica.options.tickMs, 500);
    assert.equal(replica.options.dataDir, ':memory:');
    await moduleRef.close();
  });

  test('bad options fail the start with what to change', async () => {
    await assert.rejects(
      app([ZabModule.forRoot({ tickMs: 0, snapshotsRetained: -2 })]),
      (error: unknown) => {
        assert.ok(error instanceof ReplicaConfigurationError);
        assert.match(error.message, /tickMs must be an integer from 10 to 600000; got 0/);
        assert.match(error.message, /snapshotsRetained must be an integer from 1 to 1000; got -2/);
        return true;
      },
    );
  });

  test('state survives restarts; app.close() removes the instance ephemerals at once', async () => {
    const dataDir = tempDir();
    const first = await app([ZabModule.forRoot({ dataDir })]);
    const zk = first.get(CoordinationService);
    await zk.create('/config', JSON.stringify({ a: 1 }));
    await zk.create('/members', '');
    const member = await zk.create('/members/m-', 'me', { mode: 'ephemeral_sequential' });
    for (let i = 0; i < 50; i++) await zk.set('/config', JSON.stringify({ a: i }));
    await first.close();

    const second = await app([ZabModule.forRoot({ dataDir })]);
    const zk2 = second.get(CoordinationService);
    assert.deepEqual(JSON.parse((await zk2.get('/config')).data.toString()), { a: 49 });
    assert.equal((await zk2.get('/config')).stat.version, 50);
    assert.equal(await zk2.exists(member), null);
    await second.close();
  });
});

describe('CoordinationService', () => {
  test('operations accept strings, Uint8Array and Buffer; errors are typed', async () => {
    const moduleRef = await app([ZabModule.forRoot({ dataDir: ':memory:' })]);
    const zk = moduleRef.get(CoordinationService);
    await zk.create('/s', 'text');
    await zk.create('/u', new Uint8Array([1, 2, 3]));
    await zk.create('/b', Buffer.from('buf'));
    assert.equal((await zk.get('/s')).data.toString(), 'text');
    assert.deepEqual([...(await zk.get('/u')).data], [1, 2, 3]);
    assert.deepEqual((await zk.getChildren('/')).sort(), ['b', 's', 'u', 'zookeeper']);
    await assert.rejects(zk.create('/s'), NodeExistsError);
    await assert.rejects(zk.set('/s', 'x', { version: 7 }), BadVersionError);
    await assert.rejects(zk.delete('/nope'), NoNodeError);
    const stat = await zk.set('/s', 'x', { version: 0 });
    assert.equal(stat.version, 1);
    const results = await zk.multi([
      { op: 'create', path: '/t' },
      { op: 'set', path: '/t', data: 'y', version: 0 },
      { op: 'check', path: '/s', version: 1 },
    ]);
    assert.deepEqual(results.map((r) => r.code), [0, 0, 0]);
    await zk.sync('/');
    await moduleRef.close();
  });

  test('data$ is cold, emits the current state then every change, and stops watching', async () => {
    // isolation 'main': this test inspects the in-process Replica's watch registry
    // synchronously (the worker variant is in zab-module-worker.e2e-spec.ts).
    const moduleRef = await app([ZabModule.forRoot({ dataDir: ':memory:', isolation: 'main' })]);
    const zk = moduleRef.get(CoordinationService);
    const replica = moduleRef.get<Replica>(ZAB_REPLICA);
    await zk.create('/flag', 'a');
    const watchesBefore = replica.watches.watchCount;
    const stream = zk.data$('/flag');
    assert.equal(replica.watches.watchCount, watchesBefore, 'cold: nothing happens before subscribe');
    const values = firstValueFrom(stream.pipe(take(4), toArray()));
    await zk.set('/flag', 'b');
    await zk.set('/flag', 'c');
    await zk.delete('/flag');
    const seen = await withTimeout(values, 2000, 'four data$ values');
    assert.deepEqual(seen.map((v) => (v === null ? null : v.data.toString())), ['a', 'b', 'c', null]);
    assert.equal(replica.watches.watchCount, watchesBefore, 'watch removed after unsubscribe');
    await moduleRef.close();
  });

  test('children$, exists$ and events$ follow the tree', async () => {
    const moduleRef = await app([ZabModule.forRoot({ dataDir: ':memory:' })]);
    const zk = moduleRef.get(CoordinationService);
    const children = firstValueFrom(zk.children$('/dir').pipe(take(3), toArray()));
    const exists = firstValueFrom(zk.exists$('/dir').pipe(take(2), toArray()));
    const events = firstValueFrom(zk.events$('/dir', { recursive: true }).pipe(take(3), toArray()));
    await zk.create('/dir');
    await zk.create('/dir/x');
    await zk.set('/dir/x', '1');
    assert.deepEqual(await withTimeout(children, 2000, 'children$'), [null, [], ['x']]);
    const [absent, present] = await withTimeout(exists, 2000, 'exists$');
    assert.equal(absent, null);
    assert.equal(present?.version, 0);
    const list = (await withTimeout(events, 2000, 'events$')).map((e: WatchEvent) => `${e.type} ${e.path}`);
    assert.deepEqual(list, ['created /dir', 'created /dir/x', 'dataChanged /dir/x']);
    await moduleRef.close();
  });

  test('config$ parses, falls back to the default, and keeps the last good value', async () => {
    const moduleRef = await app([ZabModule.forRoot({ dataDir: ':memory:' })]);
    const zk = moduleRef.get(CoordinationService);
    const parse = (data: Buffer): { limit: number } => {
      const value = JSON.parse(data.toString()) as { limit?: unknown };
      if (typeof value.limit !== 'number') throw new Error('limit must be a number');
      return { limit: value.limit };
    };
    const values = firstValueFrom(
      zk.config$('/limits', { parse, defaultValue: { limit: 10 } }).pipe(take(3), toArray()),
    );
    await zk.create('/limits', JSON.stringify({ limit: 20 }));
    await zk.set('/limits', JSON.stringify({ limit: 'lots' }));
    await zk.set('/limits', '{broken');
    await zk.set('/limits', JSON.stringify({ limit: 30 }));
    assert.deepEqual(await withTimeout(values, 2000, 'config$'), [{ limit: 10 }, { limit: 20 }, { limit: 30 }]);
    await moduleRef.close();
  });

  test('observables error with SessionExpiredError when the session expires', async () => {
    const moduleRef = await Test.createTestingModule({
      // isolation 'main': the override opens a non-local session on the in-process Replica.
      imports: [ZabModule.forRoot({ dataDir: ':memory:', tickMs: 20, isolation: 'main' })],
    })
      .overrideProvider(ZAB_CLIENT)
      .useFactory({
        factory: (replica: Replica) => LocalCoordinationClient.connect(replica, 40, { local: false }),
        inject: [ZAB_REPLICA],
      })
      .compile();
    await moduleRef.init();
    const zk = moduleRef.get(CoordinationService);
    await zk.create('/watched', '');
    const failure = new Promise<unknown>((resolve) => {
      zk.data$('/watched').subscribe({ error: resolve });
    });
    const error = await withTimeout(failure, 5000, 'expiry error');
    assert.ok(error instanceof SessionExpiredError);
    await moduleRef.close();
  });
});
