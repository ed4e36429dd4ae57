/**
 * Goal: the file transaction log keeps its contract in normal operation: round trips across
 * segment rolls and reopen, strictly increasing zxids, group commit (few fdatasyncs for many
 * concurrent flushes), truncateAfter and purgeThrough semantics, fail-stop on EIO/ENOSPC.
 * Method: a real temp directory, with the file system wrapped by FaultInjectingFileSystem to
 * count syscalls and inject errors; results are compared with the list of appended records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Zxid } from '../../core/ids.js';
import { makeZxid } from '../../core/ids.js';
import { InvariantViolation } from '../../util/assert.js';
import { FaultInjectingFileSystem } from '../../testing/fault-injecting-file-system.js';
import { StorageCorruptionError, StorageFailedError } from '../storage-errors.js';
import type { LogRecord, TxnLog } from '../storage.js';
import { FileTxnLog } from './file-txn-log.js';
import type { FileTxnLogOptions } from './file-txn-log.js';
import { withTempDirectory } from '../../testing/temp-directory.js';

function withDirectory(run: (directory: string) => Promise<void>): () => Promise<void> {
  return withTempDirectory('zab-txn-log', run);
}

function payloadOf(zxid: Zxid): Buffer {
  return Buffer.from(`txn-${zxid.toString(16)}-`.repeat(1 + Number(zxid % 5n)));
}

async function readAll(log: TxnLog, afterZxid = 0n): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  for await (const record of log.read(afterZxid)) records.push(record);
  return records;
}

function zxidsOf(records: LogRecord[]): Zxid[] {
  return records.map((record) => record.zxid);
}

function segmentNames(directory: string): string[] {
  return readdirSync(directory).filter((name) => name.startsWith('log.')).sort();
}

async function openLog(directory: string, options: FileTxnLogOptions = {}) {
  const warnings: string[] = [];
  const log = await FileTxnLog.open(directory, { warn: (m) => warnings.push(m), ...options });
  return { log, warnings };
}

/** Appends zxids (epoch 1, counters from..to) flushing every `batch` records. */
async function appendRange(log: TxnLog, from: number, to: number, batch: number) {
  for (let counter = from; counter <= to; counter += 1) {
    const zxid = makeZxid(1, counter);
    log.append(zxid, payloadOf(zxid));
    if ((counter - from + 1) % batch === 0) await log.flush();
  }
  await log.flush();
}

function expectedZxids(from: number, to: number): Zxid[] {
  const zxids: Zxid[] = [];
  for (let counter = from; counter <= to; counter += 1) zxids.push(makeZxid(1, counter));
  return zxids;
}

test('append/flush/read round trip across segment rolls and reopen', withDirectory(async (dir) => {
  const { log, warnings } = await openLog(dir, { segmentBytesMax: 600 });
  assert.equal(log.lastZxid, 0n);
  await appendRange(log, 1, 60, 7);
  await log.roll();
  await appendRange(log, 61, 80, 3);
  assert.equal(log.lastZxid, makeZxid(1, 80));
  assert.equal(log.durableZxid, makeZxid(1, 80));
  assert.ok(segmentNames(dir).length > 3, `segments: ${segmentNames(dir).join(',')}`);
  assert.ok(segmentNames(dir).includes('log.' + makeZxid(1, 61).toString(16).padStart(16, '0')));
  const records = await readAll(log);
  assert.deepEqual(zxidsOf(records), expectedZxids(1, 80));
  for (const record of records) assert.deepEqual(record.payload, payloadOf(record.zxid));
  await log.close();
  await log.close(); // idempotent

  const reopened = await openLog(dir, { segmentBytesMax: 600 });
  assert.equal(reopened.log.lastZxid, makeZxid(1, 80));
  assert.equal(reopened.log.durableZxid, makeZxid(1, 80));
  assert.deepEqual(zxidsOf(await readAll(reopened.log, makeZxid(1, 33))), expectedZxids(34, 80));
  await appendRange(reopened.log, 81, 90, 4);
  assert.deepEqual(zxidsOf(await readAll(reopened.log)), expectedZxids(1, 90));
  await reopened.log.close();
  assert.deepEqual([...warnings, ...reopened.warnings], []);
}));

