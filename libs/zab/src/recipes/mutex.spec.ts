/**
 * Goal: the Mutex recipe excludes, is fair, gives strictly increasing fencing tokens, takes
 * several keys without deadlock, times out with LockTimeoutError leaving nothing behind,
 * aborts the holder's signal when its session ends or its node is deleted, releases
 * idempotently (never throwing after a loss), and counts reentrant acquires when asked.
 * Method: real standalone Replica over memory storage with several in-process sessions;
 * holders are counted in one event loop, so an overlap is seen exactly when it happens. Waits
 * are on events with bounded timeouts.
 */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Replica } from '../node/replica.js';
import { LocalCoordinationClient } from '../node/local-client.js';
import { BadArgumentsError } from '../state/keeper-error.js';
import { withTimeout } from '../testing/with-timeout.js';
import { Mutex, LOCKS_ROOT, type LockLease } from './mutex.js';
import { LockLostError, LockTimeoutError } from './lock-errors.js';

const open: Replica[] = [];

async function start(clients: number, options: { tickMs?: number } = {}):
  Promise<{ replica: Replica; sessions: LocalCoordinationClient[] }> {
  const replica = await Replica.open({ dataDir: ':memory:', ...options });
  open.push(replica);
  const sessions = await Promise.all(
    Array.from({ length: clients }, () => LocalCoordinationClient.connect(replica, 10_000)));
  return { replica, sessions };
}

afterEach(async () => {
  for (const replica of open.splice(0)) await replica.close();
});

test('contending sessions never overlap and tokens strictly increase in grant order', async () => {
  const { sessions } = await start(3);
  let holders = 0;
  let overlaps = 0;
  const tokens: bigint[] = [];
  const rounds = 15;
  await withTimeout(Promise.all(sessions.map(async (client) => {
    for (let round = 0; round < rounds; round += 1) {
      const lease = await new Mutex(client, 'jobs').acquire({ waitMs: 10_000 });
      holders += 1;
      if (holders > 1) overlaps += 1;
      tokens.push(lease.fencingToken);
      await client.setData('/', Buffer.from(String(round))); // a real write while holding
      holders -= 1;
      await lease.release();
    }
  })), 60_000, 'all rounds');
  assert.equal(overlaps, 0);
  assert.equal(tokens.length, 3 * rounds);
  for (let i = 1; i < tokens.length; i += 1) assert.ok(tokens[i]! > tokens[i - 1]!, `token ${i} increases`);
  assert.deepEqual((await sessions[0]!.getChildren(`${LOCKS_ROOT}/jobs`)).children, []);
});

test('waiters are granted in arrival order (fair queue)', async () => {
  const { sessions } = await start(4);
  const first = await new Mutex(sessions[0]!, 'fair').acquire();
  const granted: number[] = [];
  const waiting: Array<Promise<void>> = [];
  for (const index of [1, 2, 3]) {
    const mutex = new Mutex(sessions[index]!, 'fair');
    waiting.push(mutex.acquire().then(async (lease) => {
      granted.push(index);
      await lease.release();
    }));
    // The next waiter joins only once this one's node is in the queue.
    await withTimeout(queueLength(sessions[0]!, 'fair', index + 1), 5000, `waiter ${index} queued`);
  }
  await first.release();
  await withTimeout(Promise.all(waiting), 10_000, 'waiters');
  assert.deepEqual(granted, [1, 2, 3]);
});

/** Resolves once the lock queue of `key` has `length` nodes (an observation, no polling). */
async function queueLength(client: LocalCoordinationClient, key: string, length: number): Promise<void> {
  let stop: (() => void) | undefined;
  await new Promise<void>((resolve) => {
    void client.observe(`${LOCKS_ROOT}/${key}`, 'children', (o) => {
      if (o.kind === 'children' && (o.value?.children.length ?? 0) >= length) resolve();
    }).then((off) => {
      stop = off;
    });
  });
  stop?.();
}

test('tryAcquire and waitMs time out with LockTimeoutError and leave no node behind', async () => {
  const { sessions: [a, b] } = await start(2);
  const held = await new Mutex(a!, 'busy').acquire();
  assert.equal(await new Mutex(b!, 'busy').tryAcquire(), undefined);
  const started = Date.now();
  await assert.rejects(new Mutex(b!, 'busy').acquire({ waitMs: 100 }), (error: unknown) =>
    error instanceof LockTimeoutError && error.waitMs === 100 && error.keys[0] === 'busy');
  assert.ok(Date.now() - started >= 90, 'waited about waitMs');
  assert.equal((await a!.getChildren(`${LOCKS_ROOT}/busy`)).children.length, 1);
  await held.release();
  const next = await new Mutex(b!, 'busy').tryAcquire();
  assert.ok(next !== undefined);
  assert.ok(next.fencingToken > held.fencingToken);
  await next.release();
});

