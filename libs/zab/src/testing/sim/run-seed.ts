/**
 * One simulation run from a seed (TigerBeetle VOPR style): the seed draws the cluster size and
 * timing, the fault rates and every fault; the run has a chaos phase (crashes, restarts,
 * partitions, loss, client writes at random) and a liveness phase (everything healed and
 * restarted, no loss: a leader must be established, a new write must commit everywhere, and
 * every replica must hold every acknowledged write). Safety checkers run after every step.
 * Replay: `npm run sim -- --seed N`.
 */
import type { PeerId, Zxid } from '../../core/ids.js';
import type { LoggedTxn } from '../../core/ready.js';
import { Prng } from './prng.js';
import { SimCluster, type SimOptions } from './sim-cluster.js';
import { describe, SafetyViolation } from './safety-checker.js';

export interface RunOptions {
  readonly chaosTicks?: number;
  readonly livenessTicksMax?: number;
  readonly verbose?: boolean;
}

export interface RunResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly configuration: string;
  readonly failure: string | undefined;
  readonly committed: number;
  readonly ticks: number;
  readonly replay: string;
  readonly trace: readonly string[];
  readonly stats: SimCluster['stats'];
}

interface FaultRates {
  crash: number;
  restart: number;
  partition: number;
  heal: number;
  /** A learner's link to its leader breaks and only the learner is told (spurious link-down). */
  linkDown: number;
  write: number;
}

export function drawOptions(random: Prng): { options: SimOptions; faults: FaultRates } {
  // The lease must outlast a heartbeat round trip to ever be valid: pings leave in the tick
  // phase of a step and arrive from the next step on, so the round trip is 2 × delay + 1.
  const delayTicksMax = random.between(0, 2);
  const leaseTicks = random.between(2 * delayTicksMax + 2, 2 * delayTicksMax + 4);
  // Lease safety needs leaseWait ≥ (lease + 1) / slowest clock rate (leader-phases.ts).
  const clockSlowdownMax = random.pick([0, 0, 0.1, 0.2]);
  const leaseWaitTicks = Math.ceil((leaseTicks + 1) / (1 - clockSlowdownMax)) +
    random.between(0, 1);
  const syncLimitTicks = leaseWaitTicks + random.between(0, 2);
  const options: SimOptions = {
    voters: random.chance(0.6) ? 3 : 5,
    observers: random.chance(0.25) ? 1 : 0,
    timing: {
      notificationTimeoutTicks: random.between(1, 3),
      notificationTimeoutMaxTicks: random.between(4, 16),
      finalizeWaitTicks: random.between(0, 2),
      initLimitTicks: random.between(syncLimitTicks + 2, syncLimitTicks + 10),
      syncLimitTicks,
      leaseTicks,
      leaseWaitTicks,
      diffTxnCountMax: random.pick([0, 2, 5, 50, 1000]),
      snapshotChunkBytes: random.pick([16, 100, 4096]),
      snapshotBytesMax: 1 << 20,
      pendingSyncsMax: 1000,
    },
    delayTicksMax,
    lossProbability: random.pick([0, 0, 0.01, 0.05]),
    crashInReadyProbability: random.pick([0, 0.002, 0.01]),
    useCodec: random.chance(0.5),
    fsyncDelayTicksMax: random.between(0, 2),
    clockSlowdownMax,
    lostNoticeDelayTicksMax: random.pick([0, 3, 10]),
    crashNoticeProbability: random.pick([0, 0.5, 1]),
  };
  const faults: FaultRates = {
    crash: random.pick([0, 0.005, 0.02]),
    restart: random.pick([0.02, 0.1]),
    partition: random.pick([0, 0.005, 0.02]),
    heal: random.pick([0.02, 0.1]),
    linkDown: random.pick([0, 0.01, 0.05]),
    write: random.pick([0.1, 0.3, 0.8]),
  };
  return { options, faults };
}

export function runSeed(seed: number, runOptions: RunOptions = {}): RunResult {
  const random = new Prng(seed);
  const { options, faults } = drawOptions(random.split());
  const configuration = JSON.stringify({ seed, ...options, faults });
  const cluster = new SimCluster(options, random.split());
  cluster.verbose = runOptions.verbose ?? false;
  const chaos = random.split();
  const chaosTicks = runOptions.chaosTicks ?? 250;
  const replay = `npm run sim -- --seed ${seed}`;
  let failure: string | undefined;
  try {
    for (let tick = 0; tick < chaosTicks; tick++) {
      injectFaults(cluster, chaos, faults);
      cluster.step();
    }
    failure = livenessPhase(cluster, chaos, runOptions.livenessTicksMax ?? 400);
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    failure = `${error.name}: ${error.message}`;
    if (!(error instanceof SafetyViolation)) failure += `\n${error.stack ?? ''}`;
  }
  return { seed, ok: failure === undefined, configuration, failure,
    committed: cluster.checker.committed.length, ticks: cluster.now, replay, trace: cluster.trace,
    stats: cluster.stats };
}

