/**
 * Goal: MemoryTxnLog and FileTxnLog keep the same TxnLog contract, so tests and the simulator
 * on memory storage say something about the disk: same records after any sequence of
 * append/flush/roll/truncateAfter/purgeThrough (and reopen, for the file log), and both agree
 * with a naive model (the log is the appended records minus truncated ones; purge removes
 * only a prefix of records <= the purge point).
 * Method: fast-check generates operation sequences; each runs against both logs in a fresh
 * temp directory; after every sequence both logs are read and compared with the model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Zxid } from '../core/ids.js';
import { FileTxnLog } from './file/file-txn-log.js';
import { MemoryTxnLog } from './memory/memory-txn-log.js';
import type { LogRecord, TxnLog } from './storage.js';

type Operation =
  | { kind: 'append'; count: number }
  | { kind: 'flush' }
  | { kind: 'roll' }
  | { kind: 'truncate'; back: number }
  | { kind: 'purge'; back: number }
  | { kind: 'reopen' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ kind: fc.constant('append' as const), count: fc.integer({ min: 1, max: 6 }) }),
  fc.constant({ kind: 'flush' as const }),
  fc.constant({ kind: 'roll' as const }),
  fc.record({ kind: fc.constant('truncate' as const), back: fc.integer({ min: 0, max: 8 }) }),
  fc.record({ kind: fc.constant('purge' as const), back: fc.integer({ min: 0, max: 8 }) }),
  fc.constant({ kind: 'reopen' as const }),
);

async function readAll(log: TxnLog): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  for await (const record of log.read(0n)) records.push(record);
  return records;
}

interface Model {
  zxids: Zxid[];
  nextZxid: Zxid;
  purgedThrough: Zxid;
}

async function apply(step: Operation, logs: [MemoryTxnLog, FileTxnLog], model: Model) {
  const [memory, file] = logs;
  switch (step.kind) {
    case 'append':
      for (let index = 0; index < step.count; index += 1) {
        const zxid = model.nextZxid;
        model.nextZxid += 1n + (zxid % 3n); // gaps, as across epochs
        model.zxids.push(zxid);
        const payload = Buffer.from(`p${zxid}`);
        memory.append(zxid, payload);
        file.append(zxid, payload);
      }
      return;
    case 'flush':
      assert.equal(await memory.flush(), await file.flush());
      return;
    case 'roll':
      await Promise.all([memory.roll(), file.roll()]);
      return;
    case 'truncate': {
      const target = model.zxids.at(-1 - step.back) ?? 0n;
      model.zxids = model.zxids.filter((zxid) => zxid <= target);
      model.purgedThrough = model.purgedThrough > target ? target : model.purgedThrough;
      await Promise.all([memory.truncateAfter(target), file.truncateAfter(target)]);
      return;
    }
    case 'purge': {
      const target = model.zxids.at(-1 - step.back) ?? 0n;
      if (target > model.purgedThrough) model.purgedThrough = target;
      await Promise.all([memory.purgeThrough(target), file.purgeThrough(target)]);
      return;
    }
    case 'reopen':
      return; // handled by the caller (only the file log has something to reopen)
  }
}

async function check(logs: [MemoryTxnLog, FileTxnLog], model: Model): Promise<void> {
  const [fromMemory, fromFile] = await Promise.all(logs.map(readAll));
  assert.deepEqual(fromFile, fromMemory);
  const zxids = fromFile!.map((record) => record.zxid);
  // A suffix of the model that still holds every record after the purge point.
  const start = model.zxids.length - zxids.length;
  assert.ok(start >= 0);
  assert.deepEqual(zxids, model.zxids.slice(start));
  assert.ok(model.zxids.slice(0, start).every((zxid) => zxid <= model.purgedThrough));
  assert.equal(logs[1].lastZxid, logs[0].lastZxid);
}

test('memory and file logs agree with each other and with a naive model', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 30 }), async (steps) => {
      const directory = mkdtempSync(join(tmpdir(), 'zab-contract-'));
      const fileLog = await FileTxnLog.open(directory);
      const logs: [MemoryTxnLog, FileTxnLog] = [new MemoryTxnLog(), fileLog];
      const model: Model = { zxids: [], nextZxid: 1n, purgedThrough: 0n };
      try {
        for (const step of steps) {
          if (step.kind === 'reopen') {
            await logs[1].close();
            logs[1] = await FileTxnLog.open(directory, { warn: (m) => assert.fail(m) });
            await logs[0].roll(); // the file log starts a new segment after open
          } else {
            await apply(step, logs, model);
          }
        }
        await check(logs, model);
      } finally {
        await Promise.all(logs.map((log) => log.close()));
        rmSync(directory, { recursive: true, force: true });
      }
    }),
    { numRuns: 60 },
  );
});

test('memory log: concurrent flushes share one completion, fail-stop on request', async () => {
  const log = new MemoryTxnLog({ flushesBeforeFailure: 1 });
  log.append(1n, Buffer.from('a'));
  const first = log.flush();
  assert.equal(log.flush(), first);
  assert.equal(await first, 1n);
  log.append(2n, Buffer.from('b'));
  await assert.rejects(log.flush(), /stopped accepting writes/);
  assert.throws(() => log.append(3n, Buffer.from('c')), /stopped accepting writes/);
  assert.equal(log.durableZxid, 1n);
});
