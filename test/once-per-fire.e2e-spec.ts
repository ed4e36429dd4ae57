/**
 * Goal: @LeaderOnly({ oncePerFire }) on an every-second @Cron job runs each scheduled fire at
 * most once across instances: the body sees the fire's scheduled time (whole seconds, not a
 * clock reading); a fire another instance already recorded (its timer, on a clock running
 * ahead, fired first) does not run here, and a stale instance cannot record a fire that ran
 * here; after a forced hand-over, misfire 'runOnce' runs exactly one of the fires missed while
 * another instance led (the latest), and misfire 'skip' runs none of them. No fire time runs twice.
 * Method: a real app (@nestjs/testing, ScheduleModule, a standalone in-memory replica); a
 * second session on the same replica plays the other instance: it records fires through the
 * same compare-and-set (claimFire) and takes leadership of the group by a LeaderElection after
 * the app's election node is deleted. A plain every-second @Cron heartbeat is the event that
 * fires passed; every wait is bounded.
 */
import 'reflect-metadata';
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Injectable, Module, type INestApplication } from '@nestjs/common';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import {
  currentLeadership,
  LeaderElection,
  LeaderOnly,
  LocalCoordinationClient,
  Replica,
  ZAB_REPLICA,
  ZabElections,
  ZabModule,
} from '../libs/zab/src/index.js';
import { claimFire, JOBS_ROOT } from '../libs/zab/src/nest/job-fires.js';
import { withTimeout } from '../libs/zab/src/testing/with-timeout.js';

/** Notes events and resolves waits on conditions over them (no polling). */
class Progress {
  readonly catchUpFires: number[] = [];
  readonly skipFires: number[] = [];
  readonly catchUpRaw: Array<number | undefined> = [];
  readonly missedRuns: number[] = [];
  heartbeats = 0;
  private readonly waiters: Array<{ check: () => boolean; resolve: () => void }> = [];

  note(): void {
    for (const waiter of [...this.waiters]) {
      if (!waiter.check()) continue;
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }

  until(check: () => boolean, ms: number, what: string): Promise<void> {
    if (check()) return Promise.resolve();
    return withTimeout(new Promise<void>((resolve) => this.waiters.push({ check, resolve })), ms, what);
  }
}
let progress = new Progress();

@Injectable()
class Reports {
  @Cron('* * * * * *', { name: 'report' })
  @LeaderOnly('cron', { oncePerFire: true, misfire: 'runOnce' })
  async report(): Promise<void> {
    const fireTime = currentLeadership()?.fireTime?.getTime();
    progress.catchUpRaw.push(fireTime);
    if (fireTime !== undefined) progress.catchUpFires.push(fireTime);
    if (currentLeadership()?.missedFire === true) progress.missedRuns.push(fireTime!);
    progress.note();
  }

  @LeaderOnly('cron', { oncePerFire: true, misfire: 'skip' })
  @Cron('* * * * * *', { name: 'digest' })
  async digest(): Promise<void> {
    const fireTime = currentLeadership()?.fireTime?.getTime();
    if (fireTime !== undefined) progress.skipFires.push(fireTime);
    progress.note();
  }

  @Cron('* * * * * *')
  heartbeat(): void {
    progress.heartbeats += 1;
    progress.note();
  }
}

@Module({ providers: [Reports] })
class ReportsModule {}

const apps: INestApplication[] = [];
const sessions: LocalCoordinationClient[] = [];

afterEach(async () => {
  for (const session of sessions.splice(0)) await session.close().catch(() => undefined);
  for (const app of apps.splice(0)) await app.close();
  progress = new Progress();
});

const last = (list: number[]): number => list[list.length - 1]!;
const isUnique = (list: number[]): boolean => new Set(list).size === list.length;

test('each cron fire runs at most once across instances; misfire runOnce runs one missed fire, skip none', async () => {
  const moduleRef = await Test.createTestingModule({
    imports: [ScheduleModule.forRoot(), ZabModule.forRoot({ isolation: 'main', dataDir: ':memory:' }), ReportsModule],
  }).setLogger({ log() {}, warn() {}, error() {} }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  apps.push(app);
  const other = await LocalCoordinationClient.connect(app.get<Replica>(ZAB_REPLICA), 10_000);
  sessions.push(other);
  const reportPath = `${JOBS_ROOT}/cron/report`;

  await progress.until(() => progress.catchUpFires.length >= 2, 15_000, 'two fires of the report');
  assert.ok(progress.catchUpRaw.every((t) => t !== undefined), 'every run knows its fire time');
  assert.ok(progress.catchUpFires.every((t) => t % 1000 === 0), `scheduled whole seconds: ${progress.catchUpFires.join(', ')}`);

  // The other instance, its clock running behind, cannot record a fire that ran here...
  assert.equal(await claimFire(other, reportPath, last(progress.catchUpFires)), false);
  // ...and with its clock ahead it records the next fires first: they do not run here.
  const ahead = [last(progress.catchUpFires) + 2000, last(progress.catchUpFires) + 3000];
  for (const fire of ahead) assert.equal(await claimFire(other, reportPath, fire), true, 'recorded ahead of the app');
  await progress.until(() => last(progress.catchUpFires) > ahead[1]!, 15_000, 'a report fire after the recorded ones');
  for (const fire of ahead) assert.ok(!progress.catchUpFires.includes(fire), `fire ${fire} ran on both instances`);

  // Forced hand-over: the other instance leads the group for at least two fires.
  const election = app.get(ZabElections).get('cron')!;
  const rival = new LeaderElection(other, 'cron', { participantId: 'rival' });
  await rival.start();
  const lost = new Promise<void>((resolve) => election.onLeadershipChange((leading) => !leading && resolve()));
  for (const node of (await other.getChildren('/zab/leader/cron')).children) {
    const path = `/zab/leader/cron/${node}`;
    if ((await other.getData(path)).data.toString() === '1') await other.delete(path);
  }
  await withTimeout(lost, 10_000, 'the app stops leading');
  const lastReport = last(progress.catchUpFires);
  const lastDigest = last(progress.skipFires);
  const beats = progress.heartbeats;
  await progress.until(() => progress.heartbeats >= beats + 3, 15_000, 'three fires while the rival leads');
  let regainedAtMs = 0;
  const regained = new Promise<void>((resolve) => election.onLeadershipChange((leading) => {
    if (!leading) return;
    regainedAtMs = Date.now();
    resolve();
  }));
  await rival.close();
  await withTimeout(regained, 10_000, 'the app leads again');
  await progress.until(() => last(progress.catchUpFires) > regainedAtMs && last(progress.skipFires) > regainedAtMs,
    15_000, 'both jobs fire after the hand-over');

  // 'runOnce': one make-up run, for the latest missed fire; the older missed ones are dropped.
  assert.equal(progress.missedRuns.length, 1, `one make-up run: ${progress.missedRuns.join(', ')}`);
  const madeUp = progress.missedRuns[0]!;
  assert.ok(madeUp >= lastReport + 2000, `the make-up run is for a fire missed during the hand-over (${madeUp}, last ${lastReport})`);
  assert.deepEqual(progress.catchUpFires.filter((t) => t > lastReport && t < madeUp), [], 'older missed fires dropped');
  // 'skip': no fire scheduled while the rival led ran (a timer up to the 500 ms tolerance late may run its own).
  const digestMissed = progress.skipFires.filter((t) => t > lastDigest && t < regainedAtMs - 500);
  assert.deepEqual(digestMissed, [], "'skip' ran no missed fire");
  assert.ok(isUnique(progress.catchUpFires) && isUnique(progress.skipFires), 'no fire time ran twice');
});
