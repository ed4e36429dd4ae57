import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { isObservable, Observable, EMPTY, throwError } from 'rxjs';
import type { CoordinationClient } from '../node/coordination-client.js';
import { NotLeaderError } from '../recipes/lock-errors.js';
import {
  claimFire, cronOptionsOf, defaultToleranceMs, fireScheduleOf, fireTimeOf, jobPath, lastFire, latestMissed,
  type FireSchedule,
} from './job-fires.js';
import { runWithLeadership, type LockContext } from './coordination-context.js';
import { FENCE_PARAM_METADATA, LEADER_ONLY_METADATA, WITH_LOCK_METADATA } from './leadership.constants.js';
import type { LeaderOnlyMetadata } from './leader-only.decorator.js';
import type { WithLockMetadata } from './with-lock.decorator.js';
import { ZabElections } from './zab-elections.service.js';
import { ZabLocks } from './zab-locks.service.js';
import { ZAB_CLIENT } from './zab.constants.js';

type Method = (this: object, ...args: unknown[]) => unknown;

/** The services a wrapped method of one application instance uses. */
interface Runtime {
  elections: ZabElections;
  locks: ZabLocks;
  client: CoordinationClient;
}

/** A `@LeaderOnly({ oncePerFire })` method's schedule and record (see job-fires.ts). */
interface FireJob {
  path: string;
  schedule: FireSchedule;
  toleranceMs: number;
}
const FIRE_JOBS = new WeakMap<Method, FireJob>();
const logger = new Logger('CoordinationExplorer');

/**
 * Instances of every application in this process -> their runtime. A class's method is wrapped
 * once on its prototype; the wrapper finds the application of `this` here (several Nest
 * applications, e.g. in tests, share the classes).
 */
const RUNTIMES = new WeakMap<object, Runtime>();
const WRAPPED = Symbol('zab:wrapped');

interface MethodSpec {
  leaderOnly: LeaderOnlyMetadata | undefined;
  withLock: WithLockMetadata | undefined;
  fenceIndex: number | undefined;
  returnsObservable: boolean;
  isAsync: boolean;
}

/**
 * Finds the methods marked `@LeaderOnly` / `@WithLock` (the @nestjs/schedule pattern:
 * DiscoveryService + MetadataScanner) and wraps them on their class's prototype, copying every
 * reflect-metadata key, `name` and `length`, so other explorers (schedule, router,
 * microservices) that read the method still find its metadata and call the wrapper.
 *
 * Wrapping happens when this provider is constructed: Nest instantiates every provider before
 * any `onModuleInit`, and the router captures handlers before the hooks too, so the wrapper is
 * in place whichever module's `onModuleInit` (e.g. ScheduleExplorer's) runs first. At
 * `onModuleInit` the application's instances are bound to its runtime and the elections of the
 * `@LeaderOnly` groups are joined, before the scheduler starts its jobs at bootstrap.
 */
@Injectable()
export class CoordinationExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly elections: ZabElections,
    private readonly locks: ZabLocks,
    @Inject(ZAB_CLIENT) private readonly client: CoordinationClient,
  ) {
    this.forEachMarked((prototype, name) => wrapOnPrototype(prototype, name));
  }

  async onModuleInit(): Promise<void> {
    const runtime: Runtime = { elections: this.elections, locks: this.locks, client: this.client };
    const groups = new Map<string, LeaderOnlyMetadata>();
    const catchUps: Array<() => void> = [];
    for (const wrapper of this.wrappers()) {
      const instance: unknown = wrapper.instance;
      if (typeof instance !== 'object' || instance === null || !wrapper.isDependencyTreeStatic()) continue;
      const prototype: object = Object.getPrototypeOf(instance) as object;
      let marked = false;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const spec = specOf(prototype, name);
        if (spec === undefined) continue;
        marked = true;
        if (spec.leaderOnly !== undefined) groups.set(spec.leaderOnly.group, spec.leaderOnly);
        if (spec.leaderOnly?.oncePerFire === true) {
          const original = originalOf((prototype as Record<string, Method>)[name]!);
          const leaderOnly = spec.leaderOnly;
          FIRE_JOBS.set(original, await fireJobOf(prototype, name, original, leaderOnly));
          if (leaderOnly.misfire === 'runOnce') {
            catchUps.push(() => this.watchForMisfires(runtime, instance, original, spec));
          }
        }
      }
      if (marked) RUNTIMES.set(instance, runtime);
    }
    await Promise.all([...groups.values()].map((m) => this.elections.join(m.group, m.suspendedPolicy)));
    for (const start of catchUps) start();
  }

  /** Misfire 'runOnce': each time leadership is gained, run the latest fire missed, once. */
  private watchForMisfires(runtime: Runtime, self: object, original: Method, spec: MethodSpec): void {
    const election = this.elections.get(spec.leaderOnly!.group)!;
    const catchUp = (): void => {
      runMissedFire(runtime, self, original, spec).catch((error: unknown) => logger.error(
        `${original.name}: the missed fire failed: ${(error as Error).message}`));
    };
    election.onLeadershipChange((leading) => leading && catchUp());
    if (election.isLeader) catchUp();
  }

  private wrappers(): InstanceWrapper[] {
    return [...this.discovery.getControllers(), ...this.discovery.getProviders()];
  }

  private forEachMarked(visit: (prototype: object, name: string) => void): void {
    for (const wrapper of this.wrappers()) {
      const prototype = prototypeOf(wrapper);
      if (prototype === undefined) continue;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        if (specOf(prototype, name) !== undefined) visit(prototype, name);
      }
    }
  }
}

