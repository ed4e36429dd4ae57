/**
 * `npm run bench`: in-process benchmarks of one durable embedded replica (issue 2 targets).
 *
 *   writes   durable creates/sets of 100-byte values, 256 in flight, through the in-process
 *            client (group commit over fdatasync): ops/s and p50/p99 latency
 *   reads    getData of 100-byte values through the in-process client, 256 in flight
 *   memory   bytes per znode beyond path and data for 1M znodes (heapUsed + arrayBuffers)
 *   restart  time to reopen a data directory holding 1M znodes (snapshot + log replay)
 *   worker   the same writes and reads with the replica in a worker thread (ZabModule's
 *            default isolation) next to the main-thread replica, in one run
 *   ensemble 3 durable replicas, each its own process (bench/ensemble-member.ts) over TCP on
 *            127.0.0.1: write throughput and p50/p99 through the client on the leader and on
 *            a follower
 *   failover 3 such processes: SIGKILL (and, separately, SIGSTOP) of the leader to the first
 *            write committed through a surviving replica; median of several runs
 *   zookeeper 3 nestjs-zab replica processes and 3 Apache ZooKeeper 3.8 JVMs side by side
 *            under one load over the client protocol (bench/zookeeper-bench.ts); only with
 *            `--only zookeeper` (needs Java and the Debian zookeeper package); `--loader
 *            nzc|zab|both` picks the load generator's client (node-zookeeper-client, the
 *            default, or the project's RemoteCoordinationClient, or each in turn)
 *
 * Each throughput figure is the median of several timed runs; every loop is bounded in count
 * and time. Flags: `--only writes,reads,memory,restart,worker,ensemble,failover`, `--quick`
 * (smaller sizes for a smoke run), `--zab-tick-ms N` (Zab tick of the ensemble members;
 * default: the replica default, 25). Run with `node --expose-gc` (npm run bench does) so
 * memory is measured after GC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { Replica } from '../libs/zab/src/node/replica.js';
import { REPLICA_DEFAULTS } from '../libs/zab/src/node/replica-options.js';
import { LocalCoordinationClient } from '../libs/zab/src/node/local-client.js';
import { DataTree } from '../libs/zab/src/state/data-tree.js';
import { WorkerReplicaHandle } from '../libs/zab/src/node/worker-host.js';
import type { CoordinationClient } from '../libs/zab/src/node/coordination-client.js';
import type { Txn } from '../libs/zab/src/state/txn.js';
import { OPEN_ACL_UNSAFE } from '../libs/zab/src/state/stat.js';
import { closedLoop } from './closed-loop.js';
import { benchZookeeper } from './zookeeper-bench.js';
import type { LoaderName } from './zookeeper-load.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? new Set(args[onlyIndex + 1]!.split(',')) : undefined;
const VALUE = Buffer.alloc(100, 0x61);
const IN_FLIGHT = 256;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}


function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('run with node --expose-gc');
  collect();
  collect();
}

function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `zab-bench-${name}-`));
}


async function benchWrites(): Promise<void> {
  const runs = quick ? 2 : 5;
  const results = [];
  for (let run = 0; run < runs; run++) {
    const dataDir = tempDir('writes');
    const replica = await Replica.open({ dataDir, pendingWritesMax: 100_000 });
    const client = await LocalCoordinationClient.connect(replica, 10_000);
    await client.create('/w', Buffer.alloc(0));
    const result = await closedLoop(
      (i) => (i % 2 === 0 ? client.create(`/w/n${i}`, VALUE) : client.setData('/w', VALUE)),
      quick ? 1000 : 3000,
      1_000_000,
    );
    results.push(result);
    await replica.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  report('durable writes (create/set, 100 B, 256 in flight)', results, 50_000);
}

async function benchReads(): Promise<void> {
  const runs = quick ? 2 : 5;
  const replica = await Replica.open({ dataDir: ':memory:' });
  const client = await LocalCoordinationClient.connect(replica, 10_000);
  await client.create('/r', Buffer.alloc(0));
  const keys = 10_000;
  await Promise.all(Array.from({ length: keys }, (_, i) => client.create(`/r/n${i}`, VALUE)));
  const results = [];
  for (let run = 0; run < runs; run++) {
    results.push(await closedLoop((i) => client.getData(`/r/n${i % keys}`), quick ? 1000 : 3000, 10_000_000));
  }
  await replica.close();
  report('reads (getData, 100 B, 256 in flight)', results, 500_000);
}

function report(
  name: string,
  results: Array<{ opsPerSecond: number; p50Ms: number; p99Ms: number; count: number;
    cpuUsPerWrite?: number }>,
  target: number,
): void {
  const ops = median(results.map((r) => r.opsPerSecond));
  const p50 = median(results.map((r) => r.p50Ms));
  const p99 = median(results.map((r) => r.p99Ms));
  const runs = results.map((r) => Math.round(r.opsPerSecond)).join(', ');
  console.log(`${name}`);
  console.log(`  median ${Math.round(ops)} ops/s (runs: ${runs}); p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`);
  const cpu = results.map((r) => r.cpuUsPerWrite).filter((c): c is number => c !== undefined);
  if (cpu.length > 0) {
    console.log(`  CPU of the 3 member processes per write: median ${median(cpu).toFixed(0)} µs ` +
      `(runs: ${cpu.map((c) => c.toFixed(0)).join(', ')})`);
  }
  console.log(`  target >= ${target} ops/s: ${ops >= target ? 'reached' : 'NOT reached'}`);
}

function createTxn(zxid: bigint, path: string, parentCVersion: number): Txn {
  return {
    header: { sessionId: 0n, cxid: 0, zxid, time: 1_700_000_000_000n + zxid },
    body: {
      type: 'create', path, data: Buffer.from(VALUE), acl: [...OPEN_ACL_UNSAFE], kind: 'persistent',
      ephemeralOwner: 0n, ttlMs: 0, parentCVersion,
    },
  };
}

/** 1M znodes in 1000 parents of 1000 children: `/bench/pNNN/cNNNNNNN` (about 20-byte paths). */
function populate(tree: DataTree, count: number): { pathBytes: number; dataBytes: number } {
  let zxid = tree.lastZxid;
  let pathBytes = 0;
  let dataBytes = 0;
  const create = (path: string): void => {
    const parent = path.slice(0, path.lastIndexOf('/')) || '/';
    tree.apply(createTxn(++zxid, path, tree.stat(parent)!.cversion + 1));
  };
  create('/bench');
  const parents = Math.ceil(count / 1000);
  for (let p = 0; p < parents; p++) create(`/bench/p${String(p).padStart(3, '0')}`);
  for (let i = 0; i < count; i++) {
    const path = `/bench/p${String(i % parents).padStart(3, '0')}/c${String(i).padStart(7, '0')}`;
    create(path);
    pathBytes += path.length;
    dataBytes += VALUE.length;
  }
  return { pathBytes, dataBytes };
}

