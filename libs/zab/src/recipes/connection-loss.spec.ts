/**
 * Goal: a connection loss while the session lives (a leader change: the write's outcome is
 * unknown) neither orphans nor duplicates recipe nodes. Protected creates (lock, semaphore)
 * and protected puts (queue) find their committed node by its marker or create it once,
 * also when the lost create was the first in a directory that does not exist yet;
 * a lost release is retried; a counter write with an unknown outcome is not retried.
 * Method: a real in-memory Replica behind a proxy client that injects `ConnectionLoss` on
 * chosen calls, either after the call committed or instead of it; the tree is then read
 * back to count nodes.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { CoordinationClient } from '../node/coordination-client.js';
import { ErrorCode } from '../state/error-code.js';
import { ConnectionLossError, keeperError } from '../state/keeper-error.js';
import { DistributedQueue } from './distributed-queue.js';
import { Mutex } from './mutex.js';
import { ReadWriteLock } from './read-write-lock.js';
import { Semaphore } from './semaphore.js';
import { SharedCounter } from './shared-counter.js';
import { recipeHarnesses } from './recipe-harness.test-support.js';

/** A harness per call, closed after each test. */
const harness = recipeHarnesses();

type Injected = { method: 'create' | 'multi' | 'delete' | 'setData'; committed: boolean };

/** `client` with a `ConnectionLoss` injected into the listed calls, in order. */
function flaky(client: CoordinationClient, plan: Injected[]): { client: CoordinationClient; pending: () => number } {
  const proxy = new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        const next = plan[0];
        const call = (): Promise<unknown> => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (next === undefined || next.method !== property) return call();
        plan.shift();
        const loss = keeperError(ErrorCode.ConnectionLoss, undefined, 'injected: leadership changed');
        return next.committed ? call().then(() => Promise.reject(loss)) : Promise.reject(loss);
      };
    },
  });
  return { client: proxy, pending: () => plan.length };
}

describe('connection loss with the session alive', () => {
  test('semaphore and lock creates that committed before the loss are found, not repeated', async () => {
    const h = await harness();
    const plain = await h.client();
    for (const path of ['/s', '/l']) await plain.create(path, Buffer.alloc(0));
    const injected = flaky(plain, [{ method: 'create', committed: true }, { method: 'create', committed: true }]);
    const lease = await new Semaphore(injected.client, '/s', 2).acquire();
    const write = await new ReadWriteLock(injected.client, '/l').writeLock.acquire();
    assert.equal(injected.pending(), 0, 'both losses were injected');
    assert.deepEqual(await new Semaphore(plain, '/s', 2).participantNodes(), [lease.path]);
    assert.deepEqual((await new ReadWriteLock(plain, '/l').participants()).map((p) => p.path), [write.path]);
    assert.equal((await plain.exists(lease.path))?.czxid, lease.fencingToken);
  });

  test('a create lost before it committed is made once; a lost release is retried', async () => {
    const h = await harness();
    const plain = await h.client();
    await plain.create('/s2', Buffer.alloc(0));
    const injected = flaky(plain, [{ method: 'create', committed: false }, { method: 'delete', committed: false }]);
    const lease = await new Semaphore(injected.client, '/s2', 1).acquire();
    assert.deepEqual(await new Semaphore(plain, '/s2', 1).participantNodes(), [lease.path]);
    await lease.release();
    assert.equal(injected.pending(), 0);
    assert.equal(await plain.exists(lease.path), null, 'the release was retried');
  });

  test('a lost first create in a directory not made yet: lock and semaphore create it and join once', async () => {
    const h = await harness();
    const plain = await h.client();
    // Lost before it committed, so the directory is still missing when the marker is looked for.
    const injected = flaky(plain, [{ method: 'create', committed: false }, { method: 'create', committed: false }]);
    const lock = await new Mutex(injected.client, 'fresh').acquire();
    const lease = await new Semaphore(injected.client, '/fresh-sem', 1).acquire();
    assert.equal(injected.pending(), 0, 'both losses were injected');
    assert.equal((await plain.getChildren('/zab/locks/fresh')).children.length, 1);
    assert.deepEqual(await new Semaphore(plain, '/fresh-sem', 1).participantNodes(), [lease.path]);
    await lock.release();
    await lease.release();
  });

  test('a queue put enqueues exactly once whether or not the lost multi committed', async () => {
    const h = await harness();
    const plain = await h.client();
    const injected = flaky(plain, [{ method: 'multi', committed: true }, { method: 'multi', committed: false }]);
    const queue = new DistributedQueue(injected.client, '/q', { capacity: 3 });
    const first = await queue.put(Buffer.from('a'));
    const second = await queue.put(Buffer.from('b'));
    assert.equal(injected.pending(), 0);
    assert.deepEqual((await plain.getChildren('/q')).children.sort(), [first, second].map((p) => p.slice(3)).sort());
    const reader = new DistributedQueue(plain, '/q');
    assert.deepEqual([(await reader.poll())?.data.toString(), (await reader.poll())?.data.toString(), await reader.poll()],
      ['a', 'b', null]);
  });

  test('a counter write with an unknown outcome rejects with ConnectionLossError', async () => {
    const h = await harness();
    const plain = await h.client();
    await new SharedCounter(plain, '/c').get();
    const injected = flaky(plain, [{ method: 'setData', committed: true }]);
    await assert.rejects(new SharedCounter(injected.client, '/c').increment(), ConnectionLossError);
    assert.equal((await new SharedCounter(plain, '/c').get()).value, 1n, 'the write did commit; it was not repeated');
  });
});
