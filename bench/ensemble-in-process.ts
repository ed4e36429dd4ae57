/**
 * Profiling harness (not a benchmark figure): 3 durable `EnsembleReplica`s in ONE process
 * over TCP on 127.0.0.1, closed-loop writes (create/set, 100 B, 256 in flight) through the
 * leader or a follower. With everything on one thread, `node --cpu-prof` of this process
 * shows all the CPU a committed write costs, without the cross-process preemption that
 * blurs the member profiles of `npm run bench -- --only ensemble` on a shared host.
 *
 *   node --cpu-prof build/bench/ensemble-in-process.js [leader|follower] [durationMs] [zabTickMs]
 *
 * Prints ops/s and the process CPU per write. Bounded: one run of `durationMs` (default 3 s).
 * `zabTickMs` (default: the replica default) may be raised on an overloaded host, where
 * the one shared event loop stalls past the lag guard's limit and the leader steps down.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPLICA_DEFAULTS } from '../libs/zab/src/node/replica-options.js';
import { EnsembleReplica } from '../libs/zab/src/node/ensemble-replica.js';
import { LocalCoordinationClient } from '../libs/zab/src/node/local-client.js';
import { closedLoop } from './closed-loop.js';

const target = process.argv[2] === 'follower' ? 'follower' : 'leader';
const durationMs = Number(process.argv[3] ?? 3000);
const zabTickMs = Number(process.argv[4] ?? REPLICA_DEFAULTS.zabTickMs);
const VALUE = Buffer.alloc(100, 0x61);

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

const root = mkdtempSync(join(tmpdir(), 'zab-bench-inproc-'));
const ports = [await freePort(), await freePort(), await freePort()];
const ensemble = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
const replicas = await Promise.all([1, 2, 3].map((id) => EnsembleReplica.open({ id, ensemble,
  dataDir: join(root, String(id)), tickMs: 2000, zabTickMs, pendingWritesMax: 100_000,
  secret: 'bench-ensemble-secret-0123456789' }, { requestTimeoutMs: 10_000 })));
try {
  const deadline = performance.now() + 15_000;
  const established = (): boolean => replicas.every((r) => r.isEstablished &&
    r.leader === replicas[0]!.leader);
  for (let i = 0; i < 1500 && !established() && performance.now() < deadline; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (!established()) throw new Error('no agreed leader within 15 s');
  const leader = replicas.find((r) => r.role === 'leading')!;
  const replica = target === 'leader' ? leader : replicas.find((r) => r !== leader)!;
  const client = await LocalCoordinationClient.connect(replica, 10_000);
  await client.create('/load', Buffer.alloc(0));
  const cpuBefore = process.cpuUsage();
  const result = await closedLoop(
    (i) => (i % 2 === 0 ? client.create(`/load/n${i}`, VALUE) : client.setData('/load', VALUE)),
    durationMs, 1_000_000, 256);
  const cpu = process.cpuUsage(cpuBefore);
  console.log(`in-process ensemble, writes through the ${target}: ${Math.round(result.opsPerSecond)} ` +
    `ops/s, p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms, ` +
    `CPU ${((cpu.user + cpu.system) / result.count).toFixed(1)} µs per write ` +
    `(user ${(cpu.user / result.count).toFixed(1)}, system ${(cpu.system / result.count).toFixed(1)})`);
} finally {
  await Promise.all(replicas.map((r) => r.close()));
  rmSync(root, { recursive: true, force: true });
}
