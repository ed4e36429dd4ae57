/**
 * Goal: @WithReadLock / @WithWriteLock and @WithSemaphore on a Nest application: readers
 * overlap, a writer runs alone (and queued writers go before later readers), a semaphore of n
 * never runs more than n calls at once yet does run n; onBusy 'skip'/'throw' and waitMs give
 * undefined / LockTimeoutError; @Fence() and currentLock() give the fencing token; an
 * Observable-returning method holds its lease for the subscription; shutdown aborts a holder's
 * signal with LockLostError('shutdown') and deletes its node. Each check fails if the decorator
 * is made a no-op (the exclusion, the bound, the busy answers and the nodes all vanish).
 * Method: a real app through @nestjs/testing on a standalone in-memory replica; a second
 * session on the same replica plays "another instance" and watches the recipe nodes. Calls
 * hold their lock until the test opens a gate; every wait is on an event with a bounded
 * timeout (the recipe nodes are observed, never polled). A reentrant @WithLock of the same key
 * inside a read lock still takes its own mutex.
 */
import 'reflect-metadata';
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Injectable, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Observable } from 'rxjs';
import {
  currentLock,
  Fence,
  LocalCoordinationClient,
  LockLostError,
  LockTimeoutError,
  ReadWriteLock,
  Replica,
  RW_LOCKS_ROOT,
  SEMAPHORES_ROOT,
  WithReadLock,
  WithLock,
  WithSemaphore,
  WithWriteLock,
  ZAB_REPLICA,
  ZabModule,
  type LockContext,
} from '../libs/zab/src/index.js';
import { deferred, withTimeout } from '../libs/zab/src/testing/with-timeout.js';

/** Who is inside the guarded methods now, and the worst overlap seen. */
class Occupancy {
  readers = 0;
  writers = 0;
  permits = 0;
  maxPermits = 0;
  writerWithOthers = 0;
  readonly readersTogether = deferred<void>();
  readonly permitsTaken = deferred<void>();
}

@Injectable()
class Documents {
  occupancy = new Occupancy();

  @WithReadLock('doc', { waitMs: 10_000 })
  async read(gate: Promise<void>, @Fence() fence?: LockContext): Promise<LockContext> {
    this.occupancy.readers += 1;
    if (this.occupancy.writers > 0) this.occupancy.writerWithOthers += 1;
    if (this.occupancy.readers === 3) this.occupancy.readersTogether.resolve();
    try {
      await gate;
      return fence!;
    } finally {
      this.occupancy.readers -= 1;
    }
  }

  @WithWriteLock('doc', { waitMs: 10_000 })
  async write(gate: Promise<void>): Promise<LockContext> {
    this.occupancy.writers += 1;
    if (this.occupancy.writers > 1 || this.occupancy.readers > 0) this.occupancy.writerWithOthers += 1;
    try {
      await gate;
      return currentLock()!;
    } finally {
      this.occupancy.writers -= 1;
    }
  }

  @WithReadLock('doc', { onBusy: 'skip' })
  async readIfFree(): Promise<string> {
    return 'read';
  }

  @WithReadLock('doc', { onBusy: 'throw' })
  async readOrThrow(): Promise<string> {
    return 'read';
  }

  @WithWriteLock(['doc', 'index'], { waitMs: 100 })
  async writeBoth(): Promise<readonly string[]> {
    return currentLock()!.keys;
  }

  @WithReadLock('doc')
  async readThenLock(): Promise<string> {
    return this.lockedInside();
  }

  // A mutex is another lock than a read/write lock of the same key: reentrancy does not mix them.
  @WithLock('doc', { reentrant: true, waitMs: 10_000 })
  async lockedInside(): Promise<string> {
    return currentLock()!.recipe;
  }

