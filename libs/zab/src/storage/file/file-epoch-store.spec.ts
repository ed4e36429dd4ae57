/**
 * Goal: epochs survive reopen, start at 0, are replaced atomically (a leftover tmp file never
 * wins), become visible only once durable, and a failed write fail-stops the store.
 * Method: real temp directories, counts and faults via FaultInjectingFileSystem, and a
 * simulated power loss in the middle of an update.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FaultInjectingFileSystem } from '../../testing/fault-injecting-file-system.js';
import { StorageCorruptionError, StorageFailedError } from '../storage-errors.js';
import { FileEpochStore } from './file-epoch-store.js';
import { withTempDirectory } from '../../testing/temp-directory.js';

function withDirectory(run: (directory: string) => Promise<void>): () => Promise<void> {
  return withTempDirectory('zab-epoch', run);
}

test('missing files mean epoch 0; values survive reopen', withDirectory(async (dir) => {
  const store = await FileEpochStore.open(dir);
  assert.equal(store.acceptedEpoch, 0);
  assert.equal(store.currentEpoch, 0);
  await store.setAcceptedEpoch(5);
  await store.setCurrentEpoch(4);
  assert.equal(store.acceptedEpoch, 5);
  assert.equal(store.currentEpoch, 4);
  assert.equal(readFileSync(join(dir, 'acceptedEpoch'), 'ascii'), '5\n');
  const reopened = await FileEpochStore.open(dir);
  assert.equal(reopened.acceptedEpoch, 5);
  assert.equal(reopened.currentEpoch, 4);
}));

test('each set writes a tmp file, fsyncs, renames and fsyncs the directory', withDirectory(
  async (dir) => {
    const fileSystem = new FaultInjectingFileSystem();
    const store = await FileEpochStore.open(dir, { fileSystem });
    await store.setAcceptedEpoch(1);
    assert.equal(fileSystem.count('sync'), 1);
    assert.equal(fileSystem.count('rename'), 1);
    assert.equal(fileSystem.count('syncDirectory'), 1);
    assert.deepEqual(readdirSync(dir), ['acceptedEpoch']);
  },
));

test('a leftover tmp file never wins and is removed at open', withDirectory(async (dir) => {
  const store = await FileEpochStore.open(dir);
  await store.setCurrentEpoch(3);
  writeFileSync(join(dir, 'currentEpoch.tmp'), '9\n');
  writeFileSync(join(dir, 'acceptedEpoch.tmp'), '9');
  const reopened = await FileEpochStore.open(dir);
  assert.equal(reopened.currentEpoch, 3);
  assert.equal(reopened.acceptedEpoch, 0);
  assert.deepEqual(readdirSync(dir), ['currentEpoch']);
}));

test('power loss during an update keeps the old value', withDirectory(async (dir) => {
  const fileSystem = new FaultInjectingFileSystem();
  const store = await FileEpochStore.open(dir, { fileSystem });
  await store.setAcceptedEpoch(7);
  fileSystem.inject({ operation: 'rename', nth: 1, code: 'EIO' });
  await assert.rejects(store.setAcceptedEpoch(8), StorageFailedError);
  assert.equal(store.acceptedEpoch, 7, 'the getter changed before the value was durable');
  await fileSystem.crash();
  assert.equal((await FileEpochStore.open(dir)).acceptedEpoch, 7);
}));

test('a failed fsync fail-stops the store', withDirectory(async (dir) => {
  const fileSystem = new FaultInjectingFileSystem();
  const store = await FileEpochStore.open(dir, { fileSystem });
  fileSystem.inject({ operation: 'sync', nth: 1, code: 'EIO' });
  await assert.rejects(store.setCurrentEpoch(2), /EIO.*stopped accepting writes/);
  await assert.rejects(store.setAcceptedEpoch(2), StorageFailedError);
  assert.equal(fileSystem.count('sync'), 1, 'the failed fsync was retried');
}));

test('an epoch file that holds no number is corruption', withDirectory(async (dir) => {
  writeFileSync(join(dir, 'acceptedEpoch'), 'x1\n');
  await assert.rejects(FileEpochStore.open(dir), (error: Error) => {
    assert.ok(error instanceof StorageCorruptionError);
    assert.equal(error.file, join(dir, 'acceptedEpoch'));
    return true;
  });
}));

test('setEpochs writes the whole record as one file; it wins over the single files at reopen',
  withDirectory(async (dir) => {
    const store = await FileEpochStore.open(dir);
    assert.equal(store.hasData, true);
    await store.setAcceptedEpoch(2);
    await store.setEpochs({ acceptedEpoch: 7, currentEpoch: 6, hasData: false });
    assert.deepEqual([store.acceptedEpoch, store.currentEpoch, store.hasData], [7, 6, false]);
    assert.equal(readFileSync(join(dir, 'epochs'), 'ascii'), '7 6 0\n');
    await store.setCurrentEpoch(7);
    assert.equal(readFileSync(join(dir, 'epochs'), 'ascii'), '7 7 0\n');
    const reopened = await FileEpochStore.open(dir);
    assert.deepEqual([reopened.acceptedEpoch, reopened.currentEpoch, reopened.hasData],
      [7, 7, false]);
  }));

test('a leftover epochs.tmp is deleted at open and a corrupt record is refused',
  withDirectory(async (dir) => {
    const store = await FileEpochStore.open(dir);
    await store.setEpochs({ acceptedEpoch: 3, currentEpoch: 3, hasData: true });
    writeFileSync(join(dir, 'epochs.tmp'), '9 9 1\n');
    const reopened = await FileEpochStore.open(dir);
    assert.equal(reopened.acceptedEpoch, 3);
    assert.ok(!readdirSync(dir).includes('epochs.tmp'));
    writeFileSync(join(dir, 'epochs'), '3 x\n');
    await assert.rejects(FileEpochStore.open(dir), StorageCorruptionError);
  }));
