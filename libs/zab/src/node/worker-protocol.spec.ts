/**
 * Goal: what crosses the thread boundary comes out as it went in. Every error class the
 * replica can raise is re-created as the same class with the same message, code, path and
 * fields; an unknown class keeps its name and message; Stat bigints and write data survive
 * the structured clone; the outbox posts one message per turn with items in push order.
 * Method: `toWireError` -> `structuredClone` (the boundary) -> `reviveError`, per class; the
 * outbox with a recording `post`, waiting on the post itself (bounded).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../state/error-code.js';
import {
  BadArgumentsError,
  InvalidPathError,
  KeeperError,
  keeperError,
  NoNodeError,
  SessionExpiredError,
} from '../state/keeper-error.js';
import {
  StorageCorruptionError,
  StorageFailedError,
  StorageLockedError,
} from '../storage/storage-errors.js';
import { deferred, withTimeout } from '../testing/with-timeout.js';
import { MultiError } from './coordination-client.js';
import { RecoveryError, ReplicaStoppedError } from './replica-errors.js';
import { ReplicaConfigurationError } from './replica-options.js';
import {
  asBuffer,
  copyForTransfer,
  Outbox,
  packStat,
  reviveError,
  toWireError,
  unpackStat,
  type Batch,
} from './worker-protocol.js';
import type { Stat } from '../state/stat.js';

function across(error: Error): Error {
  return reviveError(structuredClone(toWireError(error)));
}

test('keeper errors keep their class, code, path and exact message', () => {
  const cases: KeeperError[] = [
    keeperError(ErrorCode.NoNode, '/a'),
    keeperError(ErrorCode.NodeExists, '/b'),
    keeperError(ErrorCode.BadVersion, '/c', 'a custom detail'),
    keeperError(ErrorCode.SessionExpired),
    new KeeperError(ErrorCode.ConnectionLoss, undefined, 'the session was closed'),
    new KeeperError(ErrorCode.ThrottledOp, undefined, 'more than pendingWritesMax (8) writes'),
    new InvalidPathError(ErrorCode.BadArguments, 'x//y', 'invalid path: empty node name'),
    new BadArgumentsError(ErrorCode.BadArguments, undefined, 'data must be a Buffer'),
    keeperError(ErrorCode.NoAuth, '/secure'),
    keeperError(ErrorCode.AuthFailed, undefined, 'no authentication provider for scheme "ip"'),
    keeperError(ErrorCode.InvalidAcl, '/x'),
  ];
  for (const original of cases) {
    const revived = across(original);
    assert.equal(revived.constructor, original.constructor, original.name);
    assert.ok(revived instanceof KeeperError);
    assert.equal(revived.code, original.code);
    assert.equal(revived.path, original.path);
    assert.equal(revived.message, original.message);
    assert.equal(revived.name, original.name);
  }
  assert.ok(across(keeperError(ErrorCode.NoNode, '/a')) instanceof NoNodeError);
  assert.ok(across(keeperError(ErrorCode.SessionExpired)) instanceof SessionExpiredError);
});

test('MultiError keeps every op result', () => {
  const results = [
    { type: 'error' as const, code: 0 },
    { type: 'error' as const, code: ErrorCode.NodeExists },
  ];
  const revived = across(new MultiError(ErrorCode.NodeExists, results, '/m/x'));
  assert.ok(revived instanceof MultiError);
  assert.deepEqual(revived.results, results);
  assert.equal(revived.path, '/m/x');
  assert.equal(revived.message, 'NodeExists: multi failed at op 1 (path /m/x)');
});

test('environment errors keep their class, message and fields', () => {
  const stopped = across(new ReplicaStoppedError(new Error('EIO')));
  assert.ok(stopped instanceof ReplicaStoppedError);
  assert.match(stopped.message, /stopped accepting writes after a failure: EIO/);
  const config = across(new ReplicaConfigurationError(['tickMs is bad', 'dataDir is bad']));
  assert.ok(config instanceof ReplicaConfigurationError);
  assert.deepEqual(config.problems, ['tickMs is bad', 'dataDir is bad']);
  assert.ok(across(new RecoveryError('log gap')) instanceof RecoveryError);
  assert.ok(across(new StorageFailedError('fsync failed')) instanceof StorageFailedError);
  const corrupt = across(new StorageCorruptionError('log.1', 4096, 'bad crc'));
  assert.ok(corrupt instanceof StorageCorruptionError);
  assert.equal(corrupt.file, 'log.1');
  assert.equal(corrupt.offset, 4096);
  assert.equal(corrupt.message, 'corrupt data in log.1 at byte offset 4096: bad crc');
  const locked = across(new StorageLockedError('/data', 42));
  assert.ok(locked instanceof StorageLockedError);
  assert.equal(locked.holderPid, 42);
  const other = across(new TypeError('boom'));
  assert.equal(other.name, 'TypeError');
  assert.equal(other.message, 'boom');
  assert.match(other.stack ?? '', /in the replica worker/);
});

test('Stat bigints and data survive the clone; copies own their bytes', () => {
  const stat: Stat = {
    czxid: 2n ** 40n + 3n, mzxid: 5n, ctime: 1n, mtime: 2n, version: 1, cversion: 2,
    aversion: 3, ephemeralOwner: 2n ** 63n - 1n, dataLength: 4, numChildren: 5, pzxid: 7n,
  };
  assert.deepEqual(structuredClone({ stat }).stat, stat);
  const unpacked = unpackStat(structuredClone(packStat(stat)));
  assert.deepEqual(unpacked, stat);
  assert.deepEqual(Object.keys(unpacked), Object.keys(stat), 'same field order as the interface');
  const original = Buffer.from('hello');
  const copy = copyForTransfer(original);
  original.fill(0);
  assert.equal(copy.buffer.byteLength, 5);
  const received = asBuffer(structuredClone(copy));
  assert.ok(Buffer.isBuffer(received));
  assert.equal(received.toString(), 'hello');
});

test('the outbox posts one message per turn, in push order, with the transfer list', async () => {
  const posted: Array<{ message: Batch<number>; transfer: ArrayBuffer[] }> = [];
  const done = deferred<void>();
  const outbox = new Outbox<number>((message, transfer) => {
    posted.push({ message, transfer });
    done.resolve();
  });
  const buffer = new ArrayBuffer(8);
  for (let i = 0; i < 100; i++) outbox.push(i, i === 50 ? [buffer] : undefined);
  await withTimeout(done.promise, 2000, 'the batch');
  assert.equal(posted.length, 1);
  assert.deepEqual(posted[0]!.message.batch, Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual(posted[0]!.transfer, [buffer]);
});
