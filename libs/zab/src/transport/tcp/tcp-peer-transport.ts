/**
 * `PeerTransport` over TCP, optionally TLS: one authenticated link per pair of replicas.
 *
 * - Links: the higher id of a pair dials it; the lower id only sends wake-ups, which the
 *   higher id answers by dialing at once (see `handshake.ts`). An authenticated dial from a
 *   higher id replaces an existing link to it: the peer dials only when it believes the old
 *   link is dead (for example after it restarted).
 * - Retries: a failed dial or wake-up, or a lost link, is retried after
 *   `reconnectDelayMs(attempt)` (exponential, capped, jittered, `random` injectable); the
 *   attempt count resets when a link is established. Retries go on until `close()`.
 * - Sends: one bounded `SendQueue` per peer, kept across reconnections (what was queued
 *   while the peer was down is written when a link is established); writes honour socket
 *   backpressure. Drops are counted by reason in `metrics()`.
 * - Faults: a bad frame or handshake closes only that connection, with the reason logged.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import type { PeerId } from '../../core/ids.js';
import { assert } from '../../util/assert.js';
import {
  AuthenticationFailedError,
  HandshakeError,
  PeerRejectedError,
} from '../errors/handshake-errors.js';
import { FrameTooLargeError } from '../errors/frame-errors.js';
import { PeerPortUnavailableError } from '../errors/peer-port-unavailable-error.js';
import type {
  MessageListener,
  PeerAddress,
  PeerState,
  PeerStateListener,
  PeerTransport,
  TransportLogger,
} from '../peer-transport.js';
import {
  TransportMetrics,
  type PeerLinkSnapshot,
  type TransportMetricsSnapshot,
} from '../transport-metrics.js';
import {
  AcceptorHandshake,
  DialerHandshake,
  NONCE_BYTES,
  type HandshakeContext,
} from './handshake.js';
import {
  PeerConnection,
  type ConnectionClosed,
  type PeerConnectionEvents,
} from './peer-connection.js';
import { reconnectDelayMs } from './reconnect-backoff.js';
import { SendQueue } from './send-queue.js';
import {
  resolveTcpPeerTransportOptions,
  type ResolvedTcpPeerTransportOptions,
  type TcpPeerTransportOptions,
} from './tcp-peer-transport-options.js';

export interface TcpPeerTransportPorts {
  logger?: TransportLogger;
  /** Uniform [0, 1) for reconnect jitter; default Math.random. */
  random?: () => number;
}

/** Everything the transport knows about one other replica of the ensemble. */
interface PeerLink {
  readonly id: PeerId;
  readonly address: PeerAddress;
  readonly queue: SendQueue;
  /** The established link, or null. */
  connection: PeerConnection | null;
  /** Our dial (to a lower id) or wake-up (to a higher id) in progress, or null. */
  outgoing: PeerConnection | null;
  /** Failed attempts since the last established link (drives the backoff). */
  attempts: number;
  retryTimer: NodeJS.Timeout | null;
  flushScheduled: boolean;
  /** A dial failure was logged since the last link; later ones are only counted. */
  dialFailureLogged: boolean;
}

const SILENT_LOGGER: TransportLogger = { log() {}, warn() {}, error() {} };

/** `verifyHostname: false`: the CA check alone decides (certificates shared by all hosts). */
const skipHostname = (): undefined => undefined;

export class TcpPeerTransport implements PeerTransport {
  private readonly links = new Map<PeerId, PeerLink>();
  private readonly pendingInbound = new Set<PeerConnection>();
  private readonly rawSockets = new Set<net.Socket>();
  /** Replaced, never mutated, on (un)subscribe: delivery iterates it without a copy. */
  private messageListeners: readonly MessageListener[] = [];
  private readonly stateListeners = new Set<PeerStateListener>();
  private readonly metricsValue = new TransportMetrics();
  private readonly handshakeContext: HandshakeContext;
  private readonly connectionEvents: PeerConnectionEvents;
  private server: net.Server | null = null;
  private closed = false;

