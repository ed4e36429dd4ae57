/**
 * Goal: a SNAP install is atomic with the log cut. Whatever step a crash interrupts (the
 * intent record, the snapshot's writes, fsync, rename, the log cut, the intent's removal,
 * or the appends that follow the install), the next open recovers either the old state
 * (old newest snapshot, every record flushed before the install) or the new one (the
 * installed snapshot followed by a prefix of what was appended after it): never the new
 * snapshot followed by records from before it, never a lost flushed record without the
 * snapshot that supersedes it.
 * Method: file storage on a FaultInjectingFileSystem. A counting run measures how many calls
 * of each mutating file operation the install and the appends after it make; then for every
 * operation and every N up to that count, a fresh directory with the same old state runs the
 * install with the Nth call of that operation failing (EIO), then `crash()` (power loss:
 * unsynced bytes and directory entries are lost), and the storage is reopened on the real
 * file system, which runs the recovery; the recovered state must be the old or the new one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Zxid } from '../core/ids.js';
import { FaultInjectingFileSystem, type FileOperation }
  from '../testing/fault-injecting-file-system.js';
import { openFileStorage } from './file/open-file-storage.js';
import { openMemoryStorage } from './memory/open-memory-storage.js';
import type { ReplicaStorage } from './storage.js';

const OLD_SNAPSHOT = 0x100000002n;
const OLD_LOG = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => 0x100000000n + BigInt(n));
/** The leader's snapshot: below some old records (a diverged tail), above others. */
const INSTALLED = 0x100000005n;
const AFTER_INSTALL = [0x200000001n, 0x200000002n];
const MUTATING: FileOperation[] = ['open', 'write', 'sync', 'datasync', 'truncate', 'rename',
  'link', 'unlink', 'syncDirectory'];

interface State {
  snapshot: string;
  records: string[];
}

const hex = (zxid: Zxid): string => '0x' + zxid.toString(16);
const payload = (zxid: Zxid, history: string): Buffer => Buffer.from(`${history}:${hex(zxid)}`);

async function seedOldState(dir: string): Promise<void> {
  const storage = await openFileStorage(dir, { warn: () => undefined });
  const writer = await storage.snapshots.begin(OLD_SNAPSHOT);
  await writer.write(Buffer.from('old-snapshot'));
  await writer.commit();
  for (const zxid of OLD_LOG) storage.log.append(zxid, payload(zxid, 'old'));
  await storage.log.flush();
  await storage.close();
}

/** The install and what the driver does right after it: appends and a group commit. */
async function installAndAppend(storage: ReplicaStorage): Promise<void> {
  await storage.installSnapshot(INSTALLED, Buffer.from('leader-snapshot'));
  for (const zxid of AFTER_INSTALL) storage.log.append(zxid, payload(zxid, 'new'));
  await storage.log.flush();
}

/** What a replica recovers from: its newest snapshot and the log records after it. */
async function recoveredState(storage: ReplicaStorage): Promise<State> {
  const newest = await storage.snapshots.loadLatest();
  const after = newest?.info.zxid ?? 0n;
  const records: string[] = [];
  for await (const record of storage.log.read(after)) records.push(record.payload.toString());
  return { snapshot: newest === null ? 'none' : newest.body.toString(), records };
}

const OLD_STATE: State = { snapshot: 'old-snapshot',
  records: OLD_LOG.filter((zxid) => zxid > OLD_SNAPSHOT).map((zxid) => payload(zxid, 'old')
    .toString()) };
const NEW_RECORDS = AFTER_INSTALL.map((zxid) => payload(zxid, 'new').toString());

function isOldOrNew(state: State): boolean {
  if (JSON.stringify(state) === JSON.stringify(OLD_STATE)) return true;
  return state.snapshot === 'leader-snapshot' &&
    JSON.stringify(state.records) === JSON.stringify(NEW_RECORDS.slice(0, state.records.length));
}

