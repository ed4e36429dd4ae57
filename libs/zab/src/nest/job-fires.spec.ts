/**
 * Goal: once-per-fire bookkeeping. A fire is named by the cron schedule, not the clock: timers
 * firing early, late or on a skewed clock within the tolerance name the same scheduled time;
 * missed fires are found (the latest) and bounded; concurrent claims of one fire by several
 * sessions record it exactly once, a stale (older) fire is refused, and the record is readable.
 * Method: the real `cron` CronTime (the package @nestjs/schedule runs jobs with) on fixed
 * instants, and claims through several sessions of a real in-memory Replica.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { recipeHarnesses } from '../recipes/recipe-harness.test-support.js';
import {
  claimFire, defaultToleranceMs, fireScheduleOf, fireTimeOf, jobPath, lastFire, latestMissed,
} from './job-fires.js';

const harness = recipeHarnesses();
const T = Date.UTC(2026, 0, 1, 12, 0, 5); // a whole second: a fire of '* * * * * *'

describe('job fires', () => {
  test('a fire is the scheduled time, whether the timer is early, late or on a skewed clock', async () => {
    const everySecond = await fireScheduleOf({ cronTime: '* * * * * *' });
    const toleranceMs = defaultToleranceMs(everySecond, T);
    assert.equal(toleranceMs, 500);
    for (const firedAtMs of [T - 3, T, T + 1, T + 250, T + 499]) {
      assert.equal(fireTimeOf(everySecond, firedAtMs, toleranceMs), T, `fired at T${firedAtMs - T >= 0 ? '+' : ''}${firedAtMs - T}`);
    }
    assert.equal(fireTimeOf(everySecond, T + 1000, toleranceMs), T + 1000, 'the next second is the next fire');
    const everyMinute = await fireScheduleOf({ cronTime: '0 * * * * *', timeZone: 'UTC' });
    assert.equal(defaultToleranceMs(everyMinute, T), 1000, 'capped at one second');
    const minute = Date.UTC(2026, 0, 1, 12, 1, 0);
    assert.equal(fireTimeOf(everyMinute, minute + 800, 1000), minute);
  });

  test('the latest missed fire after the recorded one, none when nothing was missed', async () => {
    const everySecond = await fireScheduleOf({ cronTime: '* * * * * *' });
    assert.equal(latestMissed(everySecond, T, T + 3500), T + 3000);
    assert.equal(latestMissed(everySecond, T, T + 999), undefined);
    assert.equal(latestMissed(everySecond, T, T + 1000), T + 1000);
  });

  test('concurrent claims of one fire record it once; older fires are refused', async () => {
    const h = await harness();
    const clients = await h.clientsOf(5);
    const path = jobPath('group', 'job');
    assert.equal(await lastFire(clients[0]!, path), undefined);
    const first = await Promise.all(clients.map((client) => claimFire(client, path, T)));
    assert.equal(first.filter(Boolean).length, 1, `one winner: ${first.join(', ')}`);
    const again = await Promise.all(clients.map((client) => claimFire(client, path, T)));
    assert.deepEqual(again, [false, false, false, false, false], 'a recorded fire is not run again');
    const next = await Promise.all(clients.map((client) => claimFire(client, path, T + 1000)));
    assert.equal(next.filter(Boolean).length, 1);
    assert.equal(await claimFire(clients[1]!, path, T), false, 'an older fire (a clock behind) is refused');
    assert.equal(await lastFire(clients[2]!, path), T + 1000);
    assert.throws(() => jobPath('a/b', 'job'), /job group/);
  });
});
