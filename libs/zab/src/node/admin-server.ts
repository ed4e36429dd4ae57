/**
 * The admin HTTP endpoint, after ZooKeeper's AdminServer: `GET /commands/<name>` answers JSON
 * with the command's fields plus `command` and `error` (null when it worked).
 *   srvr (server_stats)  server id, mode, established, leader id, epoch, last zxid, znode
 *                        count, latency, outstanding
 *   mntr (monitor)       counters for monitoring (ZooKeeper's names without the 4lw `zk_`)
 *   ruok                 the process is alive (not that it is in a quorum, as in ZooKeeper)
 *   GET /commands        the list of commands
 * Contract: read-only (it only calls the status source), GET only, no request body read,
 * every connection closed after one response, timeouts on headers and requests and a cap on
 * connections, so bad or slow clients cannot hold it; a failing status source gives a 500,
 * never an exception out of the server. It has no authentication: it binds to 127.0.0.1
 * unless told otherwise.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { zxidHex, type ReplicaStatus } from './replica-status.js';

export interface AdminServerOptions {
  /** Address to bind; 127.0.0.1 by default. */
  host?: string;
  /** Port; 0 lets the OS pick one (read it from `port` after start). */
  port: number;
  /**
   * Where the figures come from: `() => replica.status()`, or a promise of them when the
   * replica runs in a worker thread (`() => handle.status()`).
   */
  status: StatusSource;
  /** Told about failing requests; never throws. */
  warn?: (message: string) => void;
}

export type StatusSource = () => ReplicaStatus | Promise<ReplicaStatus>;

/** The body and HTTP status of one admin request; pure, so tables can test it. */
export interface AdminResponse {
  statusCode: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

type Command = (status: ReplicaStatus) => Record<string, unknown>;

const COMMANDS: ReadonlyMap<string, Command> = new Map<string, Command>([
  ['srvr', serverStats],
  ['server_stats', serverStats],
  ['mntr', monitor],
  ['monitor', monitor],
  ['ruok', () => ({})],
]);

/** Connections served at once; more are refused by the socket layer. */
const CONNECTIONS_MAX = 32;
const HEADERS_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 10_000;
const URL_LENGTH_MAX = 1024;
const SERVER_LIMITS = {
  headersTimeout: HEADERS_TIMEOUT_MS,
  requestTimeout: REQUEST_TIMEOUT_MS,
  maxHeaderSize: 8192,
};

function serverStats(s: ReplicaStatus): Record<string, unknown> {
  return {
    version: s.version,
    read_only: false,
    server_id: s.serverId,
    server_state: s.mode,
    role: s.role,
    state: s.state,
    established: s.established,
    leader_id: s.leaderId ?? null,
    failure: s.failure ?? null,
    epoch: s.epoch,
    last_zxid: zxidHex(s.lastZxid),
    digest: `0x${s.digest.toString(16)}`,
    node_count: s.znodeCount,
    outstanding_requests: s.outstandingRequests,
    min_latency: s.latency.minMs,
    avg_latency: s.latency.avgMs,
    max_latency: s.latency.maxMs,
    uptime: s.uptimeMs,
  };
}

function monitor(s: ReplicaStatus): Record<string, unknown> {
  return {
    version: s.version,
    server_id: s.serverId,
    server_state: s.mode,
    state: s.state,
    established: s.established,
    leader_id: s.leaderId ?? null,
    epoch: s.epoch,
    last_zxid: zxidHex(s.lastZxid),
    digest: `0x${s.digest.toString(16)}`,
    avg_latency: s.latency.avgMs,
    max_latency: s.latency.maxMs,
    min_latency: s.latency.minMs,
    outstanding_requests: s.outstandingRequests,
    znode_count: s.znodeCount,
    watch_count: s.watchCount,
    ephemerals_count: s.ephemeralsCount,
    global_sessions: s.sessionCount,
    followers: s.followers,
    synced_followers: s.syncedFollowers,
    pending_syncs: s.pendingSyncs,
    ensemble_size: s.ensembleSize,
    proposal_count: s.proposalCount,
    commit_count: s.commitCount,
    snapshots_taken: s.snapshotsTaken,
    uptime: s.uptimeMs,
  };
}

/** Answers one request. Never rejects: a failing status source gives a 500 body. */
export async function adminResponse(
  method: string | undefined,
  url: string | undefined,
  status: StatusSource,
): Promise<AdminResponse> {
  if (method !== 'GET') {
    const error = `method ${String(method)} not allowed; use GET`;
    return { statusCode: 405, headers: { Allow: 'GET' }, body: { command: null, error } };
  }
  const names = [...COMMANDS.keys()];
  const path = (url ?? '/').split('?')[0]!.replace(/\/+$/, '');
  if (path === '/commands') {
    return { statusCode: 200, body: { command: null, error: null, commands: names } };
  }
  const name = /^\/commands\/([A-Za-z_]{1,64})$/.exec(path)?.[1];
  const command = name === undefined ? undefined : COMMANDS.get(name);
  if (command === undefined) {
    const shown = JSON.stringify(name ?? path.slice(0, 100));
    const error = `unknown command ${shown}; try one of ${names.join(', ')} under /commands/`;
    return { statusCode: 404, body: { command: name ?? null, error } };
  }
  try {
    return { statusCode: 200, body: { command: name, error: null, ...command(await status()) } };
  } catch (error) {
    const message = `status unavailable: ${(error as Error).message}`;
    return { statusCode: 500, body: { command: name, error: message } };
  }
}

/** A running endpoint; `close()` stops it (idempotent). */
export class AdminServer {
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    private readonly sockets: Set<Socket>,
    readonly host: string,
    readonly port: number,
  ) {}

