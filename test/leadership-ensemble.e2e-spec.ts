/**
 * Goal: @LeaderOnly and @WithLock are safe on a 3-replica embedded ensemble: a leader-only
 * @Interval job (both decorator orders) runs only on the one leader while every instance's
 * timer fires; leadership of a group never overlaps, through a graceful close of the leader's
 * app (hand-over: its election node is gone before its scheduler stops) and through a crash of
 * the leader's replica (the successor waits for the session to expire); a lock contended
 * from the three apps never has two holders and its fencing tokens strictly increase across
 * holders; and a lock holder whose replica loses its quorum sees its signal abort
 * (connection `suspended`) while the session is still alive, with the replica on the app's
 * thread and in a worker thread (the suspension crosses the worker boundary).
 * Method: three Nest apps in this process through @nestjs/testing, each ZabModule.forRoot with
 * the same ensemble (isolation 'main', in-memory storage, peer ports reserved from the OS on
 * 127.0.0.1). All apps share one event loop, so "two leaders" and "two holders" are checked
 * exactly at each gain and each entry. Waits are on events with bounded timeouts.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Inject, Injectable, Module, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { Interval, ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  CoordinationService,
  ErrorCode,
  KeeperError,
  currentLeadership,
  currentLock,
  Fence,
  LeaderOnly,
  LockLostError,
  WithLock,
  ZAB_CLIENT,
  ZAB_REPLICA,
  ZabElections,
  ZabModule,
  type ConnectionState,
  type CoordinationClient,
  type EnsembleReplica,
  type WorkerReplicaHandle,
  type LockContext,
} from '../libs/zab/src/index.js';
import { reserveLoopbackPorts } from '../libs/zab/src/transport/tcp/tcp-peer-transport.test-support.js';
import { withTimeout } from '../libs/zab/src/testing/with-timeout.js';

/** Everything the apps report, checked in the one event loop they share. */
class Recorder {
  readonly elections = new Map<number, ZabElections>();
  readonly runs: Array<{ app: number; job: string }> = [];
  readonly fires = new Map<number, number>();
  /** Runs or gains that found another instance leading, and entries that found another holder. */
  violations: string[] = [];
  holders = 0;
  readonly tokens: bigint[] = [];
  readonly handOverSeen = new Map<number, boolean>();
  private readonly waiters = new Set<() => void>();

  leaders(group: string): number[] {
    return [...this.elections].filter(([, e]) => e.get(group)?.isLeader === true).map(([id]) => id);
  }

  changed(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Resolves when `ready()` holds (checked now and at every recorded change). */
  until(ready: () => boolean, ms: number, what: string): Promise<void> {
    return withTimeout(new Promise<void>((resolve) => {
      const check = (): void => {
        if (!ready()) return;
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
      check();
    }), ms, what);
  }
}
let recorder = new Recorder();

@Injectable()
class EnsembleJobs implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly id: number;
  constructor(
    @Inject(ZAB_REPLICA) replica: { options: { id: number } },
    @Inject(ZAB_CLIENT) private readonly client: CoordinationClient,
    private readonly elections: ZabElections,
  ) {
    this.id = replica.options.id;
    recorder.elections.set(this.id, elections); // before any job can run
  }

  /** The election of 'cron' was joined at onModuleInit; watch every gain from here on. */
  onApplicationBootstrap(): void {
    const check = (leading: boolean): void => {
      const leaders = recorder.leaders('cron');
      if (leading && leaders.length > 1) recorder.violations.push(`app ${this.id} gained while [${leaders.join(', ')}] led`);
      recorder.changed();
    };
    this.elections.get('cron')!.onLeadershipChange(check);
    check(this.elections.get('cron')!.isLeader);
  }

  @Interval(25)
  @LeaderOnly('cron')
  leaderFirst(): void {
    this.ran('leaderFirst');
  }

  @LeaderOnly('cron')
  @Interval(25)
  intervalFirst(): void {
    this.ran('intervalFirst');
  }

  @Interval(25)
  everyInstance(): void {
    recorder.fires.set(this.id, (recorder.fires.get(this.id) ?? 0) + 1);
    recorder.changed();
  }

  @WithLock('shared', { waitMs: 30_000 })
  async critical(@Fence() fence?: LockContext): Promise<void> {
    recorder.holders += 1;
    if (recorder.holders > 1) recorder.violations.push(`app ${this.id} entered with ${recorder.holders - 1} other holder(s)`);
    recorder.tokens.push(fence!.fencingToken);
    // A round trip through the ensemble while holding; a Zab leader change on a loaded machine
    // fails it with ConnectionLoss (ZooKeeper's semantics), which does not matter here.
    await this.client.sync('/').catch((error: unknown) => {
      if (!(error instanceof KeeperError && error.code === ErrorCode.ConnectionLoss)) throw error;
    });
    recorder.holders -= 1;
  }

  @WithLock('isolated')
  async holdUntilLost(entered: () => void): Promise<unknown> {
    const signal = currentLock()!.signal;
    entered();
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason)));
  }

  /** Runs after every onModuleDestroy (where elections hand over) and beside the scheduler's stop. */
  async beforeApplicationShutdown(): Promise<void> {
    const dir = '/zab/leader/cron';
    const ids = await Promise.all((await this.client.getChildren(dir)).children.map(
      async (name) => (await this.client.getData(`${dir}/${name}`)).data.toString()));
    recorder.handOverSeen.set(this.id, !ids.includes(String(this.id)));
  }

  private ran(job: string): void {
    const leaders = recorder.leaders('cron');
    if (leaders.length !== 1 || leaders[0] !== this.id || currentLeadership()?.group !== 'cron') {
      recorder.violations.push(`${job} ran on app ${this.id} while leaders were [${leaders.join(', ')}]`);
    }
    recorder.runs.push({ app: this.id, job });
    recorder.changed();
  }
}