async function withDirectory(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'zab-snap-install-'));
  try {
    await run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Calls of each mutating operation that the install and the appends after it make. */
async function countOperations(): Promise<Map<FileOperation, number>> {
  const counts = new Map<FileOperation, number>();
  await withDirectory(async (dir) => {
    await seedOldState(dir);
    const fileSystem = new FaultInjectingFileSystem();
    const storage = await openFileStorage(dir, { fileSystem, warn: () => undefined });
    const before = new Map(MUTATING.map((op) => [op, fileSystem.count(op)]));
    await installAndAppend(storage);
    for (const op of MUTATING) counts.set(op, fileSystem.count(op) - before.get(op)!);
    await storage.close();
    const reopened = await openFileStorage(dir, { warn: () => undefined });
    try {
      assert.deepEqual(await recoveredState(reopened),
        { snapshot: 'leader-snapshot', records: NEW_RECORDS }, 'an install without a crash');
    } finally {
      await reopened.close();
    }
  });
  return counts;
}

/** Fails the Nth `operation`, crashes, reopens: the recovered state and the warnings. */
async function crashAt(operation: FileOperation, nth: number):
  Promise<{ state: State; failed: boolean; warnings: string[] }> {
  let result: { state: State; failed: boolean; warnings: string[] } | undefined;
  await withDirectory(async (dir) => {
    await seedOldState(dir);
    const fileSystem = new FaultInjectingFileSystem();
    const storage = await openFileStorage(dir, { fileSystem, warn: () => undefined });
    fileSystem.inject({ operation, nth, code: 'EIO' });
    const failed = await installAndAppend(storage).then(() => false, () => true);
    await fileSystem.crash();
    rmSync(join(dir, 'lock'), { force: true }); // the crashed process no longer holds it
    const warnings: string[] = [];
    const reopened = await openFileStorage(dir, { warn: (m) => warnings.push(m) });
    try {
      result = { state: await recoveredState(reopened), failed, warnings };
    } finally {
      await reopened.close();
    }
  });
  return result!;
}

test('a crash at every file operation of a SNAP install recovers the old or the new state',
  async (t) => {
    const counts = await countOperations();
    assert.ok((counts.get('rename') ?? 0) >= 2, 'the intent and the snapshot are renamed');
    const outcomes = { old: 0, new: 0 };
    let finished = 0;
    for (const operation of MUTATING) {
      for (let nth = 1; nth <= counts.get(operation)!; nth++) {
        const { state, failed, warnings } = await crashAt(operation, nth);
        assert.ok(failed, `the fault on ${operation} #${nth} surfaced`);
        assert.ok(isOldOrNew(state), `${operation} #${nth}: ${JSON.stringify(state)}`);
        if (state.snapshot === 'old-snapshot') outcomes.old++;
        else outcomes.new++;
        if (warnings.some((w) => w.startsWith('finished an interrupted install'))) finished++;
      }
    }
    // Both outcomes occur, and some crashes fell between the snapshot and the log cut.
    assert.ok(outcomes.old > 0 && outcomes.new > 0, JSON.stringify(outcomes));
    assert.ok(finished > 0, 'recovery redid an interrupted log cut');
    t.diagnostic(`crash points: ${outcomes.old} recovered old, ${outcomes.new} new; ` +
      `${finished} finished an interrupted cut`);
  });

test('recovery after the snapshot is published but before the cut drops the stale log',
  async () => {
    await withDirectory(async (dir) => {
      await seedOldState(dir);
      const fileSystem = new FaultInjectingFileSystem();
      const storage = await openFileStorage(dir, { fileSystem, warn: () => undefined });
      // The log cut's first file operation fails: the snapshot is already durable.
      fileSystem.inject({ operation: 'truncate', nth: 1, code: 'EIO' });
      fileSystem.inject({ operation: 'unlink', nth: 1, code: 'EIO', pathContains: 'log' });
      await assert.rejects(installAndAppend(storage));
      await fileSystem.crash();
      rmSync(join(dir, 'lock'), { force: true });
      const warnings: string[] = [];
      const reopened = await openFileStorage(dir, { warn: (m) => warnings.push(m) });
      try {
        assert.deepEqual(await recoveredState(reopened),
          { snapshot: 'leader-snapshot', records: [] });
        assert.equal(reopened.log.lastZxid, 0n, 'no record from before the install is left');
        assert.ok(warnings.some((w) => /finished an interrupted install .*0x100000005/.test(w)),
          warnings.join('\n'));
      } finally {
        await reopened.close();
      }
    });
  });

test('memory storage installs the same way: the snapshot, then an empty log', async () => {
  const storage = openMemoryStorage();
  for (const zxid of OLD_LOG) storage.log.append(zxid, payload(zxid, 'old'));
  await storage.log.flush();
  await installAndAppend(storage);
  assert.deepEqual(await recoveredState(storage),
    { snapshot: 'leader-snapshot', records: NEW_RECORDS });
  assert.equal((await storage.snapshots.list()).length, 1);
});