  /** Binds and listens; rejects with a clear message when the address cannot be used. */
  static async start(options: AdminServerOptions): Promise<AdminServer> {
    const host = options.host ?? '127.0.0.1';
    const warn = options.warn ?? (() => undefined);
    const server = createServer(SERVER_LIMITS, (request, response) =>
      void handle(request, response, options.status, warn),
    );
    server.maxConnections = CONNECTIONS_MAX;
    server.keepAliveTimeout = 1000;
    const sockets = new Set<Socket>();
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    server.on('clientError', (error: Error, socket: Socket) => {
      warn(`admin endpoint: bad request (${error.message})`);
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      const failed = (error: NodeJS.ErrnoException): void => {
        const reason = error.code ?? error.message;
        reject(new Error(
          `admin endpoint cannot listen on ${host}:${options.port}: ${reason}; ` +
            `choose another adminPort (0 picks a free one) or adminHost`,
        ));
      };
      server.once('error', failed);
      server.listen(options.port, host, () => {
        server.off('error', failed);
        resolve();
      });
    });
    server.on('error', (error: Error) => warn(`admin endpoint: ${error.message}`));
    return new AdminServer(server, sockets, host, (server.address() as AddressInfo).port);
  }

  /** `http://host:port`, IPv6 hosts in brackets. */
  get url(): string {
    return `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  /** Stops listening and drops open connections. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
    return this.closing;
  }
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  status: StatusSource,
  warn: (message: string) => void,
): Promise<void> {
  const tooLong = (request.url ?? '').length > URL_LENGTH_MAX;
  const answer: AdminResponse = tooLong
    ? { statusCode: 414, body: { command: null, error: `URL over ${URL_LENGTH_MAX} characters` } }
    : await adminResponse(request.method, request.url, status);
  if (response.destroyed) return;
  if (answer.statusCode >= 500) warn(`admin endpoint: ${String(answer.body.error)}`);
  const text = JSON.stringify(answer.body, null, 2) + '\n';
  response.writeHead(answer.statusCode, {
    ...answer.headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    Connection: 'close',
  });
  response.end(text);
}