test('an aborted wait rejects with the reason and dequeues', async () => {
  const { sessions: [a, b] } = await start(2);
  const held = await new Mutex(a!, 'abort').acquire();
  const controller = new AbortController();
  const waiting = new Mutex(b!, 'abort').acquire({ signal: controller.signal });
  await withTimeout(queueLength(a!, 'abort', 2), 5000, 'waiter queued');
  controller.abort(new Error('caller gave up'));
  await assert.rejects(waiting, /caller gave up/);
  assert.equal((await a!.getChildren(`${LOCKS_ROOT}/abort`)).children.length, 1);
  await held.release();
});

test('several keys in opposite orders never deadlock and exclude each other', async () => {
  const { sessions: [a, b] } = await start(2);
  let holders = 0;
  let overlaps = 0;
  const run = async (client: LocalCoordinationClient, keys: string[]): Promise<void> => {
    for (let round = 0; round < 10; round += 1) {
      const lease = await new Mutex(client, keys).acquire({ waitMs: 10_000 });
      holders += 1;
      if (holders > 1) overlaps += 1;
      assert.deepEqual([...lease.fencingTokens.keys()], ['x', 'y']);
      await client.sync('/');
      holders -= 1;
      await lease.release();
    }
  };
  await withTimeout(Promise.all([run(a!, ['x', 'y']), run(b!, ['y', 'x'])]), 30_000, 'no deadlock');
  assert.equal(overlaps, 0);
});

test('a session that expires aborts its holder with LockLostError; the next holder has a larger token', async () => {
  const { replica, sessions: [survivor] } = await start(1, { tickMs: 20 });
  const doomed = await LocalCoordinationClient.connect(replica, 300, { local: false });
  const lease = await new Mutex(doomed, 'expiring').acquire();
  const waiting = new Mutex(survivor!, 'expiring').acquire({ waitMs: 10_000 });
  const lost = new Promise<unknown>((resolve) => lease.signal.addEventListener('abort', () => resolve(lease.signal.reason)));
  const reason = await withTimeout(lost, 10_000, 'signal aborted at expiry');
  assert.ok(reason instanceof LockLostError && reason.reason === 'lost');
  const next = await withTimeout(waiting, 10_000, 'next holder');
  assert.ok(next.fencingToken > lease.fencingToken);
  await lease.release(); // late release after loss: no throw
  await lease.release();
  await next.release();
});

test('the lock node deleted by someone else aborts the holder with reason deleted', async () => {
  const { sessions: [a, operator] } = await start(2);
  const lease: LockLease = await new Mutex(a!, 'deleted').acquire();
  const lost = new Promise<unknown>((resolve) => lease.signal.addEventListener('abort', () => resolve(lease.signal.reason)));
  const [node] = (await operator!.getChildren(`${LOCKS_ROOT}/deleted`)).children;
  await operator!.delete(`${LOCKS_ROOT}/deleted/${node}`);
  const reason = await withTimeout(lost, 5000, 'signal aborted at deletion');
  assert.ok(reason instanceof LockLostError && reason.reason === 'deleted');
  await lease.release();
});

test('reentrant acquires count; the last release frees the lock; non-reentrant queues again', async () => {
  const { sessions: [a, b] } = await start(2);
  const mutex = new Mutex(a!, 're', { reentrant: true });
  const outer = await mutex.acquire();
  const inner = await withTimeout(mutex.acquire(), 2000, 'reentrant acquire returns at once');
  assert.equal(inner.fencingToken, outer.fencingToken);
  await inner.release();
  await inner.release(); // idempotent: does not count twice
  assert.equal(await new Mutex(b!, 're').tryAcquire(), undefined);
  await outer.release();
  const other = await new Mutex(b!, 're').tryAcquire();
  assert.ok(other !== undefined);
  const plain = new Mutex(b!, 're');
  assert.equal(await plain.tryAcquire(), undefined, 'a fresh non-reentrant mutex queues behind the holder');
  await other.release();
});

test('bad keys are rejected with BadArguments before anything is written', async () => {
  const { sessions: [a] } = await start(1);
  for (const key of ['', 'a/b', '..', 'x'.repeat(600)]) {
    assert.throws(() => new Mutex(a!, key), BadArgumentsError);
  }
  assert.throws(() => new Mutex(a!, []), BadArgumentsError);
});