function benchMemory(): void {
  const count = quick ? 100_000 : 1_000_000;
  gc();
  const before = process.memoryUsage();
  const tree = new DataTree();
  const { pathBytes, dataBytes } = populate(tree, count);
  gc();
  const after = process.memoryUsage();
  const used = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  const overhead = (used - pathBytes - dataBytes) / count;
  console.log(`memory for ${count} znodes (paths ${(pathBytes / count).toFixed(1)} B, data 100 B each)`);
  console.log(`  ${(used / count).toFixed(1)} B per znode in all; ${overhead.toFixed(1)} B beyond path and data`);
  console.log(`  target < 250 B: ${overhead < 250 ? 'reached' : 'NOT reached'} (nodes: ${tree.nodeCount})`);
}

async function benchRestart(): Promise<void> {
  const count = quick ? 100_000 : 1_000_000;
  const dataDir = tempDir('restart');
  const replica = await Replica.open({ dataDir, snapshotEveryTxns: Math.floor(count / 4), pendingWritesMax: 100_000 });
  const client = await LocalCoordinationClient.connect(replica, 10_000);
  await client.create('/bench', Buffer.alloc(0));
  const parents = Math.ceil(count / 1000);
  for (let p = 0; p < parents; p++) await client.create(`/bench/p${p}`, Buffer.alloc(0));
  const fill = await closedLoop((i) => client.create(`/bench/p${i % parents}/c${i}`, VALUE), 600_000, count);
  await client.close();
  await replica.close();
  console.log(`restart with ${fill.count + parents + 1} znodes written at ${Math.round(fill.opsPerSecond)} writes/s`);
  const times = [];
  for (let run = 0; run < (quick ? 2 : 3); run++) {
    gc();
    const started = performance.now();
    const reopened = await Replica.open({ dataDir, snapshotEveryTxns: Math.floor(count / 4) });
    times.push(performance.now() - started);
    if (run === 0) console.log(`  reopened with ${reopened.tree.nodeCount} znodes`);
    await reopened.close();
  }
  const ms = median(times);
  console.log(`  median ${(ms / 1000).toFixed(2)} s (runs: ${times.map((t) => (t / 1000).toFixed(2)).join(', ')} s)`);
  console.log(`  target < 5 s: ${ms < 5000 ? 'reached' : 'NOT reached'}`);
  rmSync(dataDir, { recursive: true, force: true });
}

