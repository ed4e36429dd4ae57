/**
 * Goal: the replica driver's durability duties: state survives a clean restart exactly (same
 * tree digest), snapshots are taken every N transactions while writes continue and old ones
 * are purged down to K, session ids stay unique across restarts, sessions of a previous run
 * expire (their ephemerals go), and a corrupt log before its tail stops the start with the
 * file and offset, and a failed fsync or a full disk fail-stops writes without a retry.
 * Method: real file storage in temporary directories; waits are on events with timeouts.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Replica } from './replica.js';
import { LocalCoordinationClient } from './local-client.js';
import { deferred, withTimeout } from '../testing/with-timeout.js';
import type { WatchEvent } from '../state/watch-event.js';
import { FaultInjectingFileSystem } from '../testing/fault-injecting-file-system.js';
import { openFileStorage, StorageFailedError } from '../storage/index.js';
import { ReplicaStoppedError } from './replica-errors.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zab-replica-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function filesUnder(dir: string, prefix: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(d, entry.name));
      else if (entry.name.startsWith(prefix) && !entry.name.endsWith('.tmp')) found.push(join(d, entry.name));
    }
  };
  walk(dir);
  return found.sort();
}

test('a clean restart recovers the same tree (digest) from snapshots and log', async () => {
  const dataDir = tempDir();
  const replica = await Replica.open({ dataDir, snapshotEveryTxns: 100, snapshotsRetained: 2 });
  const client = await LocalCoordinationClient.connect(replica, 10_000);
  await client.create('/r', Buffer.alloc(0));
  const writes = [];
  for (let i = 0; i < 1000; i++) {
    writes.push(client.create(`/r/n${i}`, Buffer.from(`value ${i}`)));
    if (i % 3 === 0) writes.push(client.setData('/r', Buffer.from(String(i))));
  }
  await Promise.all(writes);
  for (let i = 0; i < 1000; i += 7) await client.delete(`/r/n${i}`);
  const digest = replica.tree.digest();
  const count = replica.tree.nodeCount;
  const lastZxid = replica.lastZxid;
  await replica.close();

  const snapshots = filesUnder(dataDir, 'snapshot.');
  assert.ok(snapshots.length >= 1 && snapshots.length <= 2, `kept ${snapshots.length} snapshots, want 1..2`);

  const reopened = await Replica.open({ dataDir });
  try {
    assert.equal(reopened.tree.digest(), digest);
    assert.equal(reopened.tree.nodeCount, count);
    assert.equal(reopened.lastZxid, lastZxid);
    assert.equal(reopened.tree.getData('/r/n1')!.data.toString(), 'value 1');
  } finally {
    await reopened.close();
  }
});

test('session ids are unique across restarts and old sessions expire with their ephemerals', async () => {
  const dataDir = tempDir();
  const first = await Replica.open({ dataDir, tickMs: 20 });
  const old = await LocalCoordinationClient.connect(first, 60, { local: false });
  await old.create('/old-lease', Buffer.alloc(0), { mode: 'ephemeral' });
  const oldId = old.sessionId;
  await first.close();

  const second = await Replica.open({ dataDir, tickMs: 20 });
  try {
    assert.ok(second.tree.hasSession(oldId), 'the session is recovered with the tree');
    const observer = await LocalCoordinationClient.connect(second, 10_000);
    assert.notEqual(observer.sessionId, oldId);
    assert.ok(observer.sessionId > oldId);
    const gone = deferred<WatchEvent>();
    if (await observer.exists('/old-lease', (e) => gone.resolve(e)) !== null) {
      assert.equal((await withTimeout(gone.promise, 5000, 'old ephemeral to expire')).type, 'deleted');
    }
    assert.equal(second.tree.hasSession(oldId), false);
  } finally {
    await second.close();
  }
});

test('corruption before the log tail stops the start, naming the file and offset', async () => {
  const dataDir = tempDir();
  const replica = await Replica.open({ dataDir });
  const client = await LocalCoordinationClient.connect(replica, 10_000);
  for (let i = 0; i < 20; i++) await client.create(`/c${i}`, Buffer.alloc(50, 1));
  await replica.close();
  const [segment] = filesUnder(dataDir, 'log.');
  assert.ok(segment !== undefined);
  const bytes = readFileSync(segment);
  const offset = Math.floor(bytes.length / 3);
  bytes[offset] = bytes[offset]! ^ 0xff;
  writeFileSync(segment, bytes);
  await assert.rejects(Replica.open({ dataDir }), (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'StorageCorruptionError');
    assert.ok(error.message.includes(segment.split('/').pop()!), error.message);
    assert.match(error.message, /offset \d+/);
    return true;
  });
});

test('writes continue while a snapshot is being written', async () => {
  const dataDir = tempDir();
  const replica = await Replica.open({ dataDir, snapshotEveryTxns: 1_000_000 });
  const client = await LocalCoordinationClient.connect(replica, 10_000);
  await client.create('/s', Buffer.alloc(0));
  for (let batch = 0; batch < 10; batch++) {
    await Promise.all(
      Array.from({ length: 5000 }, (_, i) => client.create(`/s/n${batch}-${i}`, Buffer.alloc(100))),
    );
  }
  const taking = replica.takeSnapshot();
  let during = 0;
  let snapshotDone = false;
  void taking.then(() => {
    snapshotDone = true;
  });
  // Change nodes across the whole id range (not only early ones the cursor has already
  // written), so copy-on-write pre-images are exercised, then check the snapshot on restart.
  while (!snapshotDone && during < 10_000) {
    const batch = during % 10;
    const i = (during * 7919) % 5000;
    if (during % 3 === 0) await client.delete(`/s/n${batch}-${i}`).catch(() => undefined);
    else await client.setData(`/s/n${batch}-${i}`, Buffer.from(String(during))).catch(() => undefined);
    during += 1;
  }
  await taking;
  assert.ok(during > 0, 'no write completed while the snapshot was written');
  const digest = replica.tree.digest();
  await replica.close();
  const reopened = await Replica.open({ dataDir });
  assert.equal(reopened.tree.digest(), digest);
  await reopened.close();
});

for (const [operation, code] of [['datasync', 'EIO'], ['write', 'ENOSPC']] as const) {
  test(`a failed ${operation} (${code}) stops writes, is never retried, and hides the failed write`, async () => {
    const dataDir = tempDir();
    const fileSystem = new FaultInjectingFileSystem();
    const storage = await openFileStorage(dataDir, { fileSystem });
    const errors: string[] = [];
    const replica = await Replica.open(
      { dataDir },
      { storage, logger: { log() {}, warn() {}, error: (m) => errors.push(m) } },
    );
    const client = await LocalCoordinationClient.connect(replica, 10_000);
    await client.create('/kept', Buffer.from('durable'));
    fileSystem.inject({ operation, nth: 1, code, persistent: code === 'ENOSPC', pathContains: 'log' });
    const failed = deferred<Error>();
    replica.onFailure((error) => failed.resolve(error));
    await assert.rejects(client.create('/lost', Buffer.from('x')), (error: unknown) => {
      assert.ok(error instanceof ReplicaStoppedError);
      assert.ok(error.cause instanceof StorageFailedError, String(error.cause));
      return true;
    });
    assert.ok((await withTimeout(failed.promise, 2000, 'failure event')) instanceof StorageFailedError);
    assert.equal(replica.state, 'failed');
    assert.match(errors.join('\n'), /stopped accepting writes \(storage failure\)/);
    const syncsAfterFailure = fileSystem.count('datasync');
    await assert.rejects(client.setData('/kept', Buffer.from('y')), ReplicaStoppedError);
    assert.equal(fileSystem.count('datasync'), syncsAfterFailure, 'the failed fsync was retried');
    assert.equal((await client.getData('/kept')).data.toString(), 'durable');
    assert.equal(await client.exists('/lost'), null);
    await replica.close();
  });
}

test('an undecodable newest snapshot is skipped for an older one; a log gap stops the start', async () => {
  const dataDir = tempDir();
  const replica = await Replica.open({ dataDir, logSegmentBytesMax: 4096 });
  const client = await LocalCoordinationClient.connect(replica, 10_000);
  for (let i = 0; i < 30; i++) await client.create(`/g${i}`, Buffer.alloc(200, i));
  await replica.takeSnapshot();
  for (let i = 30; i < 60; i++) await client.create(`/g${i}`, Buffer.alloc(200, i));
  const digest = replica.tree.digest();
  const lastZxid = replica.lastZxid;
  await replica.close();

  // A checksum-valid snapshot whose body is not a tree (written through the store itself).
  const storage = await openFileStorage(dataDir);
  const writer = await storage.snapshots.begin(lastZxid);
  await writer.write(Buffer.from('definitely not a snapshot body'));
  await writer.commit();
  await storage.close();
  const warnings: string[] = [];
  const reopened = await Replica.open({ dataDir }, {
    logger: { log() {}, warn: (m) => warnings.push(m), error() {} },
  });
  assert.equal(reopened.tree.digest(), digest);
  assert.match(warnings.join('\n'), /does not decode .* trying an older one/);
  await reopened.close();

  const segments = filesUnder(dataDir, 'log.');
  assert.ok(segments.length >= 4, `want several segments, got ${segments.length}`);
  rmSync(segments[segments.length - 2]!);
  for (const snapshot of filesUnder(dataDir, 'snapshot.')) rmSync(snapshot);
  await assert.rejects(Replica.open({ dataDir }), /the log has a gap: after 0x[0-9a-f]+ it resumes at/);
});

test('a session expiry is never dropped by the write throttle', async () => {
  let now = 0;
  const clock = { monotonicMs: () => now, wallMs: () => 1_700_000_000_000n };
  const replica = await Replica.open({ dataDir: ':memory:', tickMs: 10, pendingWritesMax: 4 }, { clock });
  try {
    const observer = await LocalCoordinationClient.connect(replica, 10_000);
    const remote = await LocalCoordinationClient.connect(replica, 20, { local: false });
    await remote.create('/lock', Buffer.alloc(0), { mode: 'ephemeral' });
    const writes = Array.from({ length: 4 }, (_, i) => observer.create(`/w${i}`, Buffer.alloc(0)));
    await assert.rejects(observer.create('/throttled', Buffer.alloc(0)), /ThrottledOp/);
    now += 1000;
    replica.expireSessions();
    await Promise.all(writes);
    await observer.sync('/');
    assert.equal(await observer.exists('/lock'), null);
    assert.equal(remote.state, 'expired');
  } finally {
    await replica.close();
  }
});

test('a stale lock naming this pid (a restart under the same pid) is taken over', async () => {
  const dataDir = tempDir();
  // Written by an earlier process that had our pid but started at another time.
  writeFileSync(join(dataDir, 'lock'), `${process.pid}\n1\n`);
  const warnings: string[] = [];
  const replica = await Replica.open({ dataDir }, { logger: { log() {}, warn: (m) => warnings.push(m), error() {} } });
  assert.match(warnings.join('\n'), /taking over the stale lock/);
  await assert.rejects(Replica.open({ dataDir }), /StorageLockedError|locked|held/i);
  await replica.close();
});

test('a snapshot that cannot be written fail-stops the replica', async () => {
  const dataDir = tempDir();
  const fileSystem = new FaultInjectingFileSystem();
  const storage = await openFileStorage(dataDir, { fileSystem });
  const replica = await Replica.open({ dataDir }, { storage });
  const client = await LocalCoordinationClient.connect(replica, 10_000);
  await client.create('/x', Buffer.alloc(10));
  fileSystem.inject({ operation: 'open', nth: 1, code: 'ENOSPC', pathContains: 'snapshot' });
  await assert.rejects(replica.takeSnapshot(), ReplicaStoppedError);
  assert.equal(replica.state, 'failed');
  assert.equal((await client.getData('/x')).data.length, 10);
  await replica.close();
});
