/**
 * Goal: the thread boundary of a replica hosted in a worker is safe and cheap (the
 * `CoordinationClient` contract itself runs on both backends in
 * test/coordination-client-contract.e2e-spec.ts): requests and replies are batched; errors of
 * every kind cross as the same typed classes; the worker gets the process's flags minus the
 * main-only ones; a worker that dies fails every pending call with `ReplicaWorkerExitedError`,
 * ends its sessions as `expired` and is logged; an idle handle does not keep the process alive.
 * Method: real replicas (memory storage, or temp directories where the disk matters); every
 * wait is on an event with a bounded timeout.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BadArgumentsError } from '../state/keeper-error.js';
import { StorageLockedError } from '../storage/storage-errors.js';
import { deferred, withTimeout } from '../testing/with-timeout.js';
import type { ReplicaLogger } from './replica.js';
import { ReplicaStoppedError } from './replica-errors.js';
import { ReplicaConfigurationError } from './replica-options.js';
import { WorkerReplicaHandle, workerExecArgv } from './worker-host.js';
import { ReplicaWorkerExitedError } from './worker-protocol.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zab-worker-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Records what the handle logs, to check what an operator would see. */
function recordingLogger(): { lines: string[]; logger: ReplicaLogger } {
  const lines: string[] = [];
  return {
    lines,
    logger: {
      log: (m) => lines.push(`log ${m}`),
      warn: (m) => lines.push(`warn ${m}`),
      error: (m) => lines.push(`error ${m}`),
    },
  };
}

