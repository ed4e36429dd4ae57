/**
 * Once per scheduled fire (`@LeaderOnly(group, { oncePerFire: true })` on a `@Cron` method).
 *
 * A fire is named by the cron schedule's own time, not by the instance's clock reading: the
 * scheduled time nearest after "now minus a tolerance" (`CronTime.getNextDateFrom`), so two
 * instances whose timers fire for the same scheduled time (a hand-over, clock skew below the
 * tolerance) name it alike. Before the body runs, the fire is recorded in
 * `/zab/jobs/<group>/<job>` (the last fire time, decimal ms) by a versioned `setData`
 * (compare-and-set): only a fire later than the recorded one can be recorded, and only once,
 * so each fire runs at most once across the instances. The record is written before the run:
 * a crash mid-run loses that fire (at-most-once, not exactly-once).
 */
import type { CoordinationClient } from '../node/coordination-client.js';
import { createWithParents, isKeeperCode } from '../recipes/recipe-support.js';
import { checkName } from '../recipes/sequential-queue.js';
import { ErrorCode } from '../state/error-code.js';

export const JOBS_ROOT = '/zab/jobs';
const CLAIM_ATTEMPTS_MAX = 10;
const CATCH_UP_STEPS_MAX = 100_000;

/** The schedule of a `@Cron` method: what `cron`'s `CronTime` gives, reduced to one call. */
export interface FireSchedule {
  /** The first scheduled time strictly after `afterMs`. */
  nextAfter(afterMs: number): number;
}

/** @nestjs/schedule's `@Cron` metadata (key `SCHEDULE_CRON_OPTIONS`). */
interface CronOptions {
  cronTime: string | Date | { toJSDate(): Date };
  timeZone?: string;
  utcOffset?: number;
  name?: string;
}

export const SCHEDULE_CRON_OPTIONS = 'SCHEDULE_CRON_OPTIONS';

/** The cron options of a method, if it carries `@Cron`. */
export function cronOptionsOf(method: object): CronOptions | undefined {
  return Reflect.getMetadata(SCHEDULE_CRON_OPTIONS, method) as CronOptions | undefined;
}

/**
 * The schedule of a `@Cron` method, from the `cron` package @nestjs/schedule runs it with
 * (imported only when a method asks for once-per-fire, so the library does not need it).
 */
export async function fireScheduleOf(options: CronOptions): Promise<FireSchedule> {
  const { CronTime } = await import('cron');
  const source = typeof options.cronTime === 'string' || options.cronTime instanceof Date
    ? options.cronTime : options.cronTime.toJSDate();
  const time = options.utcOffset !== undefined
    ? new CronTime(source, null, options.utcOffset)
    : new CronTime(source, options.timeZone ?? null);
  return { nextAfter: (afterMs) => time.getNextDateFrom(new Date(afterMs)).toMillis() };
}

/** The scheduled time a timer firing at `nowMs` stands for. */
export function fireTimeOf(schedule: FireSchedule, nowMs: number, toleranceMs: number): number {
  return schedule.nextAfter(nowMs - toleranceMs - 1);
}

/** Half the gap between the next two fires, at most one second: the default tolerance. */
export function defaultToleranceMs(schedule: FireSchedule, nowMs: number): number {
  const first = schedule.nextAfter(nowMs);
  return Math.min(1000, Math.floor((schedule.nextAfter(first) - first) / 2));
}

/**
 * The latest scheduled time after `lastMs` and at or before `nowMs`, if one was missed
 * (bounded walk; with more steps the latest found is given).
 */
export function latestMissed(schedule: FireSchedule, lastMs: number, nowMs: number): number | undefined {
  let missed: number | undefined;
  let next = schedule.nextAfter(lastMs);
  for (let step = 0; step < CATCH_UP_STEPS_MAX && next <= nowMs; step++) {
    missed = next;
    next = schedule.nextAfter(next);
  }
  return missed;
}

export function jobPath(group: string, job: string): string {
  return `${JOBS_ROOT}/${checkName('job group', group)}/${checkName('job name', job)}`;
}

/** The last recorded fire time of a job, or undefined if none. */
export async function lastFire(client: CoordinationClient, path: string): Promise<number | undefined> {
  try {
    return parseFire((await client.getData(path)).data);
  } catch (error) {
    if (isKeeperCode(error, ErrorCode.NoNode)) return undefined;
    throw error;
  }
}

/**
 * Records `fireTimeMs` as the job's last fire unless a fire at or after it is recorded:
 * true when this call recorded it (its holder runs the fire), false when it ran elsewhere.
 */
export async function claimFire(client: CoordinationClient, path: string, fireTimeMs: number): Promise<boolean> {
  const data = Buffer.from(String(fireTimeMs));
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS_MAX; attempt++) {
    let current: { data: Buffer; stat: { version: number } };
    try {
      current = await client.getData(path);
    } catch (error) {
      if (!isKeeperCode(error, ErrorCode.NoNode)) throw error;
      if (await createdFirst(client, path, data)) return true;
      continue;
    }
    const last = parseFire(current.data);
    if (last !== undefined && last >= fireTimeMs) return false;
    try {
      await client.setData(path, data, current.stat.version);
      return true;
    } catch (error) {
      if (!isKeeperCode(error, ErrorCode.BadVersion)) throw error;
    }
  }
  // Every attempt lost a race: others keep recording fires, this one is not ours to run.
  return false;
}

async function createdFirst(client: CoordinationClient, path: string, data: Buffer): Promise<boolean> {
  try {
    await createWithParents(client, path, data, { mode: 'persistent' });
    return true;
  } catch (error) {
    if (isKeeperCode(error, ErrorCode.NodeExists)) return false;
    throw error;
  }
}

function parseFire(data: Buffer): number | undefined {
  const text = data.toString('utf8');
  return /^\d+$/.test(text) ? Number(text) : undefined;
}