@Module({ providers: [EnsembleJobs] })
class JobsModule {}

interface App {
  id: number;
  moduleRef: TestingModule;
  replica: EnsembleReplica | WorkerReplicaHandle;
  states: ConnectionState[];
}

async function startApps(isolation: 'main' | 'worker' = 'main'): Promise<Map<number, App>> {
  const ports = await reserveLoopbackPorts(3);
  const ensemble = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
  const started = await Promise.all([1, 2, 3].map(async (id): Promise<App> => {
    const moduleRef = await Test.createTestingModule({
      imports: [ScheduleModule.forRoot(), ZabModule.forRoot({ id, ensemble, isolation, dataDir: ':memory:',
        tickMs: 200, sessionTimeoutMs: 3_000, secret: 'leadership-ensemble' }), JobsModule],
    }).setLogger({ log() {}, warn() {}, error() {} }).compile();
    await moduleRef.init();
    const states: ConnectionState[] = [];
    moduleRef.get(CoordinationService).connection$.subscribe((state) => {
      states.push(state);
      recorder.changed();
    });
    return { id, moduleRef, replica: moduleRef.get<EnsembleReplica | WorkerReplicaHandle>(ZAB_REPLICA), states };
  }));
  return new Map(started.map((app) => [app.id, app]));
}

async function closeAll(apps: Map<number, App>): Promise<void> {
  // A replica without quorum cannot close its session through the ensemble: stop it first.
  await Promise.allSettled([...apps.values()].map(async (app) => {
    if (app.states.at(-1) === 'suspended') await app.replica.close();
    await app.moduleRef.close();
  }));
  recorder = new Recorder();
}

/**
 * Resolves once the holder is inside its lock; if taking the lock failed instead (`running`
 * settled first), rejects with that failure, so it is reported, never left unhandled.
 */
function lockTaken(inside: Promise<void>, running: Promise<unknown>): Promise<void> {
  const endedFirst = running.then((value) => {
    throw new Error(`the holder ended before taking the lock: ${String(value)}`);
  });
  endedFirst.catch(() => undefined); // the race below reports it when it matters
  return Promise.race([inside, endedFirst]);
}

function runsOf(app: number): number {
  return recorder.runs.filter((run) => run.app === app).length;
}

test('leader-only jobs run on the one leader; a graceful close hands leadership over first', async () => {
  const apps = await startApps();
  try {
    await recorder.until(() => recorder.leaders('cron').length === 1, 15_000, 'a leader of cron');
    const first = recorder.leaders('cron')[0]!;
    await recorder.until(() => {
      const jobs = new Set(recorder.runs.filter((r) => r.app === first).map((r) => r.job));
      return jobs.size === 2 && runsOf(first) >= 6 && [1, 2, 3].every((id) => (recorder.fires.get(id) ?? 0) >= 3);
    }, 15_000, 'both job orders running on the leader and every instance timer firing');
    assert.deepEqual([...new Set(recorder.runs.map((r) => r.app))], [first], 'only the leader ran the bodies');
    await apps.get(first)!.moduleRef.close();
    apps.delete(first);
    assert.equal(recorder.handOverSeen.get(first), true,
      'the election node was deleted before the scheduler stopped (onModuleDestroy first)');
    recorder.elections.delete(first);
    await recorder.until(() => recorder.leaders('cron').length === 1, 15_000, 'a successor leads');
    const second = recorder.leaders('cron')[0]!;
    assert.notEqual(second, first);
    const before = runsOf(second);
    await recorder.until(() => runsOf(second) >= before + 4, 15_000, 'the successor runs the jobs');
    assert.deepEqual(recorder.violations, []);
  } finally {
    await closeAll(apps);
  }
});