/** Durable setData and getData of 256 nodes, main-thread and worker replicas side by side. */
async function benchWorker(): Promise<void> {
  const runs = quick ? 2 : 3;
  const results = { main: { writes: [] as number[], reads: [] as number[] },
    worker: { writes: [] as number[], reads: [] as number[] } };
  for (let run = 0; run < runs; run++) {
    for (const isolation of ['main', 'worker'] as const) {
      const dataDir = tempDir(`worker-${isolation}`);
      let client: CoordinationClient;
      let close: () => Promise<void>;
      if (isolation === 'main') {
        const replica = await Replica.open({ dataDir });
        client = await LocalCoordinationClient.connect(replica, 10_000);
        close = () => replica.close();
      } else {
        const handle = await WorkerReplicaHandle.open({ dataDir });
        client = await handle.connect(10_000);
        close = () => handle.close();
      }
      await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => client.create(`/k${i}`, VALUE)));
      const durationMs = quick ? 1000 : 2000;
      const writes = await closedLoop((i) => client.setData(`/k${i % IN_FLIGHT}`, VALUE), durationMs, 1_000_000);
      const reads = await closedLoop((i) => client.getData(`/k${i % IN_FLIGHT}`), durationMs, 10_000_000);
      results[isolation].writes.push(writes.opsPerSecond);
      results[isolation].reads.push(reads.opsPerSecond);
      await close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  console.log('replica on the main thread vs in a worker thread (setData/getData, 100 B, 256 in flight)');
  for (const kind of ['writes', 'reads'] as const) {
    const main = median(results.main[kind]);
    const worker = median(results.worker[kind]);
    console.log(`  ${kind}: main ${Math.round(main)} ops/s, worker ${Math.round(worker)} ops/s ` +
      `(worker/main ${(worker / main).toFixed(2)})`);
  }
}

// ---- ensemble benchmarks: one child process per replica ----

const MEMBER_SCRIPT = fileURLToPath(new URL('./ensemble-member.js', import.meta.url));
const zabTickIndex = args.indexOf('--zab-tick-ms');
/** Zab tick of the member processes: the default of `zabTickMs` unless `--zab-tick-ms N`. */
const ZAB_TICK_MS = zabTickIndex >= 0 ? Number(args[zabTickIndex + 1])
  : REPLICA_DEFAULTS.zabTickMs;
const cpuProfIndex = args.indexOf('--cpu-prof-dir');
/** `--cpu-prof-dir DIR`: members run with `node --cpu-prof` and end gracefully to write it. */
const CPU_PROF_DIR = cpuProfIndex >= 0 ? args[cpuProfIndex + 1] : undefined;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

class Member {
  private readonly waiting = new Map<number, (result: Record<string, unknown>) => void>();
  private nextTag = 1;
  readonly ready: Promise<void>;

  constructor(readonly id: number, readonly child: ChildProcess) {
    this.ready = new Promise((resolve, reject) => {
      this.waiting.set(0, () => resolve());
      child.once('exit', (code, signal) => reject(new Error(`member ${id} exited: ${code ?? signal}`)));
    });
    this.ready.catch(() => undefined);
    child.on('message', (message: { tag: number; result: Record<string, unknown> }) => {
      const done = this.waiting.get(message.tag);
      this.waiting.delete(message.tag);
      done?.(message.result);
    });
  }

