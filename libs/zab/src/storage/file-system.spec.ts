/**
 * Goal: the file system port and the fault-injecting test double do what the stores and the
 * other specs rely on: whole writes at positions, durable directory creation (parents
 * fsynced), the Nth-call fault injection, and the crash model (unsynced bytes and unsynced
 * creations are lost, synced ones survive).
 * Method: real temp directories through NodeFileSystem, wrapped by FaultInjectingFileSystem.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FaultInjectingFileSystem } from '../testing/fault-injecting-file-system.js';
import { makeDirectoryDurably, nodeFileSystem } from './file-system.js';
import { withTempDirectory } from '../testing/temp-directory.js';

function withDirectory(run: (directory: string) => Promise<void>): () => Promise<void> {
  return withTempDirectory('zab-fs', run);
}

test('write at positions, read back, size, truncate', withDirectory(async (dir) => {
  const path = join(dir, 'file');
  const handle = await nodeFileSystem.open(path, 'wx');
  await handle.write(Buffer.from('hello'), 0);
  await handle.write(Buffer.from('world'), 5);
  await handle.datasync();
  assert.equal(await handle.sizeBytes(), 10);
  await handle.close();
  const readWrite = await nodeFileSystem.open(path, 'r+');
  const into = Buffer.alloc(5);
  assert.equal(await readWrite.read(into, 0, 5, 5), 5);
  assert.equal(into.toString(), 'world');
  await readWrite.truncate(5);
  await readWrite.close();
  assert.equal(readFileSync(path, 'utf8'), 'hello');
  assert.equal(await nodeFileSystem.sizeBytes(join(dir, 'missing')), null);
  await assert.rejects(nodeFileSystem.open(path, 'wx'), { code: 'EEXIST' });
}));

test('writeNow writes synchronously at positions and throws the system error', withDirectory(
  async (dir) => {
    const path = join(dir, 'file');
    const handle = await nodeFileSystem.open(path, 'wx');
    assert.ok(handle.writeNow !== undefined, 'the real file system writes synchronously');
    handle.writeNow(Buffer.from('hello'), 0);
    handle.writeNow(Buffer.from('WORLD'), 5);
    assert.equal(readFileSync(path, 'utf8'), 'helloWORLD', 'visible before any await');
    handle.writeNow(Buffer.from('w'), 5);
    await handle.close();
    assert.equal(readFileSync(path, 'utf8'), 'hellowORLD', 'one byte overwritten at 5');
    const readOnly = await nodeFileSystem.open(path, 'r');
    assert.throws(() => readOnly.writeNow!(Buffer.from('x'), 0), { code: 'EBADF' });
    await readOnly.close();
  }));

test('makeDirectoryDurably fsyncs the parent of every level it creates', withDirectory(
  async (dir) => {
    const fileSystem = new FaultInjectingFileSystem();
    await makeDirectoryDurably(fileSystem, join(dir, 'a', 'b', 'c'));
    assert.ok(existsSync(join(dir, 'a', 'b', 'c')));
    assert.equal(fileSystem.count('syncDirectory'), 3);
    await makeDirectoryDurably(fileSystem, join(dir, 'a', 'b', 'c'));
    assert.equal(fileSystem.count('syncDirectory'), 3);
  },
));

test('faults hit exactly the Nth call, or every call from the Nth when persistent', withDirectory(
  async (dir) => {
    const fileSystem = new FaultInjectingFileSystem();
    const handle = await fileSystem.open(join(dir, 'file'), 'w');
    fileSystem.inject({ operation: 'datasync', nth: 2, code: 'EIO' });
    await handle.datasync();
    await assert.rejects(handle.datasync(), { code: 'EIO' });
    await handle.datasync();
    fileSystem.inject({ operation: 'write', nth: 1, code: 'ENOSPC', persistent: true });
    await assert.rejects(handle.write(Buffer.from('a'), 0), { code: 'ENOSPC' });
    await assert.rejects(handle.write(Buffer.from('a'), 0), { code: 'ENOSPC' });
    assert.equal(fileSystem.count('datasync'), 3);
    assert.equal(fileSystem.count('write'), 2);
    await handle.close();
  },
));

test('crash loses unsynced bytes and unsynced creations only', withDirectory(async (dir) => {
  const fileSystem = new FaultInjectingFileSystem();
  const durable = await fileSystem.open(join(dir, 'durable'), 'w');
  await fileSystem.syncDirectory(dir);
  await durable.write(Buffer.from('synced.'), 0);
  await durable.datasync();
  await durable.write(Buffer.from('lost'), 7);
  const fresh = await fileSystem.open(join(dir, 'fresh'), 'w');
  await fresh.write(Buffer.from('x'), 0);
  await fresh.datasync(); // data synced, but the directory entry is not
  await fileSystem.crash();
  assert.equal(readFileSync(join(dir, 'durable'), 'utf8'), 'synced.');
  assert.ok(!existsSync(join(dir, 'fresh')));
}));