test('zxids must strictly increase, also after reopen', withDirectory(async (dir) => {
  const { log } = await openLog(dir);
  log.append(5n, Buffer.from('a'));
  assert.throws(() => log.append(5n, Buffer.from('b')), InvariantViolation);
  assert.throws(() => log.append(4n, Buffer.from('b')), InvariantViolation);
  await log.close();
  const reopened = await openLog(dir);
  assert.throws(() => reopened.log.append(5n, Buffer.from('c')), InvariantViolation);
  reopened.log.append(6n, Buffer.from('c'));
  await reopened.log.close();
}));

test('append copies the payload and read hands out copies', withDirectory(async (dir) => {
  const { log } = await openLog(dir);
  const reused = Buffer.from('first');
  log.append(1n, reused);
  reused.write('XXXXX');
  log.append(2n, reused);
  await log.flush();
  const records = await readAll(log);
  assert.equal(records[0]!.payload.toString(), 'first');
  assert.equal(records[1]!.payload.toString(), 'XXXXX');
  records[0]!.payload.fill(0);
  assert.equal((await readAll(log))[0]!.payload.toString(), 'first');
  await log.close();
}));

test('read includes records appended but not yet flushed', withDirectory(async (dir) => {
  const { log } = await openLog(dir);
  log.append(1n, Buffer.from('one'));
  assert.equal(log.durableZxid, 0n);
  assert.deepEqual(zxidsOf(await readAll(log)), [1n]);
  assert.equal(log.durableZxid, 1n);
  await log.close();
}));

test('group commit: 256 concurrent flushes share at most two fdatasyncs', withDirectory(
  async (dir) => {
    const fileSystem = new FaultInjectingFileSystem();
    const { log } = await openLog(dir, { fileSystem });
    const flushes: Promise<Zxid>[] = [];
    for (let counter = 1; counter <= 256; counter += 1) {
      log.append(makeZxid(1, counter), Buffer.alloc(100, counter));
      flushes.push(log.flush());
    }
    const durable = await Promise.all(flushes);
    durable.forEach((zxid, index) => assert.ok(zxid >= makeZxid(1, index + 1)));
    assert.ok(fileSystem.count('datasync') <= 2, `datasyncs: ${fileSystem.count('datasync')}`);
    assert.ok(fileSystem.count('write') <= 2, `writes: ${fileSystem.count('write')}`);
    assert.equal(log.durableZxid, makeZxid(1, 256));
    await log.close();
  },
));

