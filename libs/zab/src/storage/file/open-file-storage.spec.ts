/**
 * Goal: openFileStorage lays out a data directory, round-trips log, snapshots and epochs,
 * refuses a directory that another live replica holds (naming dir and pid), takes over the
 * stale lock of a dead process, and explains an unwritable directory.
 * Method: real temp directories; a child node process as the "other replica"; a child that
 * already exited as the dead lock holder; EACCES injected through FaultInjectingFileSystem
 * (the tests run as root, where chmod would not make a directory unwritable).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FaultInjectingFileSystem } from '../../testing/fault-injecting-file-system.js';
import { StorageFailedError, StorageLockedError } from '../storage-errors.js';
import { openFileStorage } from './open-file-storage.js';
import { withTempDirectory } from '../../testing/temp-directory.js';

function withDirectory(run: (directory: string) => Promise<void>): () => Promise<void> {
  return withTempDirectory('zab-data', run);
}

test('creates the layout and round-trips log, snapshot and epochs', withDirectory(async (dir) => {
  const dataDir = join(dir, 'replica-1');
  const storage = await openFileStorage(dataDir, { warn: () => {} });
  assert.deepEqual(readdirSync(dataDir).sort(), ['lock', 'log', 'snapshot']);
  storage.log.append(1n, Buffer.from('create /a'));
  await storage.log.flush();
  const writer = await storage.snapshots.begin(1n);
  await writer.write(Buffer.from('tree'));
  await writer.commit();
  await storage.epochs.setAcceptedEpoch(2);
  await storage.epochs.setCurrentEpoch(1);
  storage.log.append(2n, Buffer.from('set /a')); // buffered: close must flush it
  await storage.close();
  await storage.close();
  assert.ok(!existsSync(join(dataDir, 'lock')));

  const reopened = await openFileStorage(dataDir, { warn: () => {} });
  assert.equal(reopened.log.lastZxid, 2n);
  assert.equal(reopened.epochs.acceptedEpoch, 2);
  assert.equal(reopened.epochs.currentEpoch, 1);
  assert.deepEqual((await reopened.snapshots.loadLatest())?.body, Buffer.from('tree'));
  await reopened.close();
}));

test('a second open of a held directory fails naming the dir and pid', withDirectory(
  async (dir) => {
    const storage = await openFileStorage(dir, { warn: () => {} });
    await assert.rejects(openFileStorage(dir), (error: Error) => {
      assert.ok(error instanceof StorageLockedError);
      assert.equal(error.directory, dir);
      assert.equal(error.holderPid, process.pid);
      assert.ok(error.message.includes(dir) && error.message.includes(String(process.pid)));
      return true;
    });
    await storage.close();
    const again = await openFileStorage(dir, { warn: () => {} });
    await again.close();
  },
));

test('a lock held by another live process is respected', withDirectory(async (dir) => {
  const child = spawn(process.execPath, ['-e', 'process.stdin.resume()'], { stdio: 'pipe' });
  try {
    assert.ok(child.pid !== undefined);
    writeFileSync(join(dir, 'lock'), `${child.pid}\n`);
    await assert.rejects(openFileStorage(dir), (error: Error) => {
      assert.ok(error instanceof StorageLockedError);
      assert.equal(error.holderPid, child.pid);
      return true;
    });
  } finally {
    child.kill();
    await once(child, 'exit');
  }
}));

test('the stale lock of a dead process is taken over with a warning', withDirectory(
  async (dir) => {
    const exited = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(exited.stdout.toString());
    assert.ok(deadPid > 0);
    writeFileSync(join(dir, 'lock'), `${deadPid}\n`);
    const warnings: string[] = [];
    const storage = await openFileStorage(dir, { warn: (m) => warnings.push(m) });
    assert.ok(warnings.some((m) => m.includes('stale lock') && m.includes(String(deadPid))));
    await assert.rejects(openFileStorage(dir), StorageLockedError);
    await storage.close();
  },
));

test('an unwritable data directory gets a clear error', withDirectory(async (dir) => {
  const fileSystem = new FaultInjectingFileSystem();
  fileSystem.inject({ operation: 'open', nth: 1, code: 'EACCES', persistent: true });
  await assert.rejects(openFileStorage(dir, { fileSystem }), (error: Error) => {
    assert.ok(error instanceof StorageFailedError);
    assert.ok(error.message.includes(`data directory ${dir} is not writable (EACCES)`));
    return true;
  });
  const readOnly = new FaultInjectingFileSystem();
  readOnly.inject({ operation: 'mkdir', nth: 1, code: 'EROFS' });
  await assert.rejects(openFileStorage(join(dir, 'sub'), { fileSystem: readOnly }),
    /is not writable \(EROFS\)/);
}));

test('a failure while opening the stores releases the lock', withDirectory(async (dir) => {
  writeFileSync(join(dir, 'acceptedEpoch'), 'garbage');
  await assert.rejects(openFileStorage(dir, { warn: () => {} }));
  assert.ok(!existsSync(join(dir, 'lock')));
}));
