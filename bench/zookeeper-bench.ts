/**
 * `npm run bench -- --only zookeeper`: nestjs-zab and Apache ZooKeeper 3.8 side by side, under
 * the same load, in one run (issue 4 item 6).
 *
 * - nestjs-zab: 3 replica processes (bench/client-port-member.ts: durable `EnsembleReplica`,
 *   file storage, fdatasync before acks), each serving a client port on 127.0.0.1.
 * - Apache ZooKeeper 3.8 (Debian package): 3 `QuorumPeerMain` JVMs (testing/zookeeper-ensemble.ts)
 *   with ZooKeeper's default JVM flags (full JIT, default GC), forceSync=yes, dataDir under
 *   the same temp directory (same disk), tickTime 2000.
 * - Load: one separate process (bench/zookeeper-load.ts), 8 sessions (session i on server
 *   i mod 3) × 32 requests in flight, 100-byte values: writes = setData, reads = getData, each
 *   loop on its own znode. `--loader nzc` (default) drives it with node-zookeeper-client, its
 *   socket corked per event-loop turn (`--no-cork`: one write per request, as published);
 *   `--loader zab` with the project's own client (`RemoteCoordinationClient`, one per
 *   session); `--loader both` measures with each loader in the same run.
 *
 * Both ensembles run for the whole benchmark; the load alternates between them, and between
 * the loaders with `--loader both` (two warm-up rounds, not counted, then rounds in one order,
 * the next in the reverse order ...) so machine noise hits every pairing, and each figure is
 * the median over the rounds; one table per loader. Each measurement also reports the
 * servers' CPU time per operation (utime + stime of the 3 server processes, from /proc),
 * which shows what limits a system on a machine where the servers and the load generator
 * share the cores, and the load generator's own CPU time per operation (process.cpuUsage in
 * the loader around the timed loops), which shows what the client costs.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ZooKeeperEnsemble, freePorts } from '../libs/zab/src/testing/zookeeper-ensemble.js';
import type { LoaderName } from './zookeeper-load.js';

const CLIENTS = 8;
/** Rounds run before the measured ones: the JVMs' JIT (C2) needs a few seconds of load. */
const WARM_UP_ROUNDS = 2;
const IN_FLIGHT = 32;
/** ZooKeeper's own JVM defaults (zkServer.sh adds only -Xmx1000m). */
const ZOOKEEPER_JVM_OPTIONS = ['-Xmx1000m'];

/** A forked child answering `{ tag, result }` IPC messages; its ready message has tag 0. */
class Child {
  private readonly waiting = new Map<number, (result: Record<string, unknown>) => void>();
  private nextTag = 1;
  readonly ready: Promise<Record<string, unknown>>;

  constructor(readonly name: string, readonly process: ChildProcess) {
    this.ready = new Promise((resolve, reject) => {
      this.waiting.set(0, resolve);
      process.once('exit', (code, signal) => reject(new Error(`${name} exited: ${code ?? signal}`)));
    });
    this.ready.catch(() => undefined);
    process.on('message', (message: { tag: number; result: Record<string, unknown> }) => {
      const done = this.waiting.get(message.tag);
      this.waiting.delete(message.tag);
      done?.(message.result);
    });
  }

