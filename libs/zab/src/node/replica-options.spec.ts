/**
 * Goal: option validation says what is wrong and how to fix it, for every problem at once,
 * and defaults follow ZooKeeper (session bounds 2 and 20 ticks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplicaConfigurationError, resolveReplicaOptions } from './replica-options.js';

test('no options gives the durable default in ./.zab/1 with ZooKeeper session bounds', () => {
  const options = resolveReplicaOptions(undefined);
  assert.equal(options.dataDir, './.zab/1');
  assert.equal(options.minSessionTimeoutMs, 2 * options.tickMs);
  assert.equal(options.maxSessionTimeoutMs, 20 * options.tickMs);
  assert.equal(options.dataBytesMax, 1_048_576);
});

test('session bounds follow a custom tick unless given', () => {
  const options = resolveReplicaOptions({ tickMs: 100 });
  assert.equal(options.minSessionTimeoutMs, 200);
  assert.equal(options.maxSessionTimeoutMs, 2000);
});

test('every problem is reported, each with a hint', () => {
  assert.throws(
    () => resolveReplicaOptions({ tickMs: -1, dataDir: '', snapshotsRetained: 1.5, tickMS: 3 } as never),
    (error: unknown) => {
      assert.ok(error instanceof ReplicaConfigurationError);
      assert.equal(error.problems.length, 4);
      assert.match(error.message, /tickMs must be an integer from 10 to 600000; got -1/);
      assert.match(error.message, /dataDir must be a non-empty string/);
      assert.match(error.message, /snapshotsRetained must be an integer/);
      assert.match(error.message, /unknown option "tickMS"; known options: dataDir, tickMs/);
      return true;
    },
  );
});

test('min session timeout above max is rejected with the fix', () => {
  assert.throws(
    () => resolveReplicaOptions({ minSessionTimeoutMs: 5000, maxSessionTimeoutMs: 4000 }),
    /minSessionTimeoutMs \(5000\) must not exceed maxSessionTimeoutMs \(4000\)/,
  );
});

test('isolation defaults to the worker thread and takes only worker or main', () => {
  assert.equal(resolveReplicaOptions(undefined).isolation, 'worker');
  assert.equal(resolveReplicaOptions({ isolation: 'main' }).isolation, 'main');
  assert.throws(
    () => resolveReplicaOptions({ isolation: 'process' as never }),
    /isolation must be 'worker' or 'main'; got "process"/,
  );
});