test("a crash of the leader's replica: it stops leading at once, the successor only after its session expires", async () => {
  const apps = await startApps();
  try {
    await recorder.until(() => recorder.leaders('cron').length === 1, 15_000, 'a leader of cron');
    const first = recorder.leaders('cron')[0]!;
    const crashed = apps.get(first)!;
    await crashed.replica.close(); // the replica dies under a running app
    assert.deepEqual(recorder.leaders('cron').filter((id) => id === first), [], 'no longer leads, at once');
    assert.equal(crashed.states.at(-1), 'lost');
    await recorder.until(() => recorder.leaders('cron').length === 1, 20_000, 'a successor after the session expired');
    const second = recorder.leaders('cron')[0]!;
    assert.notEqual(second, first);
    const crashedRuns = runsOf(first);
    const before = runsOf(second);
    await recorder.until(() => runsOf(second) >= before + 4, 15_000, 'the successor runs the jobs');
    assert.equal(runsOf(first), crashedRuns, 'the crashed instance ran nothing more');
    assert.deepEqual(recorder.violations, []);
  } finally {
    await closeAll(apps);
  }
});

test('a lock contended from three apps has one holder at a time and increasing tokens; quorum loss aborts a holder', async () => {
  const apps = await startApps();
  try {
    const rounds = 8;
    await withTimeout(Promise.all([...apps.values()].map(async (app) => {
      const jobs = app.moduleRef.get(EnsembleJobs);
      for (let round = 0; round < rounds; round += 1) await jobs.critical();
    })), 60_000, 'all contended rounds');
    assert.deepEqual(recorder.violations, []);
    assert.equal(recorder.tokens.length, 3 * rounds);
    for (let i = 1; i < recorder.tokens.length; i += 1) {
      assert.ok(recorder.tokens[i]! > recorder.tokens[i - 1]!, `token ${i} is larger than the one before`);
    }

    const holder = apps.get(1)!;
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const running = holder.moduleRef.get(EnsembleJobs).holdUntilLost(entered);
    await withTimeout(lockTaken(inside, running), 10_000, 'lock taken');
    await Promise.all([2, 3].map(async (id) => {
      await apps.get(id)!.moduleRef.close();
      apps.delete(id);
    }));
    const reason = await withTimeout(running, 10_000, 'the holder aborted when its replica lost quorum');
    assert.ok(reason instanceof LockLostError && reason.reason === 'suspended', String(reason));
    assert.equal(holder.states.at(-1), 'suspended');
    assert.equal(holder.moduleRef.get(ZAB_CLIENT).state, 'connected', 'the session itself is still alive');
  } finally {
    await closeAll(apps);
  }
});

test('replicas in worker threads: quorum loss suspends the session, ends leadership and aborts a holder', async () => {
  const apps = await startApps('worker');
  try {
    await recorder.until(() => recorder.leaders('cron').length === 1, 15_000, 'a leader of cron');
    const holder = apps.get(recorder.leaders('cron')[0]!)!;
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const running = holder.moduleRef.get(EnsembleJobs).holdUntilLost(entered);
    await withTimeout(lockTaken(inside, running), 10_000, 'lock taken');
    await Promise.all([...apps.keys()].filter((id) => id !== holder.id).map(async (id) => {
      await apps.get(id)!.moduleRef.close();
      apps.delete(id);
    }));
    const reason = await withTimeout(running, 10_000, 'the holder aborted when its replica lost quorum');
    assert.ok(reason instanceof LockLostError && reason.reason === 'suspended', String(reason));
    assert.equal(holder.states.at(-1), 'suspended');
    assert.deepEqual(recorder.leaders('cron'), [], 'the suspended instance no longer leads');
    assert.deepEqual(recorder.violations, []);
  } finally {
    await closeAll(apps);
  }
});
