/**
 * Goal: `DistributedQueue` hands each item to exactly one consumer, in FIFO order, and
 * never holds more than `capacity` items: `put` waits while full (backpressure) and resumes
 * when a take makes room; `put`/`take` waits time out and abort with typed errors without
 * changing the queue.
 * Method: a real in-memory Replica; several producer and consumer sessions race. The item
 * count is watched through `observe(children)`, which captures the children at the zxid of
 * every change, so the maximum seen is the true maximum.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { withTimeout } from '../testing/with-timeout.js';
import { DistributedQueue } from './distributed-queue.js';
import { RecipeTimeoutError } from './recipe-errors.js';
import { childCount, recipeHarnesses } from './recipe-harness.test-support.js';

const WAIT_MS = 20_000;
/** A harness per call, closed after each test. */
const harness = recipeHarnesses();

describe('DistributedQueue', () => {
  test('3 producers, 4 consumers, capacity 5: 60 items each consumed once, never over 5 queued', async () => {
    const h = await harness();
    const [watcher, ...clients] = await h.clientsOf(8);
    await new DistributedQueue(watcher!, '/work/queue').size();
    let maxQueued = 0;
    const stop = await watcher!.observe('/work/queue', 'children', (o) => {
      if (o.kind === 'children') maxQueued = Math.max(maxQueued, o.value?.children.length ?? 0);
    });
    const producers = clients.slice(0, 3).map((client, p) => (async () => {
      const queue = new DistributedQueue(client, '/work/queue', { capacity: 5 });
      for (let i = 0; i < 20; i++) await queue.put(Buffer.from(`p${p}-${i}`), { timeoutMs: WAIT_MS });
    })());
    const consumed: string[] = [];
    const done = new AbortController();
    const consumers = clients.slice(3).map((client) => (async () => {
      const queue = new DistributedQueue(client, '/work/queue', { capacity: 5 });
      for (let i = 0; i < 60 && consumed.length < 60; i++) {
        const item = await queue.take({ signal: done.signal }).catch((e: unknown) => {
          if (done.signal.aborted) return undefined;
          throw e;
        });
        if (item === undefined) return;
        consumed.push(item.data.toString());
        if (consumed.length === 60) done.abort();
      }
    })());
    await withTimeout(Promise.all([...producers, ...consumers]), WAIT_MS * 2, 'all items produced and consumed');
    stop();
    assert.equal(consumed.length, 60);
    assert.equal(new Set(consumed).size, 60, 'no item was consumed twice');
    for (let p = 0; p < 3; p++) {
      const mine = consumed.filter((s) => s.startsWith(`p${p}-`)).map((s) => Number(s.split('-')[1]));
      assert.equal(mine.length, 20);
    }
    assert.ok(maxQueued <= 5, `at most 5 items were queued (saw ${maxQueued})`);
    assert.equal(await new DistributedQueue(watcher!, '/work/queue').size(), 0);
  });

  test('a single consumer takes items in put order', async () => {
    const h = await harness();
    const [a, b] = await h.clientsOf(2);
    const producer = new DistributedQueue(a!, '/fifo');
    for (const word of ['one', 'two', 'three', 'four']) await producer.put(Buffer.from(word));
    const consumer = new DistributedQueue(b!, '/fifo');
    const taken: string[] = [];
    for (let i = 0; i < 4; i++) taken.push((await consumer.take({ timeoutMs: WAIT_MS })).data.toString());
    assert.deepEqual(taken, ['one', 'two', 'three', 'four']);
    assert.equal(await consumer.poll(), null);
  });

  test('put waits while full and resumes when a take makes room; bounded waits time out', async () => {
    const h = await harness();
    const [a, b] = await h.clientsOf(2);
    const queue = new DistributedQueue(a!, '/full', { capacity: 2 });
    await queue.put(Buffer.from('x'));
    await queue.put(Buffer.from('y'));
    await assert.rejects(queue.put(Buffer.from('late'), { timeoutMs: 100 }), RecipeTimeoutError);
    assert.equal(await queue.size(), 2, 'a timed-out put enqueued nothing');
    let putDone = false;
    const blocked = queue.put(Buffer.from('z'), { timeoutMs: WAIT_MS }).then((path) => {
      putDone = true;
      return path;
    });
    await b!.sync('/');
    await a!.sync('/');
    assert.equal(putDone, false, 'the put waits while the queue is full');
    const consumer = new DistributedQueue(b!, '/full', { capacity: 2 });
    assert.equal((await consumer.take()).data.toString(), 'x');
    await withTimeout(blocked, WAIT_MS, 'the blocked put');
    await withTimeout(childCount(b!, '/full', 2), WAIT_MS, 'two items queued');
    assert.equal((await consumer.take()).data.toString(), 'y');
    assert.equal((await consumer.take()).data.toString(), 'z');
    await assert.rejects(consumer.take({ timeoutMs: 100 }), RecipeTimeoutError);
    const controller = new AbortController();
    const waiting = consumer.take({ signal: controller.signal });
    controller.abort(new Error('no more work'));
    await assert.rejects(waiting, /no more work/);
    // An abort racing a take never drops an item: it is either returned or still queued.
    await queue.put(Buffer.from('kept'));
    const racing = new AbortController();
    const raced = consumer.take({ signal: racing.signal });
    await b!.sync('/');
    racing.abort(new Error('late'));
    const outcome = await raced.then((item) => item.data.toString(), () => 'rejected');
    const left = await consumer.size();
    assert.ok((outcome === 'kept' && left === 0) || (outcome === 'rejected' && left === 1), `${outcome}, ${left} left`);
  });
});
