/**
 * Goal: recovery never loses acknowledged records and never silently drops damaged ones.
 * A torn tail (any prefix of the last, unacknowledged batch, possibly followed by zeros,
 * garbage or out-of-order pages) is truncated durably with a warning naming file, offset and
 * bytes dropped; damage followed by a complete valid batch, or in a non-last segment, makes
 * open throw StorageCorruptionError naming the file and offset.
 * Method: write a reference log whose batch end offsets are known, then for EVERY byte offset
 * over its last batches build a copy cut at that offset (also padded with zeros or garbage)
 * and reopen it; byte flips and a simulated power loss through FaultInjectingFileSystem cover
 * the corruption and crash paths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync }
  from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Zxid } from '../../core/ids.js';
import { FaultInjectingFileSystem } from '../../testing/fault-injecting-file-system.js';
import { StorageCorruptionError, StorageFailedError } from '../storage-errors.js';
import type { LogRecord } from '../storage.js';
import { FileTxnLog } from './file-txn-log.js';

interface Reference {
  /** Segment file name and bytes of the single segment. */
  name: string;
  bytes: Buffer;
  /** File size after each acknowledged flush, and the zxids of records it made durable. */
  batchEnds: number[];
  zxidsThroughBatch: Zxid[][];
}

const BATCH_SIZES = [2, 3, 1, 4, 2, 3];

function temporaryDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'zab-txn-crash-'));
}

async function readAll(log: FileTxnLog): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  for await (const record of log.read(0n)) records.push(record);
  return records;
}

function payloadOf(zxid: Zxid): Buffer {
  return Buffer.from(`payload of ${zxid} `.repeat(Number(zxid % 3n) + 1));
}

async function buildReference(directory: string): Promise<Reference> {
  const log = await FileTxnLog.open(directory);
  const batchEnds: number[] = [];
  const zxidsThroughBatch: Zxid[][] = [];
  const written: Zxid[] = [];
  let zxid = 0x100000000n;
  for (const size of BATCH_SIZES) {
    for (let index = 0; index < size; index += 1) {
      zxid += 1n;
      log.append(zxid, payloadOf(zxid));
      written.push(zxid);
    }
    await log.flush();
    const [name] = readdirSync(directory);
    batchEnds.push(statSync(join(directory, name!)).size);
    zxidsThroughBatch.push([...written]);
  }
  await log.close();
  const [name] = readdirSync(directory);
  return { name: name!, bytes: readFileSync(join(directory, name!)), batchEnds, zxidsThroughBatch };
}

