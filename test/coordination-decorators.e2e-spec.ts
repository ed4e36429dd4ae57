/**
 * Goal: the Nest coordination decorators on one application: @LeaderOnly composes with
 * @Interval in both decorator orders (the job still registers and fires, and the body runs only
 * while leading; 'skip' returns undefined and 'throw' rejects NotLeaderError while another
 * participant leads), LeaderOnlyGuard answers 403 on a follower over real HTTP, @WithLock
 * gives the lock through @Fence() and currentLock(), honours onBusy 'skip'/'throw' and waitMs,
 * reentrancy, lockAtLeastForMs, holds the lock for an Observable's subscription, and
 * shutdown hands leadership over and releases held locks (their signals abort).
 * Method: a real app through @nestjs/testing on a standalone in-memory replica (isolation
 * 'main'); a second session on the same replica plays "another instance". ScheduleModule is
 * imported BEFORE ZabModule, the order in which a wrap at onModuleInit would come too late.
 * Every wait is on an event with a bounded timeout.
 */
import 'reflect-metadata';
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Controller, Get, Injectable, Module, UseGuards } from '@nestjs/common';
import { Interval, ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import type { INestApplication } from '@nestjs/common';
import { Observable, firstValueFrom, toArray } from 'rxjs';
import {
  currentLeadership,
  currentLock,
  Fence,
  LeaderElection,
  LeaderOnly,
  LeaderOnlyGuard,
  LocalCoordinationClient,
  LOCKS_ROOT,
  Mutex,
  LockLostError,
  LockTimeoutError,
  NotLeaderError,
  Replica,
  WithLock,
  ZAB_REPLICA,
  ZabElections,
  ZabModule,
  type LockContext,
} from '../libs/zab/src/index.js';
import { deferred, withTimeout } from '../libs/zab/src/testing/with-timeout.js';

class Events {
  readonly runs = { leaderFirst: 0, intervalFirst: 0 };
  readonly fired = deferred<void>();
  note(kind: 'leaderFirst' | 'intervalFirst'): void {
    this.runs[kind] += 1;
    if (this.runs.leaderFirst >= 2 && this.runs.intervalFirst >= 2) this.fired.resolve();
  }
}
let events = new Events();

@Injectable()
class Jobs {
  holders = 0;
  overlaps = 0;

  // Order 1: @LeaderOnly applied first (decorators apply bottom-up), @Interval over it.
  @Interval(30)
  @LeaderOnly('ticks')
  leaderFirst(): void {
    assert.equal(currentLeadership()?.group, 'ticks');
    events.note('leaderFirst');
  }

  // Order 2: @Interval applied first, @LeaderOnly over it.
  @LeaderOnly('ticks')
  @Interval(30)
  intervalFirst(): void {
    events.note('intervalFirst');
  }

  @LeaderOnly('contested')
  async skipped(): Promise<string> {
    return 'ran';
  }

  @LeaderOnly('contested', { onFollower: 'throw' })
  async refused(): Promise<string> {
    return 'ran';
  }

  @WithLock('resource', { onBusy: 'wait', waitMs: 10_000 })
  async guarded(value: number, @Fence() fence?: LockContext): Promise<{ value: number; fence: LockContext; current: LockContext }> {
    this.holders += 1;
    if (this.holders > 1) this.overlaps += 1;
    await Promise.resolve();
    this.holders -= 1;
    return { value, fence: fence!, current: currentLock()! };
  }

  @WithLock((name: string) => `user-${name}`, { onBusy: 'skip' })
  async skipWhenBusy(_name: string): Promise<string> {
    return 'ran';
  }

  @WithLock('busy', { onBusy: 'throw' })
  async throwWhenBusy(): Promise<string> {
    return 'ran';
  }

  @WithLock('busy', { waitMs: 80 })
  async waitBriefly(): Promise<string> {
    return 'ran';
  }

  @WithLock('nested', { reentrant: true, waitMs: 5000 })
  async outer(): Promise<bigint[]> {
    return [currentLock()!.fencingToken, ...(await this.inner())];
  }

  @WithLock('nested', { reentrant: true, waitMs: 5000 })
  async inner(): Promise<bigint[]> {
    return [currentLock()!.fencingToken];
  }

  @WithLock('short', { lockAtLeastForMs: 300 })
  async brief(): Promise<number> {
    return Date.now();
  }

  @WithLock('stream')
  numbers(): Observable<number> {
    return new Observable<number>((subscriber) => {
      subscriber.next(currentLock() === undefined ? -1 : 1);
      subscriber.next(2);
      subscriber.complete();
    });
  }

  @WithLock('live')
  forever(): Observable<number> {
    return new Observable<number>((subscriber) => subscriber.next(1));
  }

  @WithLock('held-at-shutdown')
  async holdUntilAborted(entered: () => void): Promise<unknown> {
    const signal = currentLock()!.signal;
    entered();
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason)));
  }
}