/** The prototype of a class provider or controller (factories have none we may wrap). */
function prototypeOf(wrapper: InstanceWrapper): object | undefined {
  const instance: unknown = wrapper.instance;
  if (typeof instance === 'object' && instance !== null) return Object.getPrototypeOf(instance) as object;
  const metatype = wrapper.metatype as { prototype?: unknown } | null;
  if (wrapper.isFactory || metatype === null || typeof metatype !== 'function') return undefined;
  return typeof metatype.prototype === 'object' && metatype.prototype !== null ? metatype.prototype : undefined;
}

function originalOf(method: Method): Method {
  return (method as Method & { [WRAPPED]?: Method })[WRAPPED] ?? method;
}

function specOf(prototype: object, name: string): MethodSpec | undefined {
  const method = (prototype as Record<string, unknown>)[name];
  if (typeof method !== 'function') return undefined;
  const target = originalOf(method as Method);
  const leaderOnly = Reflect.getMetadata(LEADER_ONLY_METADATA, target) as LeaderOnlyMetadata | undefined;
  const withLock = Reflect.getMetadata(WITH_LOCK_METADATA, target) as WithLockMetadata | undefined;
  if (leaderOnly === undefined && withLock === undefined) return undefined;
  return {
    leaderOnly,
    withLock,
    fenceIndex: Reflect.getMetadata(FENCE_PARAM_METADATA, prototype, name) as number | undefined,
    returnsObservable: Reflect.getMetadata('design:returntype', prototype, name) === Observable,
    isAsync: target.constructor.name === 'AsyncFunction',
  };
}

function wrapOnPrototype(prototype: object, name: string): void {
  const current = (prototype as Record<string, unknown>)[name] as Method;
  if (Object.prototype.hasOwnProperty.call(current, WRAPPED) &&
    Object.prototype.hasOwnProperty.call(prototype, name)) return;
  const original = originalOf(current);
  const spec = specOf(prototype, name)!;
  const wrapper = function (this: object, ...args: unknown[]): unknown {
    return invoke(RUNTIMES.get(this), this, original, args, spec);
  };
  for (const key of Reflect.getOwnMetadataKeys(original)) {
    Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, original), wrapper);
  }
  Object.defineProperty(wrapper, 'name', { value: original.name });
  Object.defineProperty(wrapper, 'length', { value: original.length });
  Object.defineProperty(wrapper, WRAPPED, { value: original });
  const descriptor = Object.getOwnPropertyDescriptor(prototype, name);
  Object.defineProperty(prototype, name, {
    value: wrapper,
    writable: descriptor?.writable ?? true,
    enumerable: descriptor?.enumerable ?? false,
    configurable: true,
  });
}

async function fireJobOf(prototype: object, name: string, original: Method, leaderOnly: LeaderOnlyMetadata): Promise<FireJob> {
  const className = (prototype.constructor as { name?: string }).name ?? 'Anonymous';
  const cron = cronOptionsOf(original);
  if (cron === undefined) {
    throw new Error(`${className}.${name}: @LeaderOnly({ oncePerFire }) needs @Cron (from @nestjs/schedule) on the method`);
  }
  const schedule = await fireScheduleOf(cron);
  const toleranceMs = leaderOnly.toleranceMs ?? defaultToleranceMs(schedule, Date.now());
  return { path: jobPath(leaderOnly.group, leaderOnly.job ?? cron.name ?? `${className}.${name}`), schedule, toleranceMs };
}