  @WithSemaphore('pool', 2, { waitMs: 10_000 })
  async usePool(gate: Promise<void>): Promise<bigint> {
    this.occupancy.permits += 1;
    this.occupancy.maxPermits = Math.max(this.occupancy.maxPermits, this.occupancy.permits);
    if (this.occupancy.permits === 2) this.occupancy.permitsTaken.resolve();
    try {
      await gate;
      return currentLock()!.fencingToken;
    } finally {
      this.occupancy.permits -= 1;
    }
  }

  @WithSemaphore('pool', 2, { onBusy: 'skip' })
  async usePoolIfFree(): Promise<string> {
    return 'used';
  }

  @WithSemaphore((name: string) => `feed-${name}`, 1)
  feed(_name: string): Observable<number> {
    return new Observable<number>((subscriber) => subscriber.next(currentLock() === undefined ? -1 : 1));
  }

  @WithWriteLock('held-at-shutdown')
  async holdUntilAborted(entered: () => void): Promise<unknown> {
    const signal = currentLock()!.signal;
    entered();
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason)));
  }
}

@Module({ providers: [Documents] })
class DocumentsModule {}

const apps: INestApplication[] = [];
const sessions: LocalCoordinationClient[] = [];

afterEach(async () => {
  // Sessions first: the replica they live on closes with its app.
  for (const session of sessions.splice(0)) await session.close().catch(() => undefined);
  for (const app of apps.splice(0)) await app.close();
});

async function startApp(): Promise<{ app: INestApplication; docs: Documents; other: LocalCoordinationClient }> {
  const moduleRef = await Test.createTestingModule({
    imports: [ZabModule.forRoot({ isolation: 'main', dataDir: ':memory:' }), DocumentsModule],
  }).setLogger({ log() {}, warn() {}, error() {} }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  apps.push(app);
  const other = await LocalCoordinationClient.connect(app.get<Replica>(ZAB_REPLICA), 10_000);
  sessions.push(other);
  return { app, docs: app.get(Documents), other };
}

function gate(): { promise: Promise<void>; open: () => void } {
  const d = deferred<void>();
  return { promise: d.promise, open: () => d.resolve() };
}

/** Resolves once `path` has `count` children (an observation, no polling). */
function childCount(client: LocalCoordinationClient, path: string, count: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let stop: (() => void) | undefined;
    let done = false;
    client.observe(path, 'children', (o) => {
      if (done || o.kind !== 'children' || (o.value?.children.length ?? 0) !== count) return;
      done = true;
      stop?.();
      resolve();
    }).then((off) => {
      if (done) off();
      else stop = off;
    }, reject);
  });
}

test('@WithReadLock / @WithWriteLock: readers overlap, a writer runs alone, busy answers', async () => {
  const { docs, other } = await startApp();
  const docPath = `${RW_LOCKS_ROOT}/doc`;

  // Three readers are inside together (a mutex would never let the third in).
  const readGate = gate();
  const readers = [0, 1, 2].map(() => docs.read(readGate.promise));
  await withTimeout(docs.occupancy.readersTogether.promise, 10_000, 'three readers inside at once');
  // A writer queues behind them and waits; a later reader queues behind the writer (fair).
  const writeGate = gate();
  const writer = docs.write(writeGate.promise);
  await withTimeout(childCount(other, docPath, 4), 10_000, 'the writer queued behind the readers');
  assert.equal(docs.occupancy.writers, 0, 'the writer waits while readers hold the lock');
  assert.equal(await docs.readIfFree(), undefined, "a reader arriving after a queued writer is busy ('skip')");
  await assert.rejects(docs.readOrThrow(), (e: unknown) => e instanceof LockTimeoutError && e.waitMs === 0);
  readGate.open();
  const fences = await withTimeout(Promise.all(readers), 10_000, 'readers done');
  assert.equal(new Set(fences.map((fence) => fence.fencingToken)).size, 3, 'each reader has its own token');
  assert.ok(fences.every((fence) => typeof fence.fencingToken === 'bigint' && fence.keys[0] === 'doc' && fence.recipe === 'read'));

  await withTimeout(childCount(other, docPath, 1), 10_000, 'only the writer holds the lock');
  assert.equal(docs.occupancy.writers, 1);
  assert.equal(await docs.readIfFree(), undefined, 'readers are excluded while the writer holds');
  await assert.rejects(docs.writeBoth(), (e: unknown) => e instanceof LockTimeoutError && e.waitMs === 100);
  writeGate.open();
  const writeLock = await withTimeout(writer, 10_000, 'writer done');
  assert.equal(writeLock.recipe, 'write');
  assert.ok(fences.every((fence) => fence.fencingToken < writeLock.fencingToken), 'the writer came later: a larger token');
  assert.equal(docs.occupancy.writerWithOthers, 0, 'never a writer together with anyone');
  await withTimeout(childCount(other, docPath, 0), 10_000, 'every node released');
  assert.equal(await docs.readIfFree(), 'read');
  assert.deepEqual(await docs.writeBoth(), ['doc', 'index'], 'several keys, sorted');
  assert.equal(await docs.readThenLock(), 'mutex', 'a reentrant @WithLock inside a read lock takes its mutex');

  // Another instance's writer excludes this app's readers too.
  const foreign = await new ReadWriteLock(other, docPath).writeLock.acquire({ timeoutMs: 5000 });
  await assert.rejects(docs.readOrThrow(), LockTimeoutError);
  await foreign.release();
  assert.equal(await docs.readOrThrow(), 'read');
});

