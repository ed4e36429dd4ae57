/**
 * Goal: `SharedCounter` is a linearizable 64-bit counter: concurrent increments from many
 * sessions sum exactly (none lost to a race), `compareAndSet` and `trySetCount` succeed only
 * on the expected value / version, the retry bound surfaces as a typed error, bad stored
 * data is refused, and `subscribe` reports the current value then each change.
 * Method: a real in-memory Replica, one session per client; a control run of unversioned
 * read-modify-write shows the same load does lose updates, so the exact sum is meaningful.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { withTimeout } from '../testing/with-timeout.js';
import { BadArgumentsError } from '../state/keeper-error.js';
import { SharedCounter, type VersionedValue } from './shared-counter.js';
import { CasRetriesExhaustedError } from './recipe-errors.js';
import { recipeHarnesses } from './recipe-harness.test-support.js';

const WAIT_MS = 20_000;
/** A harness per call, closed after each test. */
const harness = recipeHarnesses();

describe('SharedCounter', () => {
  test('8 clients x 25 increments sum to exactly 200 (unversioned control loses updates)', async () => {
    const h = await harness();
    const clients = await h.clientsOf(8);
    const control = new SharedCounter(clients[0]!, '/control');
    await control.get();
    await withTimeout(Promise.all(clients.map(async (client) => {
      const counter = new SharedCounter(client, '/control');
      for (let i = 0; i < 25; i++) {
        const { value } = await counter.get();
        const bytes = Buffer.alloc(8);
        bytes.writeBigInt64BE(value + 1n);
        await client.setData('/control', bytes);
      }
    })), WAIT_MS, 'the control run');
    assert.ok((await control.get()).value < 200n, 'unversioned read-modify-write loses updates');

    const results = await withTimeout(Promise.all(clients.map(async (client) => {
      const counter = new SharedCounter(client, '/counters/hits');
      const seen: bigint[] = [];
      for (let i = 0; i < 25; i++) seen.push((await counter.increment()).postValue);
      return seen;
    })), WAIT_MS, 'the increments');
    assert.equal((await new SharedCounter(clients[0]!, '/counters/hits').get()).value, 200n);
    const all = results.flat().sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    assert.deepEqual(all, Array.from({ length: 200 }, (_, i) => BigInt(i + 1)), 'each increment saw a distinct value');
  });

  test('compareAndSet and trySetCount succeed only on the expected value / version', async () => {
    const h = await harness();
    const [a, b] = await h.clientsOf(2);
    const counter = new SharedCounter(a!, '/cas', { seedValue: 10n });
    const seen = await counter.get();
    assert.equal(seen.value, 10n);
    const miss = await counter.compareAndSet(9n, 11n);
    assert.deepEqual({ ...miss, zxid: 0n }, { succeeded: false, preValue: 10n, postValue: 10n, zxid: 0n });
    const hit = await counter.compareAndSet(10n, -(1n << 63n));
    assert.equal(hit.succeeded, true);
    assert.equal(hit.postValue, -(1n << 63n));
    assert.equal(await new SharedCounter(b!, '/cas').trySetCount(seen, 5n), false, 'a stale version fails');
    const fresh = await counter.get();
    assert.equal(await new SharedCounter(b!, '/cas').trySetCount(fresh, 5n), true);
    assert.equal((await counter.get()).value, 5n);
    await assert.rejects(counter.increment((1n << 63n)), BadArgumentsError);
    await a!.setData('/cas', Buffer.from('abc'));
    await assert.rejects(counter.get(), BadArgumentsError);
  });

  test('the CAS retry bound surfaces as CasRetriesExhaustedError', async () => {
    const h = await harness();
    const [a, b] = await h.clientsOf(2);
    const counter = new SharedCounter(a!, '/bounded', { casAttemptsMax: 1 });
    await counter.get();
    // Every read of `a` is followed by a competing write of `b` before `a` commits.
    const racing = new SharedCounter(b!, '/bounded');
    const realGet = counter.get.bind(counter);
    counter.get = async (): Promise<VersionedValue> => {
      const value = await realGet();
      await racing.increment();
      return value;
    };
    await assert.rejects(counter.increment(), (e: unknown) => e instanceof CasRetriesExhaustedError && e.code === -103);
    assert.equal((await racing.get()).value, 1n);
  });

  test('subscribe reports the current value, then every change', async () => {
    const h = await harness();
    const [a, b] = await h.clientsOf(2);
    const seen: bigint[] = [];
    let reached!: () => void;
    const third = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const stop = await new SharedCounter(a!, '/sub', { seedValue: 7n }).subscribe((v) => {
      seen.push(v.value);
      if (seen.length === 3) reached();
    });
    const writer = new SharedCounter(b!, '/sub');
    await writer.increment(2n);
    await writer.increment(-10n);
    await withTimeout(third, WAIT_MS, 'three reports');
    stop();
    assert.deepEqual(seen, [7n, 9n, -1n]);
  });
});
