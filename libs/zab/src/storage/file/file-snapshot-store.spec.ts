/**
 * Goal: the file snapshot store publishes snapshots atomically and verified: the newest valid
 * one loads, a corrupt newer one is skipped with a warning, `.tmp` leftovers are never loaded
 * and are cleaned at open, purge keeps the K newest VALID snapshots (never the only good one),
 * and a failed fsync fail-stops the store.
 * Method: real temp directories; corruption by editing files; faults and counts through
 * FaultInjectingFileSystem.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Zxid } from '../../core/ids.js';
import { FaultInjectingFileSystem } from '../../testing/fault-injecting-file-system.js';
import { StorageFailedError } from '../storage-errors.js';
import { FileSnapshotStore, snapshotFileName } from './file-snapshot-store.js';
import type { FileSnapshotStoreOptions } from './file-snapshot-store.js';
import { withTempDirectory } from '../../testing/temp-directory.js';

function withDirectory(run: (directory: string) => Promise<void>): () => Promise<void> {
  return withTempDirectory('zab-snapshot', run);
}

function bodyOf(zxid: Zxid): Buffer {
  return Buffer.from(`state as of ${zxid}|`.repeat(50 + Number(zxid)));
}

async function writeSnapshot(store: FileSnapshotStore, zxid: Zxid) {
  const writer = await store.begin(zxid);
  const body = bodyOf(zxid);
  for (let at = 0; at < body.length; at += 333) await writer.write(body.subarray(at, at + 333));
  return writer.commit();
}

async function openStore(directory: string, options: FileSnapshotStoreOptions = {}) {
  const warnings: string[] = [];
  const store = await FileSnapshotStore.open(directory, {
    warn: (m) => warnings.push(m),
    ...options,
  });
  return { store, warnings };
}

function flipByte(path: string, fromEnd: number): void {
  const data = readFileSync(path);
  data[data.length - fromEnd] = data[data.length - fromEnd]! ^ 1;
  writeFileSync(path, data);
}

test('commit publishes, loadLatest returns the newest with its whole body', withDirectory(
  async (dir) => {
    const { store, warnings } = await openStore(dir);
    assert.equal(await store.loadLatest(), null);
    await writeSnapshot(store, 3n);
    const info = await writeSnapshot(store, 10n);
    assert.deepEqual(info, { zxid: 10n, name: join(dir, snapshotFileName(10n)) });
    assert.deepEqual(readdirSync(dir).sort(), [snapshotFileName(10n), snapshotFileName(3n)].sort());
    const reopened = await openStore(dir);
    const latest = await reopened.store.loadLatest();
    assert.equal(latest?.info.zxid, 10n);
    assert.deepEqual(latest?.body, bodyOf(10n));
    assert.deepEqual((await reopened.store.list()).map((s) => s.zxid), [3n, 10n]);
    assert.deepEqual([...warnings, ...reopened.warnings], []);
  },
));

test('a corrupt newest snapshot is skipped with a warning', withDirectory(async (dir) => {
  const { store } = await openStore(dir);
  await writeSnapshot(store, 3n);
  const newest = await writeSnapshot(store, 10n);
  flipByte(newest.name, 100); // inside the body
  const reopened = await openStore(dir);
  const latest = await reopened.store.loadLatest();
  assert.equal(latest?.info.zxid, 3n);
  assert.deepEqual(latest?.body, bodyOf(3n));
  assert.equal(reopened.warnings.length, 1);
  assert.match(reopened.warnings[0]!, /snapshot\.000000000000000a.*checksum/);
}));

test('a snapshot cut short (no trailer) does not load', withDirectory(async (dir) => {
  const { store } = await openStore(dir);
  await writeSnapshot(store, 3n);
  const newest = await writeSnapshot(store, 10n);
  const data = readFileSync(newest.name);
  writeFileSync(newest.name, data.subarray(0, data.length - 5));
  const reopened = await openStore(dir);
  assert.equal((await reopened.store.loadLatest())?.info.zxid, 3n);
  assert.equal(reopened.warnings.length, 1);
}));

test('an uncommitted .tmp is never loaded and is deleted at open', withDirectory(async (dir) => {
  const fileSystem = new FaultInjectingFileSystem();
  const { store } = await openStore(dir, { fileSystem });
  await writeSnapshot(store, 3n);
  const writer = await store.begin(20n);
  await writer.write(bodyOf(20n));
  // Crash before commit: the writer is abandoned, its handle closed by the crash.
  assert.ok(readdirSync(dir).includes(snapshotFileName(20n) + '.tmp'));
  assert.equal((await store.loadLatest())?.info.zxid, 3n);
  assert.deepEqual((await store.list()).map((s) => s.zxid), [3n]);
  await fileSystem.crash();
  writeFileSync(join(dir, snapshotFileName(21n) + '.tmp'), bodyOf(21n)); // a torn leftover
  await openStore(dir);
  assert.deepEqual(readdirSync(dir), [snapshotFileName(3n)]);
}));

test('abort discards the snapshot', withDirectory(async (dir) => {
  const { store } = await openStore(dir);
  const writer = await store.begin(7n);
  await writer.write(Buffer.from('partial'));
  await writer.abort();
  assert.deepEqual(readdirSync(dir), []);
  assert.equal(await store.loadLatest(), null);
}));

test('commit fsyncs the file, renames, then fsyncs the directory', withDirectory(async (dir) => {
  const fileSystem = new FaultInjectingFileSystem();
  const { store } = await openStore(dir, { fileSystem });
  await writeSnapshot(store, 5n);
  assert.equal(fileSystem.count('sync'), 1);
  assert.equal(fileSystem.count('rename'), 1);
  assert.equal(fileSystem.count('syncDirectory'), 1);
}));

test('purge keeps the newest K valid snapshots and returns the oldest kept', withDirectory(
  async (dir) => {
    const { store } = await openStore(dir);
    for (const zxid of [1n, 2n, 3n, 4n, 5n]) await writeSnapshot(store, zxid);
    flipByte(join(dir, snapshotFileName(5n)), 20);
    flipByte(join(dir, snapshotFileName(3n)), 20);
    const oldest = await store.purge(2);
    assert.equal(oldest?.zxid, 2n); // valid ones: 4 and 2; 3 and 5 corrupt
    assert.deepEqual((await store.list()).map((s) => s.zxid), [2n, 3n, 4n, 5n]);
    assert.equal((await store.loadLatest())?.info.zxid, 4n);
  },
));

test('purge never deletes the only valid snapshot (ZOOKEEPER-3231)', withDirectory(
  async (dir) => {
    const { store } = await openStore(dir);
    for (const zxid of [1n, 2n, 3n]) await writeSnapshot(store, zxid);
    flipByte(join(dir, snapshotFileName(2n)), 20);
    flipByte(join(dir, snapshotFileName(3n)), 20);
    assert.equal((await store.purge(1))?.zxid, 1n);
    assert.deepEqual((await store.list()).map((s) => s.zxid), [1n, 2n, 3n]);
    flipByte(join(dir, snapshotFileName(1n)), 20);
    assert.equal(await store.purge(1), null); // nothing valid: delete nothing
    assert.equal((await store.list()).length, 3);
  },
));

test('a failed fsync at commit fail-stops the store', withDirectory(async (dir) => {
  const fileSystem = new FaultInjectingFileSystem();
  const { store } = await openStore(dir, { fileSystem });
  await writeSnapshot(store, 1n);
  fileSystem.inject({ operation: 'sync', nth: 1, code: 'EIO' });
  const writer = await store.begin(2n);
  await writer.write(Buffer.from('body'));
  await assert.rejects(writer.commit(), (error: Error) => {
    assert.ok(error instanceof StorageFailedError);
    assert.match(error.message, /fsync .*EIO.*stopped accepting writes/);
    return true;
  });
  await assert.rejects(store.begin(3n), StorageFailedError);
  await assert.rejects(store.loadLatest(), StorageFailedError);
  assert.equal(fileSystem.count('rename'), 1, 'an unsynced snapshot was published');
}));

test('close aborts writers still open and deletes their tmp files', withDirectory(async (dir) => {
  const { store } = await openStore(dir);
  await writeSnapshot(store, 1n);
  const writer = await store.begin(2n);
  await writer.write(Buffer.from('unfinished'));
  await store.close();
  assert.deepEqual(readdirSync(dir), [snapshotFileName(1n)]);
  await assert.rejects(writer.write(Buffer.from('late')), /aborted/);
}));
