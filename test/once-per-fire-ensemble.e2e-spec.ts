/**
 * Goal: on a 3-app ensemble, each fire of a `@Cron` + `@LeaderOnly({ oncePerFire: true })`
 * job runs once across the instances — including across a hand-over, when the next leader's
 * timer fires for times the old leader may already have run — and the job goes on after it.
 * Method: three Nest apps (ScheduleModule + ZabModule, isolation main, memory storage) on one
 * in-process ensemble; every run records its fire time in one map shared by the apps (one
 * process); the leader's app is closed mid-run. Waits are on recorded runs, bounded.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Inject, Injectable } from '@nestjs/common';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { currentLeadership, LeaderOnly, ZabModule } from '../libs/zab/src/index.js';
import { reserveLoopbackPorts } from '../libs/zab/src/transport/tcp/tcp-peer-transport.test-support.js';
import { withTimeout } from '../libs/zab/src/testing/with-timeout.js';

const APP_ID = 'APP_ID';
/** Fire time (ms) → the apps that ran it. */
const runs = new Map<number, number[]>();
const waiters = new Set<() => void>();

function untilRuns(count: number, ms: number, what: string): Promise<void> {
  return withTimeout(new Promise<void>((resolve) => {
    const check = (): void => {
      if (runs.size < count) return;
      waiters.delete(check);
      resolve();
    };
    waiters.add(check);
    check();
  }), ms, what);
}

@Injectable()
class Reports {
  constructor(@Inject(APP_ID) private readonly id: number) {}

  @Cron('* * * * * *')
  @LeaderOnly('fires', { oncePerFire: true, misfire: 'skip' })
  report(): void {
    const fireTime = Number(currentLeadership()!.fireTime);
    runs.set(fireTime, [...(runs.get(fireTime) ?? []), this.id]);
    for (const wake of [...waiters]) wake();
  }
}

async function startApp(id: number, ensemble: string): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [ScheduleModule.forRoot(), ZabModule.forRoot({ id, ensemble, isolation: 'main', dataDir: ':memory:',
      tickMs: 100, zabTickMs: 50, sessionTimeoutMs: 3_000, secret: 'once-per-fire-ensemble-0123456789' })],
    providers: [Reports, { provide: APP_ID, useValue: id }],
  }).setLogger({ log() {}, warn() {}, error() {} }).compile();
  await moduleRef.init();
  return moduleRef;
}

test('each cron fire runs once across three apps, across a hand-over', async () => {
  const ports = await reserveLoopbackPorts(3);
  const ensemble = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
  const apps = new Map<number, TestingModule>();
  try {
    const started = await Promise.all([1, 2, 3].map((id) => startApp(id, ensemble)));
    started.forEach((app, i) => apps.set(i + 1, app));
    await untilRuns(3, 15_000, 'three fires');
    const leader = runs.get([...runs.keys()].at(-1)!)!.at(-1)!;
    const before = runs.size;
    await apps.get(leader)!.close();
    apps.delete(leader);
    await untilRuns(before + 3, 20_000, 'three more fires after the hand-over');
    for (const [fireTime, by] of runs) {
      assert.equal(by.length, 1, `fire ${new Date(fireTime).toISOString()} ran on ${by.join(', ')}`);
      assert.equal(fireTime % 1000, 0, 'fire times are the schedule\'s whole seconds');
    }
    const after = [...runs.entries()].slice(before).map(([, by]) => by[0]);
    assert.ok(after.every((id) => id !== leader), 'the closed app runs nothing more');
  } finally {
    await Promise.allSettled([...apps.values()].map((app) => app.close()));
  }
});