@Controller('leader')
@LeaderOnly('http')
class LeaderController {
  @Get()
  @UseGuards(LeaderOnlyGuard)
  hello(): string {
    return 'from the leader';
  }
}

@Module({ providers: [Jobs], controllers: [LeaderController] })
class JobsModule {}

const apps: INestApplication[] = [];

afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  events = new Events();
});

async function startApp(): Promise<{ app: INestApplication; moduleRef: TestingModule; replica: Replica }> {
  const moduleRef = await Test.createTestingModule({
    imports: [ScheduleModule.forRoot(), ZabModule.forRoot({ isolation: 'main', dataDir: ':memory:' }), JobsModule],
  }).setLogger({ log() {}, warn() {}, error() {} }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  apps.push(app);
  return { app, moduleRef, replica: app.get<Replica>(ZAB_REPLICA) };
}

/** Another instance: a second session on the same replica. */
function otherInstance(replica: Replica): Promise<LocalCoordinationClient> {
  return LocalCoordinationClient.connect(replica, 10_000);
}

test('@LeaderOnly with @Interval fires in both decorator orders; followers skip or throw', async () => {
  const { app, replica } = await startApp();
  await withTimeout(events.fired.promise, 10_000, 'both interval jobs firing on the leader');
  const jobs = app.get(Jobs);
  const election = app.get(ZabElections).get('contested')!;
  assert.equal(election.isLeader, true, 'the app joined the group at init and leads it');
  assert.equal(await jobs.skipped(), 'ran');
  const other = await otherInstance(replica);
  const rival = new LeaderElection(other, 'contested', { participantId: 'rival' });
  await rival.start();
  // An operator deletes the app's node: the app stops leading and joins again behind the rival.
  const lost = new Promise<void>((resolve) => election.onLeadershipChange((leading) => !leading && resolve()));
  for (const node of (await other.getChildren('/zab/leader/contested')).children) {
    const path = `/zab/leader/contested/${node}`;
    if ((await other.getData(path)).data.toString() === '1') await other.delete(path);
  }
  await withTimeout(lost, 5000, 'the app stops leading');
  await withTimeout(new Promise<void>((resolve) => {
    if (rival.isLeader) resolve();
    rival.onLeadershipChange((leading) => leading && resolve());
  }), 5000, 'the rival leads');
  assert.equal(await jobs.skipped(), undefined);
  await assert.rejects(jobs.refused(), (error: unknown) => error instanceof NotLeaderError && error.group === 'contested');
  await rival.close();
  await withTimeout(new Promise<void>((resolve) => {
    if (election.isLeader) resolve();
    election.onLeadershipChange((leading) => leading && resolve());
  }), 5000, 'the app leads contested after the rival left');
  assert.equal(await jobs.skipped(), 'ran');
  assert.equal(await jobs.refused(), 'ran');
  // The wrapper keeps what other explorers read.
  assert.equal(Jobs.prototype.leaderFirst.name, 'leaderFirst');
  assert.equal(Jobs.prototype.guarded.length, 2);
});

test('LeaderOnlyGuard: 200 on the leader of the group, 403 while another instance leads it', async () => {
  const { app, replica } = await startApp();
  await app.listen(0, '127.0.0.1');
  const url = `${await app.getUrl()}/leader`.replace('[::1]', '127.0.0.1');
  const other = await otherInstance(replica);
  const rival = new LeaderElection(other, 'http', { participantId: 'rival' });
  await rival.start(); // joins before the guard's first use: the rival leads
  assert.equal((await fetch(url)).status, 403);
  await rival.close();
  const response = await fetch(url);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), 'from the leader');
});

