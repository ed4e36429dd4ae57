/**
 * The cost of the worker hop: durable writes/s and reads/s of one embedded replica through
 * its `CoordinationClient`, 256 in flight, with the replica on the main thread
 * (`LocalCoordinationClient`) and in a worker thread (`WorkerCoordinationClient`).
 *
 *   npx tsc -p tsconfig.spec.json && node build/test/bench/worker-hop.bench.js [seconds]
 *
 * Each figure is the median of 3 timed runs of `seconds` (default 2) after a warm-up run.
 * Writes are setData of 100-byte values on 256 nodes (group commit over fdatasync on a temp
 * directory); reads are getData of the same nodes. Not a test: it prints a table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LocalCoordinationClient,
  Replica,
  WorkerReplicaHandle,
  type CoordinationClient,
} from '../../libs/zab/src/index.js';

const IN_FLIGHT = 256;
const VALUE = Buffer.alloc(100, 0x61);
const seconds = Number(process.argv[2] ?? 2);

interface Backend {
  client: CoordinationClient;
  close(): Promise<void>;
}

async function open(isolation: 'main' | 'worker', dataDir: string): Promise<Backend> {
  if (isolation === 'main') {
    const replica = await Replica.open({ dataDir });
    const client = await LocalCoordinationClient.connect(replica, 10_000);
    return { client, close: () => replica.close() };
  }
  const handle = await WorkerReplicaHandle.open({ dataDir });
  const client = await handle.connect(10_000);
  return { client, close: () => handle.close() };
}

/** IN_FLIGHT closed loops for `durationMs`: ops/s and p50/p99 latency in ms. */
async function closedLoop(operation: (i: number) => Promise<unknown>, durationMs: number): Promise<number[]> {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + durationMs;
  let issued = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const i = issued++;
      const t0 = performance.now();
      await operation(i);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, loop));
  const elapsedS = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!;
  return [latencies.length / elapsedS, at(0.5), at(0.99)];
}

function median(runs: number[][], column: number): number {
  const values = runs.map((run) => run[column]!).sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)]!;
}

async function measure(isolation: 'main' | 'worker'): Promise<Record<string, string>> {
  const dataDir = mkdtempSync(join(tmpdir(), `zab-hop-${isolation}-`));
  const { client, close } = await open(isolation, dataDir);
  try {
    await client.create('/b', Buffer.alloc(0));
    await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => client.create(`/b/n${i}`, VALUE)));
    const write = (i: number): Promise<unknown> => client.setData(`/b/n${i % IN_FLIGHT}`, VALUE);
    const read = (i: number): Promise<unknown> => client.getData(`/b/n${i % IN_FLIGHT}`);
    const row: Record<string, string> = { isolation };
    for (const [name, operation] of [['writes', write], ['reads', read]] as const) {
      await closedLoop(operation, 500);
      const runs: number[][] = [];
      for (let run = 0; run < 3; run++) runs.push(await closedLoop(operation, seconds * 1000));
      row[`${name}/s`] = Math.round(median(runs, 0)).toLocaleString('en-US');
      row[`${name} p50/p99 ms`] = `${median(runs, 1).toFixed(2)} / ${median(runs, 2).toFixed(2)}`;
    }
    return row;
  } finally {
    await close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const rows = [await measure('main'), await measure('worker')];
console.table(rows);
