/**
 * Goal: `ReadWriteLock` excludes writers from everyone and lets readers share, grants in
 * arrival order (a queued writer is not overtaken by later readers), downgrades but refuses
 * upgrades, bounds and aborts waits with typed errors and removes the queued node, and ties
 * ownership to the session: an expired holder's lease signal fires and its waiter moves on.
 * Method: a real in-memory Replica with one session per contender; critical sections span
 * committed writes and an `OverlapProbe` counts overlaps (a control run without the lock
 * shows the probe does see them). Every wait is on an event, bounded by `withTimeout`.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { withTimeout } from '../testing/with-timeout.js';
import { SessionExpiredError } from '../state/keeper-error.js';
import { ReadWriteLock } from './read-write-lock.js';
import { RecipeStateError, RecipeTimeoutError } from './recipe-errors.js';
import {
  childCount,
  OverlapProbe,
  recipeHarnesses,
  roundTrips,
} from './recipe-harness.test-support.js';

const WAIT_MS = 20_000;
/** A harness per call, closed after each test. */
const harness = recipeHarnesses();

describe('ReadWriteLock', () => {
  test('writers exclude everyone, readers share: no overlap among 8 contenders (control without lock overlaps)', async () => {
    const h = await harness();
    const clients = await h.clientsOf(8);
    await clients[0]!.create('/probe', Buffer.alloc(0));
    const run = async (withLock: boolean): Promise<OverlapProbe> => {
      const probe = new OverlapProbe();
      await Promise.all(clients.map(async (client, i) => {
        const lock = new ReadWriteLock(client, '/rw');
        for (let round = 0; round < 4; round++) {
          const kind = (i + round) % 3 === 0 ? 'exclusive' : 'shared';
          const side = kind === 'exclusive' ? lock.writeLock : lock.readLock;
          const lease = withLock ? await side.acquire({ timeoutMs: WAIT_MS }) : undefined;
          await probe.section(kind, () => roundTrips(client, '/probe'));
          await lease?.release();
        }
      }));
      return probe;
    };
    const control = await withTimeout(run(false), WAIT_MS, 'the unlocked control run');
    assert.ok(control.overlaps > 0, 'the probe sees overlaps when nothing locks');
    const locked = await withTimeout(run(true), WAIT_MS * 2, 'the locked run');
    assert.equal(locked.entries, 32);
    assert.equal(locked.overlaps, 0);
    assert.ok(locked.maxShared >= 2, `readers shared the lock (max ${locked.maxShared} at once)`);
    assert.deepEqual((await clients[0]!.getChildren('/rw')).children, []);
  });

  test('grants in arrival order: a queued writer is not overtaken by a later reader', async () => {
    const h = await harness();
    const [a, b, c, d] = await h.clientsOf(4);
    const first = await new ReadWriteLock(a!, '/fair').writeLock.acquire();
    const order: string[] = [];
    const queue = async (name: string, kind: 'read' | 'write', client: typeof a, queued: number) => {
      const lock = new ReadWriteLock(client!, '/fair');
      const pending = (kind === 'read' ? lock.readLock : lock.writeLock).acquire({ timeoutMs: WAIT_MS })
        .then((lease) => {
          order.push(name);
          return lease;
        });
      await withTimeout(childCount(a!, '/fair', queued), WAIT_MS, `${name} queued`);
      return { pending };
    };
    const reader1 = await queue('reader1', 'read', b, 2);
    const writer2 = await queue('writer2', 'write', c, 3);
    const reader2 = await queue('reader2', 'read', d, 4);
    assert.deepEqual(order, []);
    await first.release();
    const r1 = await withTimeout(reader1.pending, WAIT_MS, 'reader1');
    assert.deepEqual(order, ['reader1']);
    await r1.release();
    const w2 = await withTimeout(writer2.pending, WAIT_MS, 'writer2');
    assert.deepEqual(order, ['reader1', 'writer2'], 'reader2 waits behind the earlier writer');
    await w2.release();
    await (await withTimeout(reader2.pending, WAIT_MS, 'reader2')).release();
    assert.deepEqual(order, ['reader1', 'writer2', 'reader2']);
  });

  test('a writer may downgrade to a read lease; upgrading is refused', async () => {
    const h = await harness();
    const [a, b] = await h.clientsOf(2);
    const lock = new ReadWriteLock(a!, '/down');
    const write = await lock.writeLock.acquire();
    const read = await withTimeout(lock.readLock.acquire(), WAIT_MS, 'downgrade read lease');
    await write.release();
    const otherWriter = new ReadWriteLock(b!, '/down').writeLock.acquire({ timeoutMs: 200 });
    await assert.rejects(otherWriter, RecipeTimeoutError, 'the downgraded read lease still excludes writers');
    await assert.rejects(lock.writeLock.acquire(), RecipeStateError);
    const otherReader = await new ReadWriteLock(b!, '/down').readLock.acquire({ timeoutMs: WAIT_MS });
    await otherReader.release();
    await read.release();
  });

  test('a bounded wait times out, an aborted one rejects with the reason; both remove their node', async () => {
    const h = await harness();
    const [a, b] = await h.clientsOf(2);
    const held = await new ReadWriteLock(a!, '/busy').writeLock.acquire();
    const lock = new ReadWriteLock(b!, '/busy');
    await assert.rejects(lock.readLock.acquire({ timeoutMs: 100 }), (e: unknown) =>
      e instanceof RecipeTimeoutError && e.code === -7);
    assert.equal((await lock.participants()).length, 1);
    const controller = new AbortController();
    const waiting = lock.writeLock.acquire({ signal: controller.signal });
    await withTimeout(childCount(b!, '/busy', 2), WAIT_MS, 'the writer to queue');
    controller.abort(new Error('shutting down'));
    await assert.rejects(waiting, /shutting down/);
    assert.deepEqual((await lock.participants()).map((p) => p.path), [held.path]);
    const early = new AbortController();
    const abortedAtOnce = lock.readLock.acquire({ signal: early.signal });
    early.abort(new Error('changed my mind'));
    await assert.rejects(abortedAtOnce, /changed my mind/);
    assert.deepEqual((await lock.participants()).map((p) => p.path), [held.path],
      'an abort during the create leaves no orphan node');
    await held.release();
    await held.release();
  });

  test('session loss: the holder\'s signal fires, its waiter gets the lock, a lost waiter rejects', async () => {
    const h = await harness();
    const observer = await h.client();
    const holder = await h.expiringClient();
    const lease = await new ReadWriteLock(holder.client, '/lost').writeLock.acquire();
    const waiter = await h.expiringClient();
    const lostWaiter = new ReadWriteLock(waiter.client, '/lost').readLock.acquire();
    const next = new ReadWriteLock(observer, '/lost').writeLock.acquire({ timeoutMs: WAIT_MS });
    await withTimeout(childCount(observer, '/lost', 3), WAIT_MS, 'both waiters queued');
    const aborted = new Promise((resolve) => lease.signal.addEventListener('abort', resolve));
    waiter.letExpire();
    await assert.rejects(withTimeout(lostWaiter, WAIT_MS, 'the waiter to see its session end'), SessionExpiredError);
    holder.letExpire();
    await withTimeout(aborted, WAIT_MS, 'the holder\'s lease signal');
    assert.equal(lease.isHeld, false);
    assert.ok(lease.signal.reason instanceof SessionExpiredError);
    const taken = await withTimeout(next, WAIT_MS, 'the next writer');
    assert.ok(taken.fencingToken > lease.fencingToken, 'fencing tokens increase');
    await lease.release();
    await taken.release();
  });
});