/** Opens a copy of the reference whose segment holds `bytes`; returns what recovery did. */
async function recoverCopy(reference: Reference, bytes: Buffer, before: Buffer[] = []) {
  const directory = temporaryDirectory();
  try {
    before.forEach((earlier, index) => {
      const name = 'log.' + (index + 1).toString(16).padStart(16, '0');
      writeFileSync(join(directory, name), earlier);
    });
    writeFileSync(join(directory, reference.name), bytes);
    const warnings: string[] = [];
    const log = await FileTxnLog.open(directory, { warn: (m) => warnings.push(m) });
    const zxids = (await readAll(log)).map((record) => record.zxid);
    const sizeAfterOpen = statSync(join(directory, reference.name)).size;
    // Appending after recovery works and survives a reopen.
    const next = log.lastZxid + 1n;
    log.append(next, Buffer.from('after recovery'));
    await log.flush();
    await log.close();
    const again = await FileTxnLog.open(directory, { warn: (m) => warnings.push(m) });
    const zxidsAfterAppend = (await readAll(again)).map((record) => record.zxid);
    await again.close();
    return { zxids, warnings, sizeAfterOpen, next, zxidsAfterAppend };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

function acknowledgedAt(reference: Reference, cut: number): { end: number; zxids: Zxid[] } {
  let index = -1;
  while (index + 1 < reference.batchEnds.length && reference.batchEnds[index + 1]! <= cut) {
    index += 1;
  }
  return index < 0
    ? { end: 8, zxids: [] }
    : { end: reference.batchEnds[index]!, zxids: reference.zxidsThroughBatch[index]! };
}

type Tail = 'cut' | 'zeros' | 'garbage';

function damagedCopy(reference: Reference, cut: number, tail: Tail): Buffer {
  const kept = reference.bytes.subarray(0, cut);
  const fillBytes = reference.bytes.length - cut;
  if (tail === 'cut') return Buffer.from(kept);
  const fill = tail === 'zeros' ? Buffer.alloc(fillBytes) : Buffer.alloc(fillBytes, 0xa7);
  return Buffer.concat([kept, fill]);
}

async function checkEveryOffset(tail: Tail): Promise<void> {
  const directory = temporaryDirectory();
  try {
    const reference = await buildReference(directory);
    const firstCut = reference.batchEnds[reference.batchEnds.length - 3]!;
    for (let cut = firstCut; cut <= reference.bytes.length; cut += 1) {
      const bytes = damagedCopy(reference, cut, tail);
      const expected = acknowledgedAt(reference, cut);
      const result = await recoverCopy(reference, bytes);
      const label = `${tail} at offset ${cut}`;
      assert.deepEqual(result.zxids, expected.zxids, label);
      assert.equal(result.sizeAfterOpen, expected.end, label);
      assert.deepEqual(result.zxidsAfterAppend, [...expected.zxids, result.next], label);
      if (bytes.length === expected.end) {
        assert.deepEqual(result.warnings, [], label);
      } else {
        assert.equal(result.warnings.length, 1, label);
        const warning = result.warnings[0]!;
        assert.ok(warning.includes(reference.name), `${label}: ${warning}`);
        assert.ok(warning.includes(`offset ${expected.end}`), `${label}: ${warning}`);
        assert.ok(warning.includes(`${bytes.length - expected.end} bytes`), `${label}: ${warning}`);
      }
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

test('a log cut at every byte of its last batches keeps every acknowledged record', () =>
  checkEveryOffset('cut'));

test('a torn tail followed by zero fill is truncated at every offset', () =>
  checkEveryOffset('zeros'));

test('a torn tail followed by garbage is truncated at every offset', () =>
  checkEveryOffset('garbage'));

test('a last batch whose pages arrived out of order is a torn tail', async () => {
  const directory = temporaryDirectory();
  try {
    const reference = await buildReference(directory);
    const lastStart = reference.batchEnds[reference.batchEnds.length - 2]!;
    for (let zeroed = 1; zeroed < reference.bytes.length - lastStart; zeroed += 7) {
      const bytes = Buffer.from(reference.bytes);
      bytes.fill(0, lastStart, lastStart + zeroed); // later bytes landed, earlier did not
      const result = await recoverCopy(reference, bytes);
      const expected = reference.zxidsThroughBatch[reference.zxidsThroughBatch.length - 2]!;
      assert.deepEqual(result.zxids, expected);
      assert.equal(result.warnings.length, 1);
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

async function expectCorruption(bytes: Buffer, reference: Reference, offset: number) {
  const directory = temporaryDirectory();
  try {
    writeFileSync(join(directory, reference.name), bytes);
    const path = join(directory, reference.name);
    await assert.rejects(FileTxnLog.open(directory, { warn: () => {} }), (error: Error) => {
      assert.ok(error instanceof StorageCorruptionError, String(error));
      assert.equal(error.file, path);
      assert.equal(error.offset, offset);
      return true;
    });
    assert.deepEqual(readFileSync(path), bytes, 'the damaged file was modified');
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

test('a flipped byte in an early batch is corruption naming file and offset', async () => {
  const directory = temporaryDirectory();
  try {
    const reference = await buildReference(directory);
    const secondStart = reference.batchEnds[0]!;
    for (let at = secondStart; at < reference.batchEnds[1]!; at += 1) {
      const bytes = Buffer.from(reference.bytes);
      bytes[at] = bytes[at]! ^ 0x40;
      await expectCorruption(bytes, reference, secondStart);
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('an invalid region followed by a complete valid batch is refused', async () => {
  const directory = temporaryDirectory();
  try {
    const reference = await buildReference(directory);
    const n = reference.batchEnds.length;
    const start = reference.batchEnds[n - 3]!;
    const bytes = Buffer.from(reference.bytes);
    bytes.fill(0, start, reference.batchEnds[n - 2]!); // zero batch n-1, batch n intact
    await expectCorruption(bytes, reference, start);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('any damage in a non-last segment is corruption, even at its very end', async () => {
  const directory = temporaryDirectory();
  try {
    const reference = await buildReference(directory);
    const earlierDirectory = join(directory, 'earlier');
    mkdirSync(earlierDirectory);
    const earlierLog = await FileTxnLog.open(earlierDirectory);
    earlierLog.append(1n, Buffer.from('one'));
    earlierLog.append(2n, Buffer.from('two'));
    await earlierLog.close();
    const earlier = readFileSync(join(earlierDirectory, 'log.0000000000000001'));
    const torn = earlier.subarray(0, earlier.length - 1);
    const copy = temporaryDirectory();
    try {
      writeFileSync(join(copy, 'log.0000000000000001'), torn);
      writeFileSync(join(copy, reference.name), reference.bytes);
      await assert.rejects(FileTxnLog.open(copy, { warn: () => {} }), (error: Error) => {
        assert.ok(error instanceof StorageCorruptionError);
        assert.equal(error.file, join(copy, 'log.0000000000000001'));
        assert.equal(error.offset, 8);
        return true;
      });
      // The same segment intact before the reference segment opens fine.
      const result = await recoverCopy(reference, reference.bytes, [earlier]);
      assert.deepEqual(result.zxids.slice(0, 2), [1n, 2n]);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('a last segment whose creation was torn is deleted with a warning', async () => {
  const directory = temporaryDirectory();
  try {
    const reference = await buildReference(directory);
    for (const bytes of [Buffer.alloc(0), reference.bytes.subarray(0, 5), Buffer.alloc(40)]) {
      const copy = temporaryDirectory();
      try {
        writeFileSync(join(copy, reference.name), reference.bytes);
        writeFileSync(join(copy, 'log.ffff000000000001'), bytes);
        const warnings: string[] = [];
        const log = await FileTxnLog.open(copy, { warn: (m) => warnings.push(m) });
        assert.equal(log.lastZxid, reference.zxidsThroughBatch.at(-1)!.at(-1));
        assert.equal(warnings.length, 1);
        assert.match(warnings[0]!, /log\.ffff000000000001/);
        assert.deepEqual(readdirSync(copy), [reference.name]);
        await log.close();
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('power loss after a failed fdatasync keeps exactly the acknowledged records', async () => {
  const directory = temporaryDirectory();
  try {
    const fileSystem = new FaultInjectingFileSystem();
    const log = await FileTxnLog.open(directory, { fileSystem });
    for (let zxid = 1n; zxid <= 5n; zxid += 1n) log.append(zxid, payloadOf(zxid));
    await log.flush();
    log.append(6n, payloadOf(6n));
    await log.flush();
    fileSystem.inject({ operation: 'datasync', nth: 1, code: 'EIO' });
    for (let zxid = 7n; zxid <= 9n; zxid += 1n) log.append(zxid, payloadOf(zxid));
    await assert.rejects(log.flush(), StorageFailedError);
    await fileSystem.crash(); // the written but unsynced batch 7..9 is lost
    const warnings: string[] = [];
    const recovered = await FileTxnLog.open(directory, { warn: (m) => warnings.push(m) });
    assert.deepEqual((await readAll(recovered)).map((r) => r.zxid), [1n, 2n, 3n, 4n, 5n, 6n]);
    await recovered.close();
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('property: power loss after any failed write or sync keeps every acknowledged record',
  async () => {
    const fc = (await import('fast-check')).default;
    const scenario = fc.record({
      batchSizes: fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 25 }),
      concurrentFlushers: fc.integer({ min: 1, max: 4 }),
      faultOperation: fc.constantFrom(
        'write' as const,
        'datasync' as const,
        'syncDirectory' as const,
      ),
      faultNth: fc.integer({ min: 1, max: 12 }),
      segmentBytesMax: fc.integer({ min: 200, max: 3000 }),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async (run) => {
        const directory = temporaryDirectory();
        try {
          const fileSystem = new FaultInjectingFileSystem();
          const log = await FileTxnLog.open(directory, {
            fileSystem,
            segmentBytesMax: run.segmentBytesMax,
          });
          fileSystem.inject({ operation: run.faultOperation, nth: run.faultNth, code: 'EIO' });
          const appended: Zxid[] = [];
          let acknowledged = 0n;
          try {
            for (const size of run.batchSizes) {
              for (let index = 0; index < size; index += 1) {
                const zxid = BigInt(appended.length + 1);
                log.append(zxid, payloadOf(zxid));
                appended.push(zxid);
              }
              const flushes = Array.from({ length: run.concurrentFlushers }, () => log.flush());
              for (const durable of await Promise.all(flushes)) {
                if (durable > acknowledged) acknowledged = durable;
              }
            }
          } catch (error) {
            assert.ok(error instanceof StorageFailedError, String(error));
          }
          await fileSystem.crash();
          const recovered = await FileTxnLog.open(directory, { warn: () => {} });
          const zxids = (await readAll(recovered)).map((record) => record.zxid);
          await recovered.close();
          // A prefix of what was appended that holds every acknowledged record.
          assert.deepEqual(zxids, appended.slice(0, zxids.length));
          assert.ok(BigInt(zxids.length) >= acknowledged, `lost acknowledged ${acknowledged}`);
        } finally {
          rmSync(directory, { recursive: true, force: true });
        }
      }),
      { numRuns: 80 },
    );
  });