  /** Validates options, listens on our ensemble address, then starts dialing. */
  static async start(
    options: TcpPeerTransportOptions,
    ports: TcpPeerTransportPorts = {},
  ): Promise<TcpPeerTransport> {
    const resolved = resolveTcpPeerTransportOptions(options);
    const transport = new TcpPeerTransport(resolved, ports);
    await transport.listen();
    transport.logStart();
    for (const link of transport.links.values()) transport.attempt(link);
    return transport;
  }

  private constructor(
    private readonly options: ResolvedTcpPeerTransportOptions,
    ports: TcpPeerTransportPorts,
    private readonly logger: TransportLogger = ports.logger ?? SILENT_LOGGER,
    private readonly random: () => number = ports.random ?? Math.random,
  ) {
    for (const [id, address] of options.ensemble) {
      if (id === options.id) continue;
      this.links.set(id, {
        id,
        address,
        queue: new SendQueue(options.sendQueueMessagesMax, options.sendQueueBytesMax),
        connection: null,
        outgoing: null,
        attempts: 0,
        retryTimer: null,
        flushScheduled: false,
        dialFailureLogged: false,
      });
    }
    this.handshakeContext = {
      localId: options.id,
      isKnownPeer: (id) => this.links.has(id),
      secret: options.secret,
      randomNonce: () => randomBytes(NONCE_BYTES),
    };
    this.connectionEvents = {
      onEstablished: (connection, peer) => this.onEstablished(connection, peer),
      onWakeUp: (connection, peer) => this.onWakeUp(connection, peer),
      onPayload: (connection, payload) => this.deliver(connection, payload),
      onWritable: (connection) => this.flushConnection(connection),
      onClosed: (connection, closed) => this.onConnectionClosed(connection, closed),
    };
  }

  // ---- PeerTransport ------------------------------------------------------------------------

  send(to: PeerId, payload: Buffer): boolean {
    const drops = this.metricsValue.drops;
    if (this.closed) return this.drop(() => (drops.transportClosed += 1));
    const link = this.links.get(to);
    if (link === undefined) return this.drop(() => (drops.peerUnknown += 1));
    if (payload.length > this.options.frameBytesMax) {
      return this.drop(() => (drops.frameTooLarge += 1));
    }
    if (link.connection === null && !this.options.queueWhileDisconnected) {
      return this.drop(() => (drops.peerDisconnected += 1));
    }
    if (!link.queue.offer(payload)) return this.drop(() => (drops.queueFull += 1));
    if (link.connection !== null) this.scheduleFlush(link);
    return true;
  }

  onMessage(listener: MessageListener): () => void {
    this.messageListeners = [...this.messageListeners, listener];
    return () => {
      this.messageListeners = this.messageListeners.filter((other) => other !== listener);
    };
  }

  onPeerState(listener: PeerStateListener): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  connectedPeers(): PeerId[] {
    const peers: PeerId[] = [];
    for (const link of this.links.values()) if (link.connection !== null) peers.push(link.id);
    return peers.sort((a, b) => a - b);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.values()) {
      if (link.retryTimer !== null) clearTimeout(link.retryTimer);
      link.retryTimer = null;
      link.connection?.close('transport closed');
      link.outgoing?.close('transport closed');
      link.connection = null;
      link.outgoing = null;
      link.queue.clear();
    }
    for (const connection of [...this.pendingInbound]) connection.close('transport closed');
    for (const socket of [...this.rawSockets]) socket.destroy();
    const server = this.server;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- introspection ------------------------------------------------------------------------

  /** The bound listening address (the port is the ensemble's). */
  get listenAddress(): PeerAddress {
    const address = this.server?.address();
    assert(address !== null && typeof address === 'object', 'transport is not listening');
    return { host: address.address, port: address.port };
  }