test('group commit: concurrent flushers in loops need far fewer syncs than flushes', withDirectory(
  async (dir) => {
    const fileSystem = new FaultInjectingFileSystem();
    const { log } = await openLog(dir, { fileSystem });
    let counter = 0;
    const worker = async () => {
      for (let round = 0; round < 20; round += 1) {
        counter += 1;
        const zxid = makeZxid(1, counter);
        log.append(zxid, Buffer.alloc(100, 7));
        assert.ok((await log.flush()) >= zxid);
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    assert.equal(counter, 1280);
    // Lockstep workers: about two syncs per round, nowhere near one per flush.
    assert.ok(fileSystem.count('datasync') <= 60, `datasyncs: ${fileSystem.count('datasync')}`);
    assert.deepEqual(zxidsOf(await readAll(log)), expectedZxids(1, 1280));
    await log.close();
  },
));

test('flush with nothing buffered does no I/O', withDirectory(async (dir) => {
  const fileSystem = new FaultInjectingFileSystem();
  const { log } = await openLog(dir, { fileSystem });
  assert.equal(await log.flush(), 0n);
  assert.equal(fileSystem.count('write') + fileSystem.count('datasync'), 0);
  await log.close();
}));

test('truncateAfter inside a batch, at a batch end and across segments', withDirectory(
  async (dir) => {
    const { log } = await openLog(dir, { segmentBytesMax: 500 });
    await appendRange(log, 1, 40, 5);
    const before = segmentNames(dir).length;
    await log.truncateAfter(makeZxid(1, 23)); // inside the batch 21..25
    assert.equal(log.lastZxid, makeZxid(1, 23));
    assert.equal(log.durableZxid, makeZxid(1, 23));
    assert.ok(segmentNames(dir).length < before);
    assert.deepEqual(zxidsOf(await readAll(log)), expectedZxids(1, 23));
    await log.truncateAfter(makeZxid(1, 20)); // at the end of batch 16..20
    assert.deepEqual(zxidsOf(await readAll(log)), expectedZxids(1, 20));
    await log.truncateAfter(makeZxid(1, 30)); // beyond the end: nothing to do
    assert.equal(log.lastZxid, makeZxid(1, 20));
    await appendRange(log, 21, 25, 2); // the same zxids again, as after a Zab TRUNC
    await log.close();
    const reopened = await openLog(dir);
    assert.deepEqual(zxidsOf(await readAll(reopened.log)), expectedZxids(1, 25));
    assert.deepEqual(reopened.warnings, []);
    await reopened.log.truncateAfter(0n);
    assert.equal(reopened.log.lastZxid, 0n);
    assert.deepEqual(segmentNames(dir), []);
    await reopened.log.close();
  },
));

test('purgeThrough deletes only whole segments older than zxid + 1', withDirectory(async (dir) => {
  const { log } = await openLog(dir);
  await appendRange(log, 1, 10, 10);
  await log.roll();
  await appendRange(log, 11, 20, 10);
  await log.roll();
  await appendRange(log, 21, 30, 10);
  const name = (counter: number) => 'log.' + makeZxid(1, counter).toString(16).padStart(16, '0');
  assert.deepEqual(segmentNames(dir), [name(1), name(11), name(21)]);
  await log.purgeThrough(makeZxid(1, 9)); // 10 still needed
  assert.deepEqual(segmentNames(dir), [name(1), name(11), name(21)]);
  await log.purgeThrough(makeZxid(1, 10)); // segment 1..10 is no longer needed
  assert.deepEqual(segmentNames(dir), [name(11), name(21)]);
  await log.purgeThrough(makeZxid(1, 15));
  assert.deepEqual(segmentNames(dir), [name(11), name(21)]);
  await log.purgeThrough(makeZxid(1, 99)); // the last segment is always kept
  assert.deepEqual(segmentNames(dir), [name(21)]);
  assert.deepEqual(zxidsOf(await readAll(log, makeZxid(1, 20))), expectedZxids(21, 30));
  await log.close();
}));

test('fail-stop: EIO on fdatasync rejects, later calls reject, no retry', withDirectory(
  async (dir) => {
    const fileSystem = new FaultInjectingFileSystem();
    const { log } = await openLog(dir, { fileSystem });
    await appendRange(log, 1, 3, 3);
    fileSystem.inject({ operation: 'datasync', nth: 1, code: 'EIO' });
    log.append(makeZxid(1, 4), Buffer.from('x'));
    const first = log.flush();
    const second = log.flush(); // joins the same group or the next; both must fail
    await assert.rejects(first, (error: Error) => {
      assert.ok(error instanceof StorageFailedError);
      assert.match(error.message, /fdatasync/);
      assert.match(error.message, /EIO/);
      assert.match(error.message, /stopped accepting writes/);
      return true;
    });
    await assert.rejects(second, StorageFailedError);
    const datasyncs = fileSystem.count('datasync');
    assert.throws(() => log.append(makeZxid(1, 5), Buffer.from('y')), StorageFailedError);
    await assert.rejects(log.flush(), StorageFailedError);
    await assert.rejects(log.roll(), StorageFailedError);
    await assert.rejects(log.truncateAfter(1n), StorageFailedError);
    await assert.rejects(log.purgeThrough(1n), StorageFailedError);
    await assert.rejects(async () => readAll(log), StorageFailedError);
    assert.equal(fileSystem.count('datasync'), datasyncs, 'the failed fdatasync was retried');
    assert.equal(log.durableZxid, makeZxid(1, 3));
    await log.close(); // releases files even after a failure
  },
));

test('fail-stop: ENOSPC on write rejects the flush and does not sync', withDirectory(
  async (dir) => {
    const fileSystem = new FaultInjectingFileSystem();
    const { log } = await openLog(dir, { fileSystem });
    await appendRange(log, 1, 2, 2);
    fileSystem.inject({ operation: 'write', nth: 1, code: 'ENOSPC', persistent: true });
    const datasyncs = fileSystem.count('datasync');
    log.append(makeZxid(1, 3), Buffer.from('z'));
    await assert.rejects(log.flush(), (error: Error) => {
      assert.ok(error instanceof StorageFailedError);
      assert.match(error.message, /write of .*log\.[0-9a-f]{16} failed \(ENOSPC\)/);
      return true;
    });
    assert.equal(fileSystem.count('datasync'), datasyncs);
    await assert.rejects(log.flush(), StorageFailedError);
    await log.close();
    fileSystem.clearFaults();
    const reopened = await openLog(dir);
    assert.deepEqual(zxidsOf(await readAll(reopened.log)), expectedZxids(1, 2));
    await reopened.log.close();
  },
));

test('close flushes what is buffered', withDirectory(async (dir) => {
  const { log } = await openLog(dir);
  log.append(1n, Buffer.from('kept'));
  await log.close();
  assert.throws(() => log.append(2n, Buffer.from('late')), InvariantViolation);
  const reopened = await openLog(dir);
  assert.deepEqual(zxidsOf(await readAll(reopened.log)), [1n]);
  await reopened.log.close();
}));

test('a truncateAfter interrupted at any step leaves a prefix holding every kept record',
  withDirectory(async (dir) => {
    const operations = [
      'unlink', 'syncDirectory', 'open', 'write', 'datasync', 'sync', 'truncate', 'rename',
    ] as const;
    // 23 is inside the batch 21..25 (rewrite path); 20 ends a batch (ftruncate path).
    for (const kept of [23, 20]) {
      for (const operation of operations) {
        for (let nth = 1; nth <= 3; nth += 1) {
          const directory = join(dir, `${kept}-${operation}-${nth}`);
          const fileSystem = new FaultInjectingFileSystem();
          const { log } = await openLog(directory, { fileSystem, segmentBytesMax: 400 });
          await appendRange(log, 1, 40, 5);
          fileSystem.inject({ operation, nth, code: 'EIO' });
          const outcome = await log
            .truncateAfter(makeZxid(1, kept))
            .then(() => 'done', () => 'failed');
          await fileSystem.crash();
          const { log: recovered } = await openLog(directory);
          const zxids = zxidsOf(await readAll(recovered));
          await recovered.close();
          const label = `truncate after ${kept}, ${operation} #${nth}: ${outcome}`;
          assert.deepEqual(zxids, expectedZxids(1, zxids.length), label);
          assert.ok(zxids.length >= kept, label);
          if (outcome === 'done') assert.equal(zxids.length, kept, label);
        }
      }
    }
  }),
);

test('empty and large payloads round-trip (the write buffer grows)', withDirectory(
  async (dir) => {
    const { log } = await openLog(dir);
    const large = Buffer.alloc(300_000, 0x5a);
    log.append(1n, Buffer.alloc(0));
    log.append(2n, large);
    log.append(3n, Buffer.from('after'));
    await log.flush();
    log.append(4n, large); // the other (spare) buffer grows too
    await log.close();
    const reopened = await openLog(dir);
    const records = await readAll(reopened.log);
    assert.deepEqual(records.map((r) => r.payload.length), [0, 300_000, 5, 300_000]);
    assert.deepEqual(records[1]!.payload, large);
    await reopened.log.close();
  },
));

test('bit rot found by read after open is StorageCorruptionError', withDirectory(async (dir) => {
  const { log } = await openLog(dir);
  await appendRange(log, 1, 10, 5);
  const path = join(dir, segmentNames(dir)[0]!);
  const bytes = readFileSync(path);
  bytes[40] = bytes[40]! ^ 0xff; // inside the first record of the first batch
  writeFileSync(path, bytes);
  await assert.rejects(readAll(log), (error: Error) => {
    assert.ok(error instanceof StorageCorruptionError);
    assert.equal(error.file, path);
    assert.equal(error.offset, 8);
    return true;
  });
  await log.close();
}));

test('an unknown format version or a segment not matching its name refuse to open',
  withDirectory(async (dir) => {
    const { log } = await openLog(dir);
    await appendRange(log, 1, 10, 5);
    await log.close();
    const [name] = segmentNames(dir);
    const path = join(dir, name!);
    const original = readFileSync(path);
    const newer = Buffer.from(original);
    newer.writeUInt32BE(99, 4);
    writeFileSync(path, newer);
    await assert.rejects(FileTxnLog.open(dir), /format version 99/);
    writeFileSync(path, original);
    // A later segment holding copies of earlier records (zxids would go back).
    const laterName = 'log.' + makeZxid(1, 11).toString(16).padStart(16, '0');
    writeFileSync(join(dir, laterName), original);
    await assert.rejects(FileTxnLog.open(dir), (error: Error) => {
      assert.ok(error instanceof StorageCorruptionError);
      assert.equal(error.file, join(dir, laterName));
      return true;
    });
  }),
);