test('@WithLock: fence and currentLock, mutual exclusion, onBusy, reentrancy, lockAtLeastForMs, Observable', async () => {
  const { app, replica } = await startApp();
  const jobs = app.get(Jobs);
  const results = await Promise.all([1, 2, 3, 4, 5].map((value) => jobs.guarded(value)));
  assert.equal(jobs.overlaps, 0);
  for (const result of results) {
    assert.equal(typeof result.fence.fencingToken, 'bigint');
    assert.equal(result.fence.fencingToken, result.current.fencingToken);
    assert.deepEqual(result.fence.keys, ['resource']);
  }
  const tokens = results.map((r) => r.fence.fencingToken);
  assert.equal(new Set(tokens).size, 5, 'each holder has its own token');
  assert.equal(currentLock(), undefined, 'nothing outside the call');

  const other = await otherInstance(replica);
  const busyUser = await new LockProbe(other, 'user-ann').hold();
  assert.equal(await jobs.skipWhenBusy('ann'), undefined);
  assert.equal(await jobs.skipWhenBusy('bob'), 'ran');
  await busyUser.release();
  const busy = await new LockProbe(other, 'busy').hold();
  await assert.rejects(jobs.throwWhenBusy(), (e: unknown) => e instanceof LockTimeoutError && e.waitMs === 0);
  await assert.rejects(jobs.waitBriefly(), (e: unknown) => e instanceof LockTimeoutError && e.waitMs === 80);
  await busy.release();
  assert.equal(await jobs.throwWhenBusy(), 'ran');

  const [outerToken, innerToken] = await withTimeout(jobs.outer(), 5000, 'reentrant nested call');
  assert.equal(outerToken, innerToken, 'the nested call runs under the same lock');

  const returnedAt = await jobs.brief();
  const probe = new LockProbe(other, 'short');
  assert.equal(await probe.tryHold(), undefined, 'still held right after the call returned');
  const freed = await withTimeout(probe.hold(), 5000, 'lock freed after lockAtLeastForMs');
  assert.ok(Date.now() - returnedAt >= 250, `held about 300 ms (got ${Date.now() - returnedAt})`);
  await freed.release();

  const stream = jobs.numbers();
  assert.deepEqual(await firstValueFrom(stream.pipe(toArray())), [1, 2]);
  await withTimeout(childCount(other, `${LOCKS_ROOT}/stream`, 0), 5000, 'released at completion');
  const subscription = jobs.forever().subscribe();
  await withTimeout(childCount(other, `${LOCKS_ROOT}/live`, 1), 5000, 'held while subscribed');
  assert.equal(await new LockProbe(other, 'live').tryHold(), undefined);
  subscription.unsubscribe();
  await withTimeout(childCount(other, `${LOCKS_ROOT}/live`, 0), 5000, 'released at unsubscribe');
});

test('shutdown aborts and releases held locks, and hands leadership over', async () => {
  const { app, replica } = await startApp();
  const jobs = app.get(Jobs);
  const entered = deferred<void>();
  const running = jobs.holdUntilAborted(() => entered.resolve());
  await withTimeout(entered.promise, 5000, 'lock taken');
  const election = app.get(ZabElections).get('ticks')!;
  assert.equal(election.isLeader, true);
  apps.splice(apps.indexOf(app), 1);
  const observer = await otherInstance(replica);
  const leaders: Array<{ id: string | undefined; serving: boolean }> = [];
  await LeaderElection.watchLeader(observer, 'ticks',
    (id) => leaders.push({ id, serving: replica.state === 'serving' }));
  const lockNodes: Array<{ count: number; serving: boolean }> = [];
  await observer.observe(`${LOCKS_ROOT}/held-at-shutdown`, 'children', (o) => {
    if (o.kind === 'children') lockNodes.push({ count: o.value?.children.length ?? 0, serving: replica.state === 'serving' });
  });
  await app.close();
  const reason = await withTimeout(running, 5000, 'the held lock aborted at shutdown');
  assert.ok(reason instanceof LockLostError && reason.reason === 'shutdown');
  assert.equal(election.isLeader, false);
  assert.deepEqual(leaders.at(0), { id: '1', serving: true });
  assert.deepEqual(leaders.at(1), { id: undefined, serving: true },
    'the election node was deleted while the replica still served (hand-over, not session end)');
  assert.deepEqual(lockNodes.slice(0, 2), [{ count: 1, serving: true }, { count: 0, serving: true }],
    'the lock node was deleted while the replica still served');
});

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

/** A lock taken by "another instance" through the recipe. */
class LockProbe {
  constructor(private readonly client: LocalCoordinationClient, private readonly key: string) {}
  async hold(): Promise<{ release: () => Promise<void> }> {
    return new Mutex(this.client, this.key).acquire({ waitMs: 5000 });
  }
  async tryHold(): Promise<{ release: () => Promise<void> } | undefined> {
    return new Mutex(this.client, this.key).tryAcquire();
  }
}
