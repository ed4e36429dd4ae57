/**
 * The client port: a TCP server that speaks ZooKeeper's client protocol to any ZooKeeper
 * client (zkCli, Curator, kazoo, node-zookeeper-client) on behalf of the replica it runs next
 * to (the standalone `Replica` or an ensemble member `EnsembleReplica`; with worker isolation
 * it runs inside the replica's worker thread). Each connection is a `ClientConnection`; this
 * file accepts them, enforces the per-host connection cap, answers four-letter words, routes
 * session ends to the connection of the session, and closes everything on `close()`.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { SessionId } from '../core/ids.js';
import type { ServedReplica } from './client-replica.js';
import { ClientConnection, type ClientConnectionHost, type ConnectionStats } from './client-connection.js';
import {
  FOUR_LETTER_WORDS,
  fourLetterWordOf,
  fourLetterWordOutput,
  notAllowedOutput,
  type FourLetterWord,
} from './client-four-letter-words.js';
import { SessionPasswords } from './client-session-password.js';
import type { ReplicaLogger } from './replica.js';
import type { ReplicaOptions } from './replica-options.js';

export interface ClientPortServerOptions {
  /** Address to bind (ZooKeeper binds every interface: `0.0.0.0`). */
  host: string;
  /** Port; 0 lets the OS pick one (read it from `port` after start). */
  port: number;
  /** Shared ensemble secret: keys the session passwords (see client-session-password.ts). */
  secret: string | undefined;
  /** Payload bytes of one request frame (ZooKeeper's jute.maxbuffer); more closes the link. */
  requestBytesMax: number;
  /** Open connections from one IP address (ZooKeeper's maxClientCnxns); 0 = no limit. */
  connectionsPerHostMax: number;
  /** Unanswered requests per connection before it stops reading the socket. */
  requestsInFlightMax: number;
  /** Four-letter words answered; others get ZooKeeper's "not in the whitelist" line. */
  fourLetterWords: readonly FourLetterWord[];
  /** Shown by `conf` (ZooKeeper's configuration keys). */
  config: Record<string, string | number>;
  logger: ReplicaLogger;
}

/** A connection that has not yet shown whether it speaks the protocol or a 4lw. */
const SNIFF_BYTES = 4;

export class ClientPortServer implements ClientConnectionHost {
  readonly passwords: SessionPasswords;
  readonly logger: ReplicaLogger;
  readonly requestBytesMax: number;
  readonly requestsInFlightMax: number;
  private readonly connections = new Set<ClientConnection>();
  private readonly bySession = new Map<SessionId, ClientConnection>();
  private readonly perHost = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private readonly unsubscribe: () => void;
  private closedConnectionsReceived = 0;
  private closedConnectionsSent = 0;
  private closedConnectionsSocketWrites = 0;

