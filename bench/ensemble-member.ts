/**
 * One ensemble member of the `ensemble` and `failover` benchmarks, run as a child process
 * (`child_process.fork`) so that the leader can really be killed with SIGKILL or frozen with
 * SIGSTOP. It opens an `EnsembleReplica` (durable, file storage in `--data-dir`), connects an
 * in-process client and answers the parent's IPC commands:
 *
 *   { cmd: 'status' }                      → { role, leader, established }
 *   { cmd: 'load', durationMs, countMax }  → closed-loop writes (create/set, 100 B, 256 in
 *                                            flight) through this member: ops/s, p50, p99
 *   { cmd: 'cpu' }                         → { userUs, systemUs }: this process's CPU so far
 *   { cmd: 'writeUntilOk', timeoutMs }     → retries one create until it commits; replies
 *                                            with the wall-clock ms (timeOrigin + now) of success
 *
 * Argv: id, ensemble spec, data dir, zabTickMs. Bench-only; 127.0.0.1 only.
 */
import { EnsembleReplica } from '../libs/zab/src/node/ensemble-replica.js';
import { LocalCoordinationClient } from '../libs/zab/src/node/local-client.js';
import { closedLoop } from './closed-loop.js';

const [idText, ensemble, dataDir, zabTickText] = process.argv.slice(2);
const VALUE = Buffer.alloc(100, 0x61);
const IN_FLIGHT = 256;

function wallMs(): number {
  return performance.timeOrigin + performance.now();
}


const replica = await EnsembleReplica.open({ id: Number(idText), ensemble, dataDir,
  zabTickMs: Number(zabTickText), tickMs: 2000, pendingWritesMax: 100_000,
  secret: 'bench-ensemble-secret-0123456789' }, { requestTimeoutMs: 10_000 });
let client: LocalCoordinationClient | undefined;
let sequence = 0;

async function connected(): Promise<LocalCoordinationClient> {
  client ??= await LocalCoordinationClient.connect(replica, 10_000);
  return client;
}

async function load(durationMs: number, countMax: number): Promise<unknown> {
  const c = await connected();
  const root = `/load-${idText}-${sequence++}`;
  await c.create(root, Buffer.alloc(0));
  return closedLoop(
    (i) => (i % 2 === 0 ? c.create(`${root}/n${i}`, VALUE) : c.setData(root, VALUE)),
    durationMs, countMax, IN_FLIGHT);
}

async function writeUntilOk(timeoutMs: number): Promise<unknown> {
  const c = await connected();
  const deadline = performance.now() + timeoutMs;
  let attempts = 0;
  for (let i = 0; i < 100_000 && performance.now() < deadline; i++) {
    attempts++;
    try {
      await c.create(`/failover-${idText}-${sequence++}`, VALUE);
      return { okAtMs: wallMs(), attempts };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
  return { error: `no write committed within ${timeoutMs} ms (${attempts} attempts)` };
}

process.on('message', (message: { cmd: string; tag: number; durationMs?: number;
  countMax?: number; timeoutMs?: number }) => {
  const answer = async (): Promise<unknown> => {
    switch (message.cmd) {
      case 'status':
        return { role: replica.role, leader: replica.leader, established: replica.isEstablished };
      case 'load':
        return load(message.durationMs ?? 3000, message.countMax ?? 1_000_000);
      case 'cpu': {
        const { user, system } = process.cpuUsage();
        return { userUs: user, systemUs: system };
      }
      case 'writeUntilOk':
        return writeUntilOk(message.timeoutMs ?? 10_000);
      default:
        return { error: `unknown command ${message.cmd}` };
    }
  };
  answer().then((result) => process.send!({ tag: message.tag, result }),
    (error: unknown) => process.send!({ tag: message.tag, result: { error: String(error) } }));
});
process.on('disconnect', () => {
  replica.close().finally(() => process.exit(0));
});
process.send!({ tag: 0, result: { ready: true } });