test('@WithSemaphore(key, 2): never more than 2 at once, 2 do run; skip when full; Observable holds a lease', async () => {
  const { docs, other } = await startApp();
  const poolGate = gate();
  const calls = [0, 1, 2, 3, 4, 5].map(() => docs.usePool(poolGate.promise));
  await withTimeout(docs.occupancy.permitsTaken.promise, 10_000, 'two calls inside');
  await withTimeout(childCount(other, `${SEMAPHORES_ROOT}/pool`, 6), 10_000, 'six callers queued');
  assert.equal(docs.occupancy.permits, 2, 'two calls inside, four waiting');
  assert.equal(await docs.usePoolIfFree(), undefined, "full: 'skip' returns undefined");
  poolGate.open();
  const tokens = await withTimeout(Promise.all(calls), 10_000, 'every call done');
  assert.equal(docs.occupancy.maxPermits, 2, 'never more than 2 at once');
  assert.equal(new Set(tokens).size, 6);
  await withTimeout(childCount(other, `${SEMAPHORES_ROOT}/pool`, 0), 10_000, 'every lease released');
  assert.equal(await docs.usePoolIfFree(), 'used');

  const first = deferred<number>();
  const subscription = docs.feed('a').subscribe((value) => first.resolve(value));
  assert.equal(await withTimeout(first.promise, 10_000, 'first value'), 1, 'the producer ran inside the lease');
  assert.equal((await other.getChildren(`${SEMAPHORES_ROOT}/feed-a`)).children.length, 1, 'lease held while subscribed');
  subscription.unsubscribe();
  await withTimeout(childCount(other, `${SEMAPHORES_ROOT}/feed-a`, 0), 10_000, 'lease released at unsubscribe');
});

test('shutdown aborts a held write lock with LockLostError and deletes its node', async () => {
  const { app, docs, other } = await startApp();
  const entered = deferred<void>();
  const running = docs.holdUntilAborted(() => entered.resolve());
  await withTimeout(entered.promise, 10_000, 'write lock taken');
  const path = `${RW_LOCKS_ROOT}/held-at-shutdown`;
  assert.equal((await other.getChildren(path)).children.length, 1);
  // Observed from before the close: the deletion commits while the replica still serves.
  const released = childCount(other, path, 0);
  apps.splice(apps.indexOf(app), 1);
  await app.close();
  const reason = await withTimeout(running, 10_000, 'the holder aborted at shutdown');
  assert.ok(reason instanceof LockLostError && reason.reason === 'shutdown');
  await withTimeout(released, 10_000, 'the write lock node deleted at shutdown');
});
