/**
 * The load generator of the `zookeeper` benchmark, run as its own process (forked by
 * bench/run.ts) so that it competes with neither system's servers inside one event loop.
 * It drives any ZooKeeper-protocol ensemble through node-zookeeper-client (npm; a client
 * neither system wrote), so nestjs-zab and Apache ZooKeeper see byte-identical load.
 *
 * IPC commands (each answered with `{ tag, result }`):
 *   { cmd: 'prepare', ports, keys }  creates /zkbench and /zkbench/k0..k<keys-1> (100 B each)
 *   { cmd: 'load', ports, kind, durationMs, countMax, clients, inFlight }
 *       `clients` sessions, client i on 127.0.0.1:ports[i % ports.length], each with
 *       `inFlight` closed loops; kind 'writes' = setData (100 B, version -1), 'reads' =
 *       getData, loop s of client c always on key c * inFlight + s (no version conflicts).
 *       Bounded by `durationMs` and `countMax`. → { opsPerSecond, p50Ms, p99Ms, count, errors }
 */
import zookeeper, { type ZkClient, type ZkError } from 'node-zookeeper-client';
import type { Socket } from 'node:net';
import { percentile } from './closed-loop.js';

const VALUE = Buffer.alloc(100, 0x62);
const CONNECT_TIMEOUT_MS = 15_000;
/** Argv `--no-cork`: node-zookeeper-client exactly as published (one write per request). */
const CORK = !process.argv.includes('--no-cork');

/**
 * node-zookeeper-client writes every request with its own `socket.write` (one syscall each);
 * under 32 requests in flight that makes the load generator, not the servers, the limit.
 * This corks the client's socket on the first write of an event-loop turn and uncorks it on
 * the next tick, so the requests of one turn leave in one write. The bytes on the wire are
 * unchanged; both systems get the same client.
 */
function corkPerTurn(client: ZkClient): void {
  const socket = (client as unknown as { connectionManager?: { socket?: Socket } }).connectionManager?.socket;
  if (socket === undefined) throw new Error('node-zookeeper-client internals changed: no connectionManager.socket');
  const write = socket.write.bind(socket) as (chunk: Buffer) => boolean;
  let corked = false;
  socket.write = ((chunk: Buffer): boolean => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(() => {
        corked = false;
        socket.uncork();
      });
    }
    return write(chunk);
  }) as Socket['write'];
}

function connect(port: number): Promise<ZkClient> {
  const client = zookeeper.createClient(`127.0.0.1:${port}`, { sessionTimeout: 30_000, retries: 0 });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`no session with 127.0.0.1:${port} within ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    client.once('connected', () => {
      clearTimeout(timer);
      if (CORK) corkPerTurn(client);
      resolve(client);
    });
    client.connect();
  });
}

function setData(client: ZkClient, path: string): Promise<void> {
  return new Promise((resolve, reject) => client.setData(path, VALUE, -1,
    (error: ZkError | null) => (error === null ? resolve() : reject(error))));
}

function getData(client: ZkClient, path: string): Promise<void> {
  return new Promise((resolve, reject) => client.getData(path, undefined,
    (error: ZkError | null) => (error === null ? resolve() : reject(error))));
}

function create(client: ZkClient, path: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => client.create(path, data, zookeeper.ACL.OPEN_ACL_UNSAFE,
    zookeeper.CreateMode.PERSISTENT, (error: ZkError | null) =>
      (error === null || error.getCode() === zookeeper.Exception['NODE_EXISTS'] ? resolve() : reject(error))));
}

async function prepare(ports: number[], keys: number): Promise<unknown> {
  const client = await connect(ports[0]!);
  try {
    await create(client, '/zkbench', Buffer.alloc(0));
    await Promise.all(Array.from({ length: keys }, (_, i) => create(client, `/zkbench/k${i}`, VALUE)));
    return { created: keys };
  } finally {
    client.close();
  }
}

interface LoadCommand {
  ports: number[];
  kind: 'writes' | 'reads';
  durationMs: number;
  countMax: number;
  clients: number;
  inFlight: number;
}

async function load(command: LoadCommand): Promise<unknown> {
  const { ports, kind, durationMs, countMax, clients, inFlight } = command;
  const sessions = await Promise.all(Array.from({ length: clients }, (_, i) => connect(ports[i % ports.length]!)));
  const latencies = new Float64Array(countMax);
  let issued = 0;
  let completed = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const loop = async (client: ZkClient, key: number): Promise<void> => {
    const path = `/zkbench/k${key}`;
    while (issued < countMax && performance.now() < deadline) {
      issued++;
      const t0 = performance.now();
      try {
        await (kind === 'writes' ? setData(client, path) : getData(client, path));
        latencies[completed++] = performance.now() - t0;
      } catch {
        errors++;
      }
    }
  };
  try {
    await Promise.all(sessions.flatMap((client, c) =>
      Array.from({ length: inFlight }, (_, s) => loop(client, c * inFlight + s))));
  } finally {
    for (const client of sessions) client.close();
  }
  const elapsedMs = performance.now() - started;
  const sorted = latencies.subarray(0, completed).sort();
  return { opsPerSecond: (completed / elapsedMs) * 1000, p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99), count: completed, errors };
}

process.on('message', (message: { cmd: string; tag: number } & Partial<LoadCommand> & { keys?: number }) => {
  const answer = (): Promise<unknown> => {
    switch (message.cmd) {
      case 'prepare':
        return prepare(message.ports!, message.keys!);
      case 'load':
        return load(message as LoadCommand);
      default:
        return Promise.resolve({ error: `unknown command ${message.cmd}` });
    }
  };
  answer().then((result) => process.send!({ tag: message.tag, result }),
    (error: unknown) => process.send!({ tag: message.tag, result: { error: String(error) } }));
});
process.on('disconnect', () => process.exit(0));
process.send!({ tag: 0, result: { ready: true } });