  private constructor(
    readonly replica: ServedReplica,
    private readonly server: Server,
    private readonly options: ClientPortServerOptions,
  ) {
    this.passwords = new SessionPasswords(options.secret);
    this.logger = options.logger;
    this.requestBytesMax = options.requestBytesMax;
    this.requestsInFlightMax = options.requestsInFlightMax;
    this.unsubscribe = replica.onSessionEnd((sessionId, state) => {
      this.bySession.get(sessionId)?.sessionEnded(state);
    });
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Listens on `options.host:options.port`; rejects with a clear error if it cannot. */
  static async start(replica: ServedReplica, options: ClientPortServerOptions): Promise<ClientPortServer> {
    const server = createServer({ noDelay: true, pauseOnConnect: false });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        reject(new Error(`client port ${options.host}:${options.port} unavailable (${error.code ?? error.message}); ` +
          'choose another clientPort (0 picks a free one) or clientHost'));
      });
      server.listen(options.port, options.host, () => resolve());
    });
    server.on('error', (error) => options.logger.error(`client port: ${error.message}`));
    return new ClientPortServer(replica, server, options);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get host(): string {
    return this.options.host;
  }

  attach(connection: ClientConnection): void {
    const previous = this.bySession.get(connection.sessionId);
    this.bySession.set(connection.sessionId, connection);
    // ZooKeeper: a session lives on one connection; the older one is closed.
    if (previous !== undefined && previous !== connection) {
      previous.close(`session 0x${connection.sessionId.toString(16)} moved to ${connection.remote}`);
    }
  }

  detach(connection: ClientConnection): void {
    this.connections.delete(connection);
    this.closedConnectionsReceived += connection.stats.received;
    this.closedConnectionsSent += connection.stats.sent;
    this.closedConnectionsSocketWrites += connection.stats.socketWrites;
    if (this.bySession.get(connection.sessionId) === connection) this.bySession.delete(connection.sessionId);
  }

  /** Open client connections (protocol ones, not four-letter words). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Counters of each open connection (tests, diagnostics). */
  connectionStats(): ConnectionStats[] {
    return [...this.connections].map((c) => ({ ...c.stats }));
  }

  /** Frames sent and socket writes made since start, closed connections included. */
  sendTotals(): { framesSent: number; socketWrites: number } {
    let framesSent = this.closedConnectionsSent;
    let socketWrites = this.closedConnectionsSocketWrites;
    for (const connection of this.connections) {
      framesSent += connection.stats.sent;
      socketWrites += connection.stats.socketWrites;
    }
    return { framesSent, socketWrites };
  }

  /**
   * Drops every client connection but keeps listening (operators, tests): clients reconnect,
   * here or to another replica, and re-establish their sessions.
   */
  dropConnections(): void {
    for (const connection of [...this.connections]) connection.socket.destroy();
  }

  /** Stops listening and drops every connection (sessions live on until their timeout). */
  async close(): Promise<void> {
    this.unsubscribe();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private accept(socket: Socket): void {
    const address = socket.remoteAddress ?? '?';
    const count = this.perHost.get(address) ?? 0;
    const max = this.options.connectionsPerHostMax;
    socket.on('error', () => undefined);
    if (max > 0 && count >= max) {
      this.logger.warn(`client port: too many connections from ${address} - max is ${max}; closing the new one`);
      socket.destroy();
      return;
    }
    this.perHost.set(address, count + 1);
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      const left = (this.perHost.get(address) ?? 1) - 1;
      if (left > 0) this.perHost.set(address, left);
      else this.perHost.delete(address);
    });
    // Idle limit: a client pings within its session timeout; a silent socket is dropped.
    socket.setTimeout(Number(this.options.config['maxSessionTimeout'] ?? 40_000), () => socket.destroy());
    this.sniff(socket);
  }

  /**
   * Reads the first 4 bytes before any frame decoding: a four-letter word (`ruok` is
   * 0x72756f6b) would otherwise read as a huge frame length.
   */
  private sniff(socket: Socket): void {
    let head: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      if (head.length < SNIFF_BYTES) return;
      socket.off('data', onData);
      const word = fourLetterWordOf(head);
      if (word !== undefined) {
        this.answerWord(socket, word);
        return;
      }
      const connection = new ClientConnection(socket, this, head);
      this.connections.add(connection);
    };
    socket.on('data', onData);
  }

  private answerWord(socket: Socket, word: FourLetterWord): void {
    socket.pause();
    let text: string;
    try {
      text = this.options.fourLetterWords.includes(word)
        ? fourLetterWordOutput(word, this.fourLetterInputs())
        : notAllowedOutput(word);
    } catch (error) {
      text = `${word} failed: ${(error as Error).message}\n`;
    }
    socket.end(text);
  }

  private fourLetterInputs() {
    const connections = [...this.connections].map((c) => ({
      remote: c.remote, queued: c.queued, received: c.stats.received, sent: c.stats.sent,
      sessionId: c.sessionId, lastOperation: c.stats.lastOperation, establishedMs: c.stats.establishedMs,
      timeoutMs: c.timeoutMs, lastCxid: c.stats.lastCxid, lastZxid: c.stats.lastZxid,
    }));
    const sum = (pick: (c: ClientConnection) => number): number =>
      [...this.connections].reduce((total, c) => total + pick(c), 0);
    return {
      status: this.replica.status(),
      connections,
      packetsReceived: this.closedConnectionsReceived + sum((c) => c.stats.received),
      packetsSent: this.closedConnectionsSent + sum((c) => c.stats.sent),
      watches: this.replica.watches.summary(),
      config: { ...this.options.config, clientPort: this.port },
    };
  }
}

/**
 * Starts the client port that `options.clientPort` asks for, next to `replica`; undefined
 * when no client port is configured. Used where the replica runs: the worker entry, the Nest
 * module (main-thread isolation) and tests.
 */
export async function startClientPort(
  replica: ServedReplica,
  options: ReplicaOptions,
  logger: ReplicaLogger,
): Promise<ClientPortServer | undefined> {
  if (options.clientPort === undefined) return undefined;
  const words = options.fourLetterWords.includes('*')
    ? FOUR_LETTER_WORDS
    : FOUR_LETTER_WORDS.filter((word) => options.fourLetterWords.includes(word));
  const server = await ClientPortServer.start(replica, {
    host: options.clientHost,
    port: options.clientPort,
    secret: options.secret,
    requestBytesMax: options.clientRequestBytesMax,
    connectionsPerHostMax: options.clientConnectionsPerHostMax,
    requestsInFlightMax: options.clientRequestsInFlightMax,
    fourLetterWords: words,
    config: {
      clientPort: options.clientPort,
      clientPortAddress: options.clientHost,
      dataDir: options.dataDir,
      tickTime: options.tickMs,
      maxClientCnxns: options.clientConnectionsPerHostMax,
      minSessionTimeout: options.minSessionTimeoutMs,
      maxSessionTimeout: options.maxSessionTimeoutMs,
      serverId: options.id,
      'jute.maxbuffer': options.clientRequestBytesMax,
    },
    logger,
  });
  logger.log(`client port listening on ${options.clientHost}:${server.port}`);
  return server;
}