/** One call of a marked method: the leadership check outside, the lock inside. */
function invoke(runtime: Runtime | undefined, self: object, original: Method, args: unknown[], spec: MethodSpec): unknown {
  const { leaderOnly } = spec;
  if (leaderOnly === undefined) return invokeLocked(runtime, self, original, args, spec);
  const election = runtime?.elections.get(leaderOnly.group);
  const signal = election?.signal;
  if (election === undefined || !election.isLeader || signal === undefined) {
    return onFollower(leaderOnly, spec);
  }
  const fireJob = leaderOnly.oncePerFire ? FIRE_JOBS.get(original) : undefined;
  if (fireJob !== undefined && runtime !== undefined) {
    const fireTimeMs = fireTimeOf(fireJob.schedule, Date.now(), fireJob.toleranceMs);
    return runFire(runtime, self, original, args, spec, fireTimeMs);
  }
  return runWithLeadership({ group: leaderOnly.group, signal },
    () => invokeLocked(runtime, self, original, args, spec));
}

/** Records the fire (compare-and-set), then runs it; undefined when it ran elsewhere already. */
async function runFire(runtime: Runtime, self: object, original: Method, args: unknown[], spec: MethodSpec,
  fireTimeMs: number, missedFire = false): Promise<unknown> {
  const group = spec.leaderOnly!.group;
  if (!(await claimFire(runtime.client, FIRE_JOBS.get(original)!.path, fireTimeMs))) return undefined;
  const signal = runtime.elections.get(group)?.signal;
  // Leadership ended while recording: the fire is recorded and not run (at-most-once).
  if (signal === undefined || signal.aborted) return undefined;
  return await runWithLeadership({ group, signal, fireTime: new Date(fireTimeMs), missedFire },
    () => invokeLocked(runtime, self, original, args, spec));
}

/** The latest fire after the recorded one that no instance ran, run once (misfire 'runOnce'). */
async function runMissedFire(runtime: Runtime, self: object, original: Method, spec: MethodSpec): Promise<unknown> {
  const job = FIRE_JOBS.get(original)!;
  const last = await lastFire(runtime.client, job.path);
  if (last === undefined) return undefined;
  // A fire this instance's own timer also runs now is recorded once either way (compare-and-set).
  const missed = latestMissed(job.schedule, last, Date.now());
  if (missed === undefined) return undefined;
  return runFire(runtime, self, original, [], spec, missed, true);
}

function onFollower(leaderOnly: LeaderOnlyMetadata, spec: MethodSpec): unknown {
  if (leaderOnly.onFollower === 'skip') return spec.returnsObservable ? EMPTY : undefined;
  const error = new NotLeaderError(leaderOnly.group);
  if (spec.returnsObservable) return throwError(() => error);
  if (spec.isAsync || spec.withLock !== undefined) return Promise.reject(error);
  throw error;
}

function invokeLocked(runtime: Runtime | undefined, self: object, original: Method, args: unknown[], spec: MethodSpec): unknown {
  const { withLock } = spec;
  if (withLock === undefined) return original.apply(self, args);
  const withFence = (lock: LockContext): unknown[] => {
    if (spec.fenceIndex === undefined) return args;
    const copy = [...args];
    copy[spec.fenceIndex] = lock;
    return copy;
  };
  let keys: readonly string[];
  try {
    if (runtime === undefined) throw new Error(`${original.name}: @WithLock needs an initialised ZabModule application`);
    const spec0 = withLock.keys;
    const resolved = typeof spec0 === 'function' ? (spec0 as (...a: unknown[]) => string | readonly string[])(...args) : spec0;
    keys = typeof resolved === 'string' ? [resolved] : resolved;
  } catch (error) {
    return spec.returnsObservable ? throwError(() => error) : Promise.reject(error);
  }
  if (spec.returnsObservable) {
    return runtime.locks.observe(keys, { ...withLock.options, kind: withLock.kind }, (lock) => {
      const result = original.apply(self, withFence(lock));
      return isObservable(result) ? result : throwError(() => new Error(`${original.name} did not return an Observable`));
    });
  }
  return runtime.locks.run(keys, { ...withLock.options, kind: withLock.kind }, (lock) => original.apply(self, withFence(lock)));
}