  /** Counters plus one line per other replica; a fresh plain object (JSON-ready). */
  metrics(): TransportMetricsSnapshot & { peers: PeerLinkSnapshot[] } {
    const peers = [...this.links.values()]
      .sort((a, b) => a.id - b.id)
      .map((link) => ({
        id: link.id,
        connected: link.connection !== null,
        queuedMessages: link.queue.length,
        queuedBytes: link.queue.bytes,
        failedAttempts: link.attempts,
      }));
    return { ...this.metricsValue.snapshot(), peers };
  }

  /** Payloads and bytes waiting in a peer's send queue (for `mntr` and tests). */
  queued(peer: PeerId): { messages: number; bytes: number } {
    const queue = this.links.get(peer)?.queue;
    return { messages: queue?.length ?? 0, bytes: queue?.bytes ?? 0 };
  }

  // ---- listening and dialing ----------------------------------------------------------------

  private async listen(): Promise<void> {
    const tlsOptions = this.options.tls;
    const onSocket = (socket: net.Socket) => this.onInboundSocket(socket);
    // TLS: the server asks for a client certificate and checks `authorized` itself (instead
    // of `rejectUnauthorized`) so that a refused certificate is logged with its reason.
    const server =
      tlsOptions === null
        ? net.createServer(onSocket)
        : tls.createServer(
            {
              key: tlsOptions.key,
              cert: tlsOptions.cert,
              ca: tlsOptions.ca,
              requestCert: true,
              rejectUnauthorized: false,
              minVersion: 'TLSv1.2',
              // A client that never completes TLS is dropped as soon as a plain handshake would
              // be (Node's default is 120 s), so idle connects cannot hold the slots.
              handshakeTimeout: this.options.handshakeTimeoutMs,
            },
            onSocket,
          );
    server.maxConnections = this.options.pendingHandshakesMax + 2 * this.links.size;
    // Every raw socket, including TLS ones still before their handshake, so close() ends them.
    server.on('connection', (socket: net.Socket) => {
      this.rawSockets.add(socket);
      socket.once('close', () => this.rawSockets.delete(socket));
    });
    server.on('tlsClientError', (error: Error) => {
      this.metricsValue.handshakeFailures += 1;
      this.logger.warn(`${this.prefix()}: inbound TLS handshake failed: ${error.message}`);
    });
    const { listenHost: host, listenPort: port } = this.options;
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => reject(new PeerPortUnavailableError(host, port, error));
      server.once('error', fail);
      server.listen({ host, port }, () => {
        server.off('error', fail);
        resolve();
      });
    });
    server.on('error', (error) => {
      this.logger.error(`${this.prefix()}: listener: ${error.message}`);
    });
    this.server = server;
  }

  private logStart(): void {
    const { listenHost, listenPort, tls: tlsOptions, secret } = this.options;
    const security = `${tlsOptions === null ? 'plain TCP' : 'mutual TLS'}, ` +
      `${secret === null ? 'NO peer authentication' : 'HMAC-SHA256 peer authentication'}`;
    this.logger.log(
      `${this.prefix()}: listening on ${listenHost}:${listenPort} (${security}); ` +
        `peers ${[...this.links.keys()].sort((a, b) => a - b).join(', ')}`,
    );
    if (secret !== null) return;
    const who =
      tlsOptions === null
        ? `any process that can reach ${listenHost}:${listenPort}`
        : 'any process with a certificate from the peer CA';
    this.logger.warn(
      `${this.prefix()}: WARNING: no peer secret is set, so ${who} can join the ensemble ` +
        'as a replica and read or forge replicated data. Set the same `secret` on every ' +
        'replica (and `tls` to encrypt peer traffic).',
    );
  }

  private onInboundSocket(socket: net.Socket): void {
    if (this.closed) return void socket.destroy();
    if (socket instanceof tls.TLSSocket && !socket.authorized) {
      this.metricsValue.authenticationFailures += 1;
      const where = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
      const reason = String(socket.authorizationError ?? 'no client certificate');
      this.logger.warn(
        `${this.prefix()}: refused the TLS client certificate of ${where}: ${reason}`,
      );
      socket.destroy();
      return;
    }
    if (this.pendingInbound.size >= this.options.pendingHandshakesMax) {
      this.metricsValue.inboundRefused += 1;
      socket.destroy();
      return;
    }
    const handshake = new AcceptorHandshake(this.handshakeContext);
    const connection = this.newConnection(socket, handshake);
    if (connection.state === 'handshaking') this.pendingInbound.add(connection);
  }

  /** Opens our dial (to a lower id) or wake-up (to a higher id) unless one is pointless. */
  private attempt(link: PeerLink): void {
    if (this.closed || link.connection !== null || link.outgoing !== null) return;
    if (link.retryTimer !== null) clearTimeout(link.retryTimer);
    link.retryTimer = null;
    this.metricsValue.dialAttempts += 1;
    const { host, port } = link.address;
    const tlsOptions = this.options.tls;
    const socket =
      tlsOptions === null
        ? net.connect({ host, port })
        : tls.connect({
            host,
            port,
            key: tlsOptions.key,
            cert: tlsOptions.cert,
            ca: tlsOptions.ca,
            minVersion: 'TLSv1.2',
            ...(net.isIP(host) === 0 ? { servername: host } : {}),
            ...(tlsOptions.verifyHostname === false ? { checkServerIdentity: skipHostname } : {}),
          });
    const handshake = new DialerHandshake(this.handshakeContext, link.id);
    link.outgoing = this.newConnection(socket, handshake, link.address);
  }

  private scheduleRetry(link: PeerLink): void {
    if (this.closed || link.connection !== null || link.outgoing !== null) return;
    if (link.retryTimer !== null) return;
    const delayMs = reconnectDelayMs(link.attempts, this.options, this.random);
    link.attempts += 1;
    link.retryTimer = setTimeout(() => {
      link.retryTimer = null;
      this.metricsValue.reconnects += 1;
      this.attempt(link);
    }, delayMs);
    link.retryTimer.unref();
  }

  private newConnection(
    socket: net.Socket,
    handshake: DialerHandshake | AcceptorHandshake,
    dialedAddress: PeerAddress | null = null,
  ): PeerConnection {
    const settings = {
      frameBytesMax: this.options.frameBytesMax,
      handshakeTimeoutMs: this.options.handshakeTimeoutMs,
      idleTimeoutMs: this.options.idleTimeoutMs,
      keepAliveDelayMs: this.options.keepAliveDelayMs,
    };
    const events = this.connectionEvents;
    const metrics = this.metricsValue;
    return new PeerConnection(socket, handshake, settings, events, metrics, dialedAddress);
  }

  // ---- connection events --------------------------------------------------------------------

  private onEstablished(connection: PeerConnection, peer: PeerId): void {
    this.pendingInbound.delete(connection);
    const link = this.links.get(peer);
    assert(link !== undefined, `handshake established an unknown peer ${peer}`);
    if (link.outgoing === connection) link.outgoing = null;
    const previous = link.connection;
    link.connection = connection;
    if (previous !== null) {
      this.logger.log(`${this.prefix()}: peer ${peer} dialed again; replacing its old link`);
      previous.close('replaced by a newer link from the same peer');
      this.metricsValue.connectionsLost += 1;
      this.dropQueuedIfStrict(link);
      this.emitPeerState(peer, 'disconnected');
    }
    if (link.retryTimer !== null) clearTimeout(link.retryTimer);
    link.retryTimer = null;
    link.attempts = 0;
    link.dialFailureLogged = false;
    this.metricsValue.connectionsEstablished += 1;
    this.logger.log(`${this.prefix()}: link to ${connection.describe()} established`);
    this.emitPeerState(peer, 'connected');
    this.scheduleFlush(link);
  }

  /** A lower id woke us: dial it now, unless a link or a dial to it already exists. */
  private onWakeUp(connection: PeerConnection, peer: PeerId): void {
    this.pendingInbound.delete(connection);
    this.metricsValue.wakeUpsReceived += 1;
    const link = this.links.get(peer);
    assert(link !== undefined, `wake-up from an unknown peer ${peer}`);
    this.attempt(link);
  }

  private deliver(connection: PeerConnection, payload: Buffer): void {
    const peer = connection.peer;
    assert(peer !== null, 'payload on a connection without a peer');
    for (const listener of this.messageListeners) listener(peer, payload);
  }

  private onConnectionClosed(connection: PeerConnection, closed: ConnectionClosed): void {
    this.pendingInbound.delete(connection);
    if (this.closed) return;
    this.countAndLogClose(connection, closed);
    const peer = connection.peer;
    const link = peer === null ? undefined : this.links.get(peer);
    if (link === undefined) return;
    if (link.outgoing === connection) link.outgoing = null;
    if (link.connection === connection) {
      link.connection = null;
      this.metricsValue.connectionsLost += 1;
      this.dropQueuedIfStrict(link);
      this.emitPeerState(link.id, 'disconnected');
    }
    if (connection.direction === 'outbound' || closed.closedIn === 'established') {
      this.scheduleRetry(link);
    }
  }

  private countAndLogClose(connection: PeerConnection, closed: ConnectionClosed): void {
    const { error } = closed;
    const what = `${this.prefix()}: closed connection with ${connection.describe()}`;
    if (error instanceof HandshakeError) {
      const authentication =
        error instanceof AuthenticationFailedError ||
        (error instanceof PeerRejectedError && error.authentication);
      if (authentication) this.metricsValue.authenticationFailures += 1;
      else this.metricsValue.handshakeFailures += 1;
      this.logger.warn(`${what}: ${error.name}: ${error.message}`);
    } else if (error instanceof FrameTooLargeError) {
      this.metricsValue.protocolErrors += 1;
      this.logger.warn(`${what}: protocol error: ${error.message}`);
    } else if (closed.closedIn === 'established') {
      this.logger.log(`${what}: ${closed.reason}`);
    } else if (error !== null && connection.direction === 'outbound') {
      this.logDialFailure(connection, error);
    }
  }

  private logDialFailure(connection: PeerConnection, error: Error): void {
    const link = connection.peer === null ? undefined : this.links.get(connection.peer);
    if (link === undefined || link.dialFailureLogged) return;
    link.dialFailureLogged = true;
    this.logger.log(
      `${this.prefix()}: cannot reach ${connection.describe()}: ${error.message}; ` +
        'retrying with backoff (further failures are counted, not logged)',
    );
  }

  // ---- sending --------------------------------------------------------------------------------

  /** Coalesces the sends of one synchronous batch into one corked write. */
  private scheduleFlush(link: PeerLink): void {
    if (link.flushScheduled) return;
    link.flushScheduled = true;
    queueMicrotask(() => {
      link.flushScheduled = false;
      link.connection?.writeFrom(link.queue);
    });
  }

  private flushConnection(connection: PeerConnection): void {
    const link = connection.peer === null ? undefined : this.links.get(connection.peer);
    if (link !== undefined && link.connection === connection) this.scheduleFlush(link);
  }

  /** `queueWhileDisconnected: false`: what a lost link did not write is dropped with it. */
  private dropQueuedIfStrict(link: PeerLink): void {
    if (this.options.queueWhileDisconnected) return;
    this.metricsValue.drops.peerDisconnected += link.queue.length;
    link.queue.clear();
  }

  private drop(count: () => void): false {
    count();
    return false;
  }

  private emitPeerState(peer: PeerId, state: PeerState): void {
    for (const listener of [...this.stateListeners]) listener(peer, state);
  }

  private prefix(): string {
    return `peer transport ${this.options.id}`;
  }
}
