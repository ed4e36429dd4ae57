/**
 * The load generator of the `zookeeper` benchmark, run as its own process (forked by
 * bench/run.ts) so that it competes with neither system's servers inside one event loop.
 * It drives any ZooKeeper-protocol ensemble through one of two clients, the `loader`:
 *   nzc  node-zookeeper-client (npm; a client neither system wrote), corked per event-loop
 *        turn unless `--no-cork` (see `corkPerTurn`)
 *   zab  the project's own `RemoteCoordinationClient` (connect mode), one client per session,
 *        pinned to its server by a single-host connect string
 * Either way nestjs-zab and Apache ZooKeeper see the same load from the same client.
 *
 * IPC commands (each answered with `{ tag, result }`):
 *   { cmd: 'prepare', ports, keys }  creates /zkbench and /zkbench/k0..k<keys-1> (100 B each),
 *       always through node-zookeeper-client
 *   { cmd: 'load', loader, ports, kind, durationMs, countMax, clients, inFlight }
 *       `clients` sessions, client i on 127.0.0.1:ports[i % ports.length], each with
 *       `inFlight` closed loops; kind 'writes' = setData (100 B, version -1), 'reads' =
 *       getData, loop s of client c always on key c * inFlight + s (no version conflicts).
 *       Bounded by `durationMs` and `countMax`.
 *       → { opsPerSecond, p50Ms, p99Ms, count, errors, loaderCpuMsPerKop }, the last being
 *       this process's CPU time (process.cpuUsage, user + system) over the timed loops, per
 *       1000 completed operations: what the client itself costs (sessions are opened before
 *       and closed after the timed part).
 */
import zookeeper, { type ZkClient, type ZkError } from 'node-zookeeper-client';
import type { Socket } from 'node:net';
import { RemoteCoordinationClient } from '../libs/zab/src/node/remote-client.js';
import { percentile } from './closed-loop.js';

const VALUE = Buffer.alloc(100, 0x62);
const SESSION_TIMEOUT_MS = 30_000;
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
  const client = zookeeper.createClient(`127.0.0.1:${port}`, { sessionTimeout: SESSION_TIMEOUT_MS, retries: 0 });
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

/**
 * Sends closeSession and resolves once the server has closed the connection (the session is
 * gone), or after `CONNECT_TIMEOUT_MS`: so no closeSession is still in flight when the next
 * measurement starts or the servers stop.
 */
function closeNzc(client: ZkClient): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, CONNECT_TIMEOUT_MS);
    client.once('disconnected', () => {
      clearTimeout(timer);
      resolve();
    });
    client.close();
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
    await closeNzc(client);
  }
}

/** `nzc`: node-zookeeper-client; `zab`: the project's RemoteCoordinationClient. */
export type LoaderName = 'nzc' | 'zab';

/** One session of the load, whichever client it is. */
interface LoadSession {
  setData(path: string): Promise<unknown>;
  getData(path: string): Promise<unknown>;
  /** Ends the session (closeSession); resolves once it is sent or answered. */
  close(): Promise<void>;
}

async function nzcSession(port: number): Promise<LoadSession> {
  const client = await connect(port);
  return { setData: (path) => setData(client, path), getData: (path) => getData(client, path),
    close: () => closeNzc(client) };
}

async function zabSession(port: number): Promise<LoadSession> {
  const client = await RemoteCoordinationClient.connect({ connect: `127.0.0.1:${port}`,
    sessionTimeoutMs: SESSION_TIMEOUT_MS, connectTimeoutMs: CONNECT_TIMEOUT_MS, hostOrder: 'given' });
  return { setData: (path) => client.setData(path, VALUE, -1), getData: (path) => client.getData(path),
    close: () => client.close().catch(() => undefined) };
}

/** Opens every session, or closes the ones that opened and rethrows the first failure. */
async function openAll(openers: Array<() => Promise<LoadSession>>): Promise<LoadSession[]> {
  const settled = await Promise.allSettled(openers.map((open) => open()));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  const sessions = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  if (failure === undefined) return sessions;
  await Promise.all(sessions.map((session) => session.close()));
  throw failure.reason;
}

interface LoadCommand {
  loader: LoaderName;
  ports: number[];
  kind: 'writes' | 'reads';
  durationMs: number;
  countMax: number;
  clients: number;
  inFlight: number;
}

async function load(command: LoadCommand): Promise<unknown> {
  const { loader, ports, kind, durationMs, countMax, clients, inFlight } = command;
  if (loader !== 'nzc' && loader !== 'zab') throw new Error(`unknown loader ${String(loader)}; use nzc or zab`);
  const open = loader === 'zab' ? zabSession : nzcSession;
  const sessions = await openAll(Array.from({ length: clients }, (_, i) => () => open(ports[i % ports.length]!)));
  const latencies = new Float64Array(countMax);
  let issued = 0;
  let completed = 0;
  let errors = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + durationMs;
  const loop = async (session: LoadSession, key: number): Promise<void> => {
    const path = `/zkbench/k${key}`;
    while (issued < countMax && performance.now() < deadline) {
      issued++;
      const t0 = performance.now();
      try {
        await (kind === 'writes' ? session.setData(path) : session.getData(path));
        latencies[completed++] = performance.now() - t0;
      } catch {
        errors++;
      }
    }
  };
  let elapsedMs: number;
  let cpu: NodeJS.CpuUsage;
  try {
    await Promise.all(sessions.flatMap((session, c) =>
      Array.from({ length: inFlight }, (_, s) => loop(session, c * inFlight + s))));
  } finally {
    elapsedMs = performance.now() - started;
    cpu = process.cpuUsage(cpuBefore);
    await Promise.all(sessions.map((session) => session.close()));
  }
  const sorted = latencies.subarray(0, completed).sort();
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return { opsPerSecond: (completed / elapsedMs) * 1000, p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99), count: completed, errors,
    loaderCpuMsPerKop: completed === 0 ? 0 : (cpuMs * 1000) / completed };
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