describe('worker host', () => {
  test('requests issued in one tick cross in one message; replies are batched too', async () => {
    const handle = await WorkerReplicaHandle.open({ dataDir: ':memory:' });
    const client = await handle.connect(10_000);
    const before = { ...handle.traffic };
    const writes = Array.from({ length: 200 }, (_, i) => client.create(`/n${i}`, Buffer.from([i])));
    await Promise.all(writes);
    assert.equal(handle.traffic.messagesSent - before.messagesSent, 1);
    assert.equal(handle.traffic.requestsSent - before.requestsSent, 200);
    const received = handle.traffic.messagesReceived - before.messagesReceived;
    assert.ok(received < 20, `200 replies in ${received} messages`);
    // Each value read arrives as its own exact buffer (not a view of a cloned 8 KiB pool).
    const read = await client.getData('/n7');
    assert.deepEqual([...read.data], [7]);
    assert.equal(read.data.buffer.byteLength, 1);
    await handle.close();
  });

  test('a request that cannot be cloned fails alone (BadArguments); its batch goes on', async () => {
    const handle = await WorkerReplicaHandle.open({ dataDir: ':memory:' });
    const client = await handle.connect(10_000);
    const acl = [{ perms: 31, scheme: 'world', id: 'anyone', extra: (): number => 1 }];
    const results = await Promise.allSettled([
      client.create('/before', Buffer.from('1')),
      client.create('/bad', Buffer.from('2'), { acl }),
      client.create('/after', Buffer.from('3')),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    const reason = (results[1] as PromiseRejectedResult).reason as Error;
    assert.ok(reason instanceof BadArgumentsError);
    assert.match(reason.message, /cannot send the request to the replica worker/);
    assert.equal((await client.getData('/after')).data.toString(), '3');
    await handle.close();
  });

  test('the replica logs through the given logger; the state follows open and close', async () => {
    const { lines, logger } = recordingLogger();
    const handle = await WorkerReplicaHandle.open({ dataDir: ':memory:', tickMs: 500 }, { logger });
    assert.equal(handle.state, 'serving');
    assert.equal(handle.options.tickMs, 500);
    assert.ok(lines.some((line) => /^log replica serving: 3 znodes/.test(line)), lines.join('\n'));
    const client = await handle.connect(10_000);
    await handle.close();
    assert.equal(handle.state, 'closed');
    await assert.rejects(client.getData('/'), ReplicaStoppedError);
    await handle.close();
  });

  test('configuration and storage errors of open keep their classes and fields', async () => {
    const bad = WorkerReplicaHandle.open({ tickMs: 0, isolation: 'thread' as never });
    await assert.rejects(bad, (e: unknown) => {
      assert.ok(e instanceof ReplicaConfigurationError);
      assert.equal(e.problems.length, 2);
      assert.match(e.message, /isolation must be 'worker' or 'main'; got "thread"/);
      return true;
    });
    const dataDir = tempDir();
    const first = await WorkerReplicaHandle.open({ dataDir });
    await assert.rejects(WorkerReplicaHandle.open({ dataDir }), (e: unknown) => {
      assert.ok(e instanceof StorageLockedError, String(e));
      assert.equal(e.directory, dataDir);
      assert.equal(e.holderPid, process.pid);
      assert.match(e.message, /is in use by process/);
      return true;
    });
    await first.close();
  });

  test('a crashed worker fails pending calls, expires the session, and is logged', async () => {
    const { lines, logger } = recordingLogger();
    const handle = await WorkerReplicaHandle.open({ dataDir: tempDir() }, { logger });
    const client = await handle.connect(10_000);
    await client.create('/before', Buffer.from('x'));
    const ended = deferred<string>();
    client.onSessionEnd((state) => ended.resolve(state));
    const failed = deferred<Error>();
    handle.onFailure((error) => failed.resolve(error));
    // Issued in the same tick as the crash: it is pending when the worker dies.
    const write = client.create('/during', Buffer.from('y'));
    await assert.rejects(handle.crashForTest(), ReplicaWorkerExitedError);
    await assert.rejects(write, (e: unknown) => {
      assert.ok(e instanceof ReplicaWorkerExitedError);
      assert.match(e.message, /worker exited unexpectedly \(exit code 1: replica worker crashed/);
      return true;
    });
    assert.equal(await withTimeout(ended.promise, 2000, 'session end'), 'expired');
    assert.equal(client.state, 'expired');
    const failure = await withTimeout(failed.promise, 2000, 'failure');
    assert.ok(failure instanceof ReplicaWorkerExitedError);
    assert.equal(handle.state, 'failed');
    assert.ok(lines.some((line) => /^error the replica worker exited unexpectedly/.test(line)));
    await assert.rejects(client.getData('/before'), ReplicaWorkerExitedError);
    await assert.rejects(handle.connect(1000), ReplicaWorkerExitedError);
    await handle.close();
  });

  test('watch ids are freed once their watches fired or were removed', async () => {
    const handle = await WorkerReplicaHandle.open({ dataDir: ':memory:' });
    const client = await handle.connect(10_000);
    const other = await handle.connect(10_000);
    await client.create('/w', Buffer.alloc(0));
    for (let i = 0; i < 50; i++) await client.getData('/w', () => undefined);
    const persistent = (): void => undefined;
    await client.addWatch('/w', 'persistent', persistent);
    assert.equal(client.watchIdsHeld, 51);
    await other.setData('/w', Buffer.from('x'));
    await client.sync('/');
    assert.equal(client.watchIdsHeld, 1, 'the persistent watch keeps its id');
    await client.removeWatches('/w', persistent);
    await client.sync('/');
    assert.equal(client.watchIdsHeld, 0);
    await handle.close();
  });

  test('the worker gets the loader and warning flags, never V8 or main-only ones', () => {
    assert.deepEqual(
      workerExecArgv([
        '--enable-source-maps', '--input-type=module', '-e', 'code', '--expose-gc',
        '--max-old-space-size=512', '--print', 'x', '--import', './hook.js',
        '--stack-trace-limit=50', '--conditions=dev', '--experimental-vm-modules',
        '-r', './pre.cjs', '-C', 'node',
      ]),
      {
        execArgv: ['--enable-source-maps', '--import', './hook.js', '--conditions', 'dev',
          '--experimental-vm-modules', '-r', './pre.cjs', '-C', 'node'],
        maxOldGenerationSizeMb: 512,
      },
    );
  });

  test('a process started with V8 flags and short preload flags still starts its worker', () => {
    const preload = join(mkdtempSync(join(tmpdir(), 'zab-preload-')), 'pre.cjs');
    writeFileSync(preload, 'globalThis.preloaded = true;\n');
    const hostModule = fileURLToPath(new URL('./worker-host.js', import.meta.url));
    const script = `
      const { WorkerReplicaHandle } = await import(${JSON.stringify(hostModule)});
      const handle = await WorkerReplicaHandle.open({ dataDir: ':memory:' });
      const client = await handle.connect(10000);
      await client.create('/flags', Buffer.from('ok'));
      console.log((await client.getData('/flags')).data.toString());
      await handle.close();
    `;
    const output = execFileSync(process.execPath, [
      '--expose-gc', '--max-old-space-size=256', '--stack-trace-limit=20',
      '-r', preload, '-C', 'development', '--input-type=module', '-e', script,
    ], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(output.trim(), 'ok');
  });

  test('the process is kept alive while a call is pending, and not by an idle handle', () => {
    const hostModule = fileURLToPath(new URL('./worker-host.js', import.meta.url));
    const script = `
      const { WorkerReplicaHandle } = await import(${JSON.stringify(hostModule)});
      const handle = await WorkerReplicaHandle.open({ dataDir: ':memory:' });
      const client = await handle.connect(10000);
      await client.create('/alive', Buffer.from('yes'));
      console.log((await client.getData('/alive')).data.toString());
      // Neither the handle nor the session is closed: the process must still exit.
    `;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(output.trim(), 'yes');
  });
});