function injectFaults(cluster: SimCluster, random: Prng, faults: FaultRates): void {
  const ids = [...cluster.replicas.keys()];
  const alive = ids.filter((id) => cluster.replica(id).alive);
  const dead = ids.filter((id) => !cluster.replica(id).alive);
  if (random.chance(faults.crash) && alive.length > 0) cluster.crash(random.pick(alive));
  if (random.chance(faults.restart) && dead.length > 0) cluster.restart(random.pick(dead));
  if (random.chance(faults.partition)) {
    cluster.partitionOff(ids.filter(() => random.chance(0.4)));
  }
  if (random.chance(faults.heal)) cluster.heal();
  if (random.chance(faults.linkDown) && alive.length > 0) {
    const learner = cluster.replica(random.pick(alive)).peer;
    const leader = learner?.leader;
    if (learner !== undefined && leader !== undefined && leader !== learner.id) {
      cluster.linkDown(learner.id, leader);
    }
  }
  if (random.chance(faults.write) && alive.length > 0) cluster.write(random.pick(alive));
  if (random.chance(faults.write / 4) && alive.length > 0) cluster.sync(random.pick(alive));
}

/** Heal everything; a leader must be established and a fresh write must reach every replica. */
export function livenessPhase(cluster: SimCluster, random: Prng, ticksMax: number):
  string | undefined {
  cluster.heal();
  cluster.lossProbability = 0;
  cluster.crashInReadyProbability = 0;
  for (const id of cluster.replicas.keys()) cluster.restart(id);
  let writeAt: number | undefined;
  let target: LoggedTxn | undefined;
  let probeLeader: PeerId | undefined;
  for (let tick = 0; tick < ticksMax; tick++) {
    cluster.step();
    const leader = establishedLeader(cluster);
    if (leader === undefined) continue;
    // A probe proposed by a leader that lost leadership may be legitimately lost: probe again.
    if (leader !== probeLeader) target = undefined;
    if (target === undefined && cluster.write(leader)) {
      writeAt = cluster.now;
      probeLeader = leader;
      target = cluster.replica(leader).disk.log.at(-1);
    }
    if (target !== undefined && everyoneApplied(cluster, target.txn)) {
      return convergenceFailure(cluster, target.zxid);
    }
  }
  void random;
  const states = [...cluster.replicas.values()]
    .map((r) => r.peer?.describeState() ?? `${r.id} down`);
  return `liveness: after ${ticksMax} healed ticks ` + (writeAt === undefined
    ? 'no leader accepted a write'
    : `the write proposed at tick ${writeAt} did not reach every replica`) +
    `\n    ${states.join('\n    ')}`;
}

export function establishedLeader(cluster: SimCluster): PeerId | undefined {
  for (const replica of cluster.replicas.values()) {
    const peer = replica.peer;
    if (peer?.role === 'leading' && peer.isEstablished && peer.isLeaseValid()) {
      return replica.id;
    }
  }
  return undefined;
}

function everyoneApplied(cluster: SimCluster, txn: Buffer): boolean {
  for (const replica of cluster.replicas.values()) {
    if (!replica.applied.some((logged) => logged.txn.equals(txn))) return false;
  }
  return true;
}

/** Every replica applied every acknowledged write up to the new one. */
function convergenceFailure(cluster: SimCluster, through: Zxid): string | undefined {
  const committed = cluster.checker.committed.filter((logged) => logged.zxid <= through);
  for (const replica of cluster.replicas.values()) {
    for (const logged of committed) {
      if (!replica.applied.some((a) => a.zxid === logged.zxid && a.txn.equals(logged.txn))) {
        return `replica ${replica.id} lacks acknowledged ${describe(logged)} after convergence`;
      }
    }
  }
  return undefined;
}

export function formatResult(result: RunResult, withTrace: boolean): string {
  const lines = [`seed ${result.seed}: ${result.ok ? 'ok' : 'FAILED'} ` +
    `(${result.committed} committed, ${result.ticks} ticks)`, `  config ${result.configuration}`];
  if (!result.ok) {
    lines.push(`  failure: ${result.failure ?? ''}`, `  replay: ${result.replay}`);
    if (withTrace) lines.push(...result.trace.slice(-400).map((line) => `    ${line}`));
  }
  return lines.join('\n');
}