  request(cmd: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown>> {
    const tag = this.nextTag++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(tag);
        reject(new Error(`member ${this.id}: ${String(cmd.cmd)} unanswered after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(tag, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
      this.child.send({ ...cmd, tag });
    });
  }

  /** Disconnects IPC (the member closes its replica and exits), SIGKILL after `timeoutMs`. */
  async endGracefully(timeoutMs: number): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.disconnect();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.end();
  }

  /** Ends the process by its pid (SIGKILL also ends a stopped one). */
  end(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try {
        process.kill(this.child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Starts 3 member processes with fresh temp dirs and waits for one agreed, established leader. */
async function startEnsemble(): Promise<{ members: Member[]; root: string; leader: Member }> {
  const root = tempDir('ensemble');
  const ports = [await freePort(), await freePort(), await freePort()];
  const spec = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
  const members = [1, 2, 3].map((id) => new Member(id, fork(MEMBER_SCRIPT,
    [String(id), spec, join(root, String(id)), String(ZAB_TICK_MS)],
    { stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      execArgv: CPU_PROF_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`] })));
  try {
    await Promise.all(members.map((m) => m.ready));
    const deadline = performance.now() + 15_000;
    for (let i = 0; i < 1500 && performance.now() < deadline; i++) {
      const states = await Promise.all(members.map((m) => m.request({ cmd: 'status' }, 2000)));
      const leaderId = states[0]!.leader;
      const agreed = states.every((s) => s.established === true && s.leader === leaderId);
      if (agreed && typeof leaderId === 'number') {
        return { members, root, leader: members[leaderId - 1]! };
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('no agreed leader within 15 s');
  } catch (error) {
    await stopEnsemble(members, root);
    throw error;
  }
}

async function stopEnsemble(members: Member[], root: string): Promise<void> {
  if (CPU_PROF_DIR !== undefined) await Promise.all(members.map((m) => m.endGracefully(10_000)));
  for (const member of members) member.end();
  rmSync(root, { recursive: true, force: true });
}

/** CPU time (user + system, µs) the member processes used so far, summed. */
async function ensembleCpuUs(members: Member[]): Promise<number> {
  const usages = await Promise.all(members.map((m) => m.request({ cmd: 'cpu' }, 10_000)));
  return usages.reduce((sum, u) => sum + Number(u.userUs) + Number(u.systemUs), 0);
}

/**
 * A run whose load fails (e.g. the leader stepped down after an event-loop stall on a busy
 * host: ConnectionLoss) is reported and replaced by a fresh ensemble, at most `runs` times.
 */
async function benchEnsemble(): Promise<void> {
  const runs = quick ? 2 : 5;
  type LoadResult = { opsPerSecond: number; p50Ms: number; p99Ms: number; count: number;
    cpuUsPerWrite?: number };
  const onLeader: LoadResult[] = [];
  const onFollower: LoadResult[] = [];
  let failures = 0;
  while (onFollower.length < runs && failures < runs) {
    const { members, root, leader } = await startEnsemble();
    try {
      const follower = members.find((m) => m !== leader)!;
      const durationMs = quick ? 1000 : 3000;
      const results: LoadResult[] = [];
      for (const target of [leader, follower]) {
        const cpuBefore = await ensembleCpuUs(members);
        const result = await target.request({ cmd: 'load', durationMs, countMax: 1_000_000 },
          durationMs + 30_000);
        if (typeof result.error === 'string') throw new Error(result.error);
        const cpuUs = (await ensembleCpuUs(members)) - cpuBefore;
        results.push({ ...(result as LoadResult), cpuUsPerWrite: cpuUs / (result as LoadResult).count });
      }
      onLeader.push(results[0]!);
      onFollower.push(results[1]!);
    } catch (error) {
      failures++;
      console.log(`  run failed (${failures} so far), retried on a fresh ensemble: ${String(error)}`);
    } finally {
      await stopEnsemble(members, root);
    }
  }
  if (onFollower.length === 0) throw new Error(`every ensemble run failed (${failures})`);
  report('3-replica durable writes on the leader (create/set, 100 B, 256 in flight)', onLeader, 20_000);
  report('3-replica durable writes on a follower (forwarded, 100 B, 256 in flight)', onFollower, 20_000);
}

async function failoverRun(signal: 'SIGKILL' | 'SIGSTOP'): Promise<number> {
  const { members, root, leader } = await startEnsemble();
  try {
    const survivor = members.find((m) => m !== leader)!;
    // Warm the path: a session and a committed write through the survivor first.
    const warm = await survivor.request({ cmd: 'writeUntilOk', timeoutMs: 5000 }, 10_000);
    if (warm.okAtMs === undefined) throw new Error(`warm-up write failed: ${String(warm.error)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const killedAt = wallMs();
    process.kill(leader.child.pid!, signal);
    const result = await survivor.request({ cmd: 'writeUntilOk', timeoutMs: 15_000 }, 20_000);
    if (typeof result.okAtMs !== 'number') {
      throw new Error(`no write after ${signal}: ${String(result.error)}`);
    }
    return result.okAtMs - killedAt;
  } finally {
    await stopEnsemble(members, root);
  }
}

async function benchFailover(): Promise<void> {
  const runs = quick ? 3 : 7;
  for (const [signal, target] of [['SIGKILL', 250], ['SIGSTOP', 3000]] as const) {
    const times: number[] = [];
    for (let run = 0; run < runs; run++) times.push(await failoverRun(signal));
    const m = median(times);
    console.log(`failover: ${signal} of the leader → first write committed through a survivor ` +
      `(3 processes, zabTickMs ${ZAB_TICK_MS})`);
    console.log(`  median ${m.toFixed(0)} ms (runs: ${times.map((t) => t.toFixed(0)).join(', ')})`);
    console.log(`  target < ${target} ms: ${m < target ? 'reached' : 'NOT reached'}`);
  }
}

/** `--loader nzc|zab|both` of the zookeeper benchmark: node-zookeeper-client (default) and/or the project's client. */
function loaderFlag(text: string | undefined): LoaderName[] {
  switch (text) {
    case undefined:
    case 'nzc':
      return ['nzc'];
    case 'zab':
      return ['zab'];
    case 'both':
      return ['nzc', 'zab'];
    default:
      throw new Error(`--loader ${text}: use nzc, zab or both`);
  }
}

/**
 * `--cpu-prof-dir DIR`, `--systems a,b`, `--kinds writes,reads`, `--no-cork`, `--loader
 * nzc|zab|both` of the zookeeper benchmark.
 */
function zookeeperFlags(): {
  cpuProfileDir?: string; systems?: Set<string>; kinds?: Set<string>; noCork: boolean; loaders: LoaderName[];
} {
  const value = (flag: string): string | undefined => {
    const index = args.indexOf(flag);
    return index >= 0 ? args[index + 1] : undefined;
  };
  const dir = value('--cpu-prof-dir');
  const systems = value('--systems');
  const kinds = value('--kinds');
  return {
    noCork: args.includes('--no-cork'),
    loaders: loaderFlag(value('--loader')),
    ...(dir !== undefined ? { cpuProfileDir: dir } : {}),
    ...(systems !== undefined ? { systems: new Set(systems.split(',')) } : {}),
    ...(kinds !== undefined ? { kinds: new Set(kinds.split(',')) } : {}),
  };
}

async function main(): Promise<void> {
  console.log(`nestjs-zab bench: node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}${quick ? ', --quick' : ''}`);
  const want = (name: string): boolean => only === undefined || only.has(name);
  if (want('writes')) await benchWrites();
  if (want('reads')) await benchReads();
  if (want('memory')) benchMemory();
  if (want('restart')) await benchRestart();
  if (want('worker')) await benchWorker();
  if (want('ensemble')) await benchEnsemble();
  if (want('failover')) await benchFailover();
  if (only?.has('zookeeper') === true) await benchZookeeper({ quick, zabTickMs: ZAB_TICK_MS, ...zookeeperFlags() });
}

await main();
