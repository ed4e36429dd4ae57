/**
 * Goal: any Nest app gets the admin endpoint from `ZabModule.forRoot({ adminPort })`: it
 * serves from bootstrap, reports the app's replica, and is gone once the app is closed;
 * without `adminPort` nothing listens. The ensemble options reach the module: a one-member
 * ensemble runs standalone, a larger one with the default worker isolation fails the start
 * (issue 3).
 * Method: real applications through @nestjs/testing on in-memory replicas, endpoint on an
 * OS-assigned loopback port, queried with fetch.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  CoordinationService,
  ZabAdminEndpoint,
  ZabModule,
  type ZabModuleOptions,
} from '../libs/zab/src/index.js';

async function startApp(options: ZabModuleOptions): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({ imports: [ZabModule.forRoot(options)] })
    .setLogger({ log() {}, warn() {}, error() {} })
    .compile();
  await moduleRef.init();
  return moduleRef;
}

test('adminPort serves srvr and mntr for the app\'s replica until the app closes', async () => {
  const app = await startApp({ dataDir: ':memory:', adminPort: 0, ensemble: '5=127.0.0.1:2888' });
  const url = app.get(ZabAdminEndpoint).url;
  assert.match(String(url), /^http:\/\/127\.0\.0\.1:\d+$/);
  await app.get(CoordinationService).create('/from-the-app', 'x');
  const srvr = (await (await fetch(`${url}/commands/srvr`)).json()) as Record<string, unknown>;
  assert.equal(srvr.server_id, 5);
  assert.equal(srvr.server_state, 'standalone');
  const mntr = (await (await fetch(`${url}/commands/mntr`)).json()) as Record<string, unknown>;
  assert.equal(mntr.znode_count, 4);
  assert.equal(mntr.global_sessions, 1);
  await app.close();
  await assert.rejects(fetch(`${url}/commands/ruok`), 'nothing listens after close');
});

test('without adminPort no endpoint runs', async () => {
  const app = await startApp({ dataDir: ':memory:' });
  assert.equal(app.get(ZabAdminEndpoint).url, undefined);
  await app.close();
});

test('an admin port in use fails the start and releases the data directory for a retry', async () => {
  const { createServer } = await import('node:net');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  const dataDir = mkdtempSync(join(tmpdir(), 'zab-admin-busy-'));
  try {
    await assert.rejects(startApp({ dataDir, adminPort: port }), /EADDRINUSE/);
    const retry = await startApp({ dataDir, adminPort: 0 });
    await retry.get(CoordinationService).create('/after-retry', 'ok');
    await retry.close();
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    rmSync(dataDir, { recursive: true, force: true });
  }
});