  async request(cmd: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown>> {
    const tag = this.nextTag++;
    const result = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(tag);
        reject(new Error(`${this.name}: ${String(cmd.cmd)} unanswered after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(tag, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.process.send({ ...cmd, tag });
    });
    if (typeof result.error === 'string') throw new Error(`${this.name}: ${result.error}`);
    return result;
  }

  /**
   * Closes the IPC channel (the child closes down and exits, writing its CPU profile when
   * it runs with --cpu-prof), then ends the process by its pid if it is still there after
   * `graceMs`.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.process.disconnect();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    })]);
    clearTimeout(timer);
    this.end();
  }

  /** Ends the process by its pid. */
  end(): void {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      try {
        process.kill(this.process.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

interface System {
  name: string;
  ports: number[];
  pids: number[];
  /** nestjs-zab only: reply frames sent and socket writes made since start. */
  stats?(): Promise<{ framesSent: number; socketWrites: number }>;
  stop(): Promise<void>;
}

function script(name: string): string {
  return fileURLToPath(new URL(`./${name}.js`, import.meta.url));
}

function profileArgv(cpuProfileDir: string | undefined): string[] {
  return cpuProfileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProfileDir];
}

async function startNestjsZab(root: string, zabTickMs: number, cpuProfileDir: string | undefined): Promise<System> {
  const peerPorts = await freePorts(3);
  const spec = peerPorts.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
  const members = [1, 2, 3].map((id) => new Child(`nestjs-zab member ${id}`, fork(script('client-port-member'),
    [String(id), spec, join(root, `zab-${id}`), String(zabTickMs)],
    { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: profileArgv(cpuProfileDir) })));
  const stop = async (): Promise<void> => {
    await Promise.all(members.map((member) => member.stop(5000)));
  };
  try {
    const hellos = await Promise.all(members.map((m) => m.ready));
    const deadline = performance.now() + 20_000;
    for (let i = 0; i < 2000 && performance.now() < deadline; i++) {
      const states = await Promise.all(members.map((m) => m.request({ cmd: 'status' }, 2000)));
      const leader = states[0]!.leader;
      if (typeof leader === 'number' && states.every((s) => s.established === true && s.leader === leader)) {
        return { name: 'nestjs-zab', ports: hellos.map((h) => h.clientPort as number),
          pids: members.map((m) => m.process.pid!), stop, stats: async () => {
            const all = await Promise.all(members.map((m) => m.request({ cmd: 'stats' }, 5000)));
            return { framesSent: all.reduce((sum, s) => sum + (s.framesSent as number), 0),
              socketWrites: all.reduce((sum, s) => sum + (s.socketWrites as number), 0) };
          } };
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('nestjs-zab: no agreed leader within 20 s');
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startZooKeeper(): Promise<System> {
  const ensemble = await ZooKeeperEnsemble.start({ tickMs: 2000, forceSync: true,
    jvmOptions: ZOOKEEPER_JVM_OPTIONS, startTimeoutMs: 90_000 });
  return { name: 'ZooKeeper 3.8', ports: [0, 1, 2].map((i) => ensemble.clientPort(i)),
    pids: ensemble.pids, stop: () => ensemble.stop() };
}

/** utime + stime in seconds of `pids` (Linux /proc; 100 ticks per second). */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / 100;
}

interface Measurement {
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  count: number;
  errors: number;
  /** Server CPU milliseconds per 1000 operations (all 3 server processes). */
  cpuMsPerKop: number;
  /** The load generator's CPU milliseconds per 1000 operations, over its timed loops. */
  loaderCpuMsPerKop: number;
  /** nestjs-zab only: reply frames per socket write on the client ports. */
  framesPerWrite?: number;
}

type Kind = 'writes' | 'reads';

async function measure(
  loader: Child,
  loaderName: LoaderName,
  system: System,
  kind: Kind,
  durationMs: number,
): Promise<Measurement> {
  const cpuBefore = cpuSeconds(system.pids);
  const sendsBefore = await system.stats?.();
  const result = await loader.request({ cmd: 'load', loader: loaderName, ports: system.ports, kind, durationMs,
    countMax: 2_000_000, clients: CLIENTS, inFlight: IN_FLIGHT }, durationMs + 60_000);
  const cpu = cpuSeconds(system.pids) - cpuBefore;
  const sendsAfter = await system.stats?.();
  const count = result.count as number;
  const measurement: Measurement = { ...(result as unknown as Measurement),
    cpuMsPerKop: count === 0 ? 0 : (cpu * 1000 * 1000) / count };
  if (sendsBefore !== undefined && sendsAfter !== undefined) {
    measurement.framesPerWrite = (sendsAfter.framesSent - sendsBefore.framesSent) /
      Math.max(1, sendsAfter.socketWrites - sendsBefore.socketWrites);
  }
  return measurement;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

type Results = Record<string, Record<Kind, Measurement[]>>;

function printTable(results: Results, names: [string, string]): void {
  const [zab, zk] = names;
  console.log(`| measure | ${zab} | ${zk} | ratio ${zab} / ${zk} |`);
  console.log('|---|---|---|---|');
  for (const kind of ['writes', 'reads'] as const) {
    const a = results[zab]![kind];
    const b = results[zk]![kind];
    const row = (label: string, pick: (m: Measurement) => number, digits: number): void => {
      const x = median(a.map(pick));
      const y = median(b.map(pick));
      console.log(`| ${kind} ${label} | ${x.toFixed(digits)} | ${y.toFixed(digits)} | ${(x / y).toFixed(2)} |`);
    };
    row('ops/s', (m) => m.opsPerSecond, 0);
    row('p50 ms', (m) => m.p50Ms, 2);
    row('p99 ms', (m) => m.p99Ms, 2);
    row('server CPU ms / 1000 ops', (m) => m.cpuMsPerKop, 0);
    row('load generator CPU ms / 1000 ops', (m) => m.loaderCpuMsPerKop, 0);
  }
  for (const name of names) {
    for (const kind of ['writes', 'reads'] as const) {
      const runs = results[name]![kind].map((m) => `${Math.round(m.opsPerSecond)}` +
        `${m.errors > 0 ? ` (${m.errors} errors)` : ''}`).join(', ');
      console.log(`  ${name} ${kind} per round: ${runs}`);
    }
  }
}

export interface ZookeeperBenchOptions {
  quick: boolean;
  zabTickMs: number;
  /** `--cpu-prof-dir DIR`: nestjs-zab members and the load generator write CPU profiles there. */
  cpuProfileDir?: string;
  /** `--systems nestjs-zab` (profiling): measure only these systems. */
  systems?: ReadonlySet<string>;
  /** `--kinds writes` (profiling): measure only these loads. */
  kinds?: ReadonlySet<string>;
  /** `--no-cork`: the load generator uses node-zookeeper-client as published (a write per request). */
  noCork?: boolean;
  /** `--loader nzc|zab|both`: the client(s) the load generator uses; default nzc. */
  loaders?: readonly LoaderName[];
}

const LOADER_LABELS: Record<LoaderName, string> = {
  nzc: 'node-zookeeper-client',
  zab: "nestjs-zab's RemoteCoordinationClient",
};

/** One measured pairing: a system under the load of one loader. */
interface Run {
  system: System;
  loader: LoaderName;
}

function logMeasurement(round: number, run: Run, kind: Kind, m: Measurement, loaders: number): void {
  const loader = loaders > 1 ? ` [${run.loader}]` : '';
  console.log(`  ${round <= 0 ? 'warm-up' : `round ${round}`} ${run.system.name}${loader} ${kind}: ` +
    `${Math.round(m.opsPerSecond)} ops/s, p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms, ` +
    `server CPU ${m.cpuMsPerKop.toFixed(0)} ms/1000 ops, load generator CPU ${m.loaderCpuMsPerKop.toFixed(0)} ms/1000 ops` +
    `${m.framesPerWrite === undefined ? '' : `, ${m.framesPerWrite.toFixed(1)} replies per socket write`}` +
    `${m.errors > 0 ? `, ${m.errors} errors` : ''}`);
}

export async function benchZookeeper(options: ZookeeperBenchOptions): Promise<void> {
  const rounds = options.quick ? 2 : 5;
  const durationMs = options.quick ? 1500 : 3000;
  const loaders = options.loaders ?? ['nzc'];
  const root = mkdtempSync(join(tmpdir(), 'zab-bench-zookeeper-'));
  const loader = new Child('load generator', fork(script('zookeeper-load'), options.noCork === true ? ['--no-cork'] : [],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: profileArgv(options.cpuProfileDir) }));
  const want = (name: string): boolean => options.systems === undefined || options.systems.has(name);
  const systems: System[] = [];
  try {
    await loader.ready;
    if (want('nestjs-zab')) systems.push(await startNestjsZab(root, options.zabTickMs, options.cpuProfileDir));
    if (want('zookeeper')) systems.push(await startZooKeeper());
    const results: Partial<Record<LoaderName, Results>> = {};
    for (const name of loaders) results[name] = {};
    for (const system of systems) {
      await loader.request({ cmd: 'prepare', ports: system.ports, keys: CLIENTS * IN_FLIGHT }, 60_000);
      for (const name of loaders) results[name]![system.name] = { writes: [], reads: [] };
    }
    const corked = loaders.includes('nzc') && options.noCork === true ? ' (node-zookeeper-client not corked)' : '';
    console.log(`nestjs-zab vs Apache ZooKeeper 3.8: 3 servers each, ${CLIENTS} clients x ${IN_FLIGHT} in flight, ` +
      `load generator ${loaders.map((name) => LOADER_LABELS[name]).join(' and ')}${corked}, ` +
      `100 B values, ${durationMs} ms per measurement, ${rounds} rounds after ${WARM_UP_ROUNDS} warm-up rounds`);
    const kinds = (['writes', 'reads'] as const).filter((kind) => options.kinds === undefined || options.kinds.has(kind));
    const runs: Run[] = loaders.flatMap((name) => systems.map((system) => ({ system, loader: name })));
    for (let round = 1 - WARM_UP_ROUNDS; round <= rounds; round++) {
      const order = round % 2 === 0 ? runs : [...runs].reverse();
      for (const run of order) {
        for (const kind of kinds) {
          const m = await measure(loader, run.loader, run.system, kind, durationMs);
          if (round > 0) results[run.loader]![run.system.name]![kind].push(m);
          logMeasurement(round, run, kind, m, loaders.length);
        }
      }
    }
    if (systems.length === 2 && kinds.length === 2) {
      for (const name of loaders) {
        console.log(`load generator: ${LOADER_LABELS[name]} (--loader ${name})`);
        printTable(results[name]!, [systems[0]!.name, systems[1]!.name]);
      }
    }
  } finally {
    for (const system of systems) await system.stop();
    await loader.stop(5000);
    rmSync(root, { recursive: true, force: true });
  }
}
