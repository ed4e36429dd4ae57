/**
 * Goal: `Semaphore` never lets more than `maxLeases` holders in at once (and does let that
 * many in), grants in arrival order, releases leases individually, takes several leases all
 * or none, bounds and aborts waits with typed errors, and frees an expired session's lease.
 * Method: a real in-memory Replica, one session per contender; holders count themselves
 * while their section spans committed writes (a control run without the semaphore exceeds
 * the limit, so the count can fail). Waits are on events, bounded by `withTimeout`.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { withTimeout } from '../testing/with-timeout.js';
import { BadArgumentsError } from '../state/keeper-error.js';
import { Semaphore } from './semaphore.js';
import { RecipeTimeoutError } from './recipe-errors.js';
import type { Lease } from './lease.js';
import { childCount, roundTrips, recipeHarnesses } from './recipe-harness.test-support.js';

const WAIT_MS = 20_000;
/** A harness per call, closed after each test. */
const harness = recipeHarnesses();

describe('Semaphore', () => {
  test('10 contenders, 3 leases: never more than 3 holders, and 3 reached (control exceeds 3)', async () => {
    const h = await harness();
    const clients = await h.clientsOf(10);
    await clients[0]!.create('/probe', Buffer.alloc(0));
    const run = async (withSemaphore: boolean): Promise<{ max: number; entries: number }> => {
      let inside = 0;
      let max = 0;
      let entries = 0;
      await Promise.all(clients.map(async (client) => {
        const semaphore = new Semaphore(client, '/sem', 3);
        for (let round = 0; round < 3; round++) {
          const lease = withSemaphore ? await semaphore.acquire({ timeoutMs: WAIT_MS }) : undefined;
          entries++;
          max = Math.max(max, ++inside);
          await roundTrips(client, '/probe');
          inside--;
          await lease?.release();
        }
      }));
      return { max, entries };
    };
    const control = await withTimeout(run(false), WAIT_MS, 'the control run');
    assert.ok(control.max > 3, `without the semaphore ${control.max} were inside at once`);
    const limited = await withTimeout(run(true), WAIT_MS * 2, 'the limited run');
    assert.equal(limited.entries, 30);
    assert.equal(limited.max, 3);
    assert.deepEqual(await new Semaphore(clients[0]!, '/sem', 3).participantNodes(), []);
  });

  test('leases are granted in arrival order and released individually', async () => {
    const h = await harness();
    const [a, b, c] = await h.clientsOf(3);
    const semaphore = new Semaphore(a!, '/fifo', 2);
    const [first, second] = await semaphore.acquireMany(2);
    const order: string[] = [];
    const wait = (name: string, client: typeof a): Promise<Lease> =>
      new Semaphore(client!, '/fifo', 2).acquire({ timeoutMs: WAIT_MS }).then((lease) => {
        order.push(name);
        return lease;
      });
    const waitB = wait('b', b);
    await withTimeout(childCount(a!, '/fifo', 3), WAIT_MS, 'b queued');
    const waitC = wait('c', c);
    await withTimeout(childCount(a!, '/fifo', 4), WAIT_MS, 'c queued');
    await second!.release();
    const leaseB = await withTimeout(waitB, WAIT_MS, 'b\'s lease');
    assert.deepEqual(order, ['b']);
    assert.equal(first!.isHeld, true, 'the other lease of a is still held');
    await first!.release();
    const leaseC = await withTimeout(waitC, WAIT_MS, 'c\'s lease');
    assert.deepEqual(order, ['b', 'c']);
    await Promise.all([leaseB.release(), leaseC.release()]);
  });

  test('acquireMany takes all or none; timeouts and aborts remove the queued nodes', async () => {
    const h = await harness();
    const [a, b] = await h.clientsOf(2);
    const held = await new Semaphore(a!, '/many', 3).acquire();
    const semaphore = new Semaphore(b!, '/many', 3);
    await assert.rejects(semaphore.acquireMany(3, { timeoutMs: 150 }), RecipeTimeoutError);
    assert.deepEqual(await semaphore.participantNodes(), [held.path], 'the two granted leases were returned');
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    await assert.rejects(semaphore.acquire({ signal: controller.signal }), /cancelled/);
    const early = new AbortController();
    const abortedAtOnce = semaphore.acquire({ signal: early.signal });
    early.abort(new Error('changed my mind'));
    await assert.rejects(abortedAtOnce, /changed my mind/);
    assert.deepEqual(await semaphore.participantNodes(), [held.path], 'an abort during the create leaves no orphan lease');
    await assert.rejects(semaphore.acquireMany(4), BadArgumentsError);
    assert.throws(() => new Semaphore(b!, '/many', 0), BadArgumentsError);
    const two = await semaphore.acquireMany(2, { timeoutMs: WAIT_MS });
    assert.equal((await semaphore.participantNodes()).length, 3);
    await Promise.all([...two, held].map((lease) => lease.release()));
  });

  test('an expired holder loses its lease (signal fires) and the waiter gets it', async () => {
    const h = await harness();
    const observer = await h.client();
    const holder = await h.expiringClient();
    const lease = await new Semaphore(holder.client, '/exp', 1).acquire();
    const next = new Semaphore(observer, '/exp', 1).acquire({ timeoutMs: WAIT_MS });
    await withTimeout(childCount(observer, '/exp', 2), WAIT_MS, 'the waiter queued');
    const aborted = new Promise((resolve) => lease.signal.addEventListener('abort', resolve));
    holder.letExpire();
    await withTimeout(aborted, WAIT_MS, 'the holder\'s signal');
    const taken = await withTimeout(next, WAIT_MS, 'the freed lease');
    await lease.release();
    assert.equal(taken.isHeld, true);
    await taken.release();
  });
});
