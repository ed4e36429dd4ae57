/**
 * Options of the TCP peer transport, their defaults and their validation (every problem is
 * reported at once, with what was given).
 */
import type { PeerId } from '../../core/ids.js';
import { TransportConfigurationError } from '../errors/transport-configuration-error.js';
import type { PeerAddress } from '../peer-transport.js';
import { FRAME_PAYLOAD_BYTES_LIMIT } from '../frame-encoder.js';

/** PEM material for mutual TLS: our key and certificate, and the CA that signs every peer's. */
export interface PeerTlsOptions {
  key: string | Buffer;
  cert: string | Buffer;
  ca: string | Buffer | Array<string | Buffer>;
  /** Check that a peer's certificate names the host we dialed. Default true. */
  verifyHostname?: boolean;
}

export interface TcpPeerTransportOptions {
  /** This replica's id; must be a key of `ensemble`. */
  id: PeerId;
  /** Every voting and observing replica, this one included: id -> peer address. */
  ensemble: ReadonlyMap<PeerId, PeerAddress> | Readonly<Record<number, PeerAddress>>;
  /** Shared secret for HMAC-SHA256 peer authentication. Unset: peers are not authenticated. */
  secret?: string | Buffer;
  /** Mutual TLS for every peer connection. Unset: plain TCP. */
  tls?: PeerTlsOptions;
  /** Address to bind; default the host of our own ensemble entry (port always from it). */
  listenHost?: string;
  /** Payload bytes allowed in one frame, both directions. Default 4 MiB. */
  frameBytesMax?: number;
  /** Payloads queued per peer before `send` drops. Default 16384. */
  sendQueueMessagesMax?: number;
  /** Payload bytes queued per peer before `send` drops. Default 64 MiB. */
  sendQueueBytesMax?: number;
  /** First reconnect delay (before jitter). Default 50 ms. */
  reconnectDelayMsMin?: number;
  /** Cap on the reconnect delay (before jitter). Default 2000 ms. */
  reconnectDelayMsMax?: number;
  /** Connect plus handshake must finish within this. Default 5000 ms (ZooKeeper cnxTimeout). */
  handshakeTimeoutMs?: number;
  /** Inbound connections allowed in handshake at once; more are refused. Default 64. */
  pendingHandshakesMax?: number;
  /**
   * Close an established link on which no byte was sent or received for this long; 0
   * disables. Default 0: idle links are normal (followers do not talk to each other), and
   * dead peers are found by TCP keepalive and by the protocol's own heartbeats.
   */
  idleTimeoutMs?: number;
  /** TCP keepalive probe delay on every connection; 0 disables. Default 10000 ms. */
  keepAliveDelayMs?: number;
  /**
   * True (default, as ZooKeeper's QuorumCnxManager): payloads sent to a peer without a link
   * wait in its bounded queue and go out when a link is established. False: such sends are
   * dropped, and a lost link drops what was still queued, so every payload a peer receives
   * was sent while the link it arrives on was up (a strict channel per link).
   */
  queueWhileDisconnected?: boolean;
}

export interface ResolvedTcpPeerTransportOptions {
  id: PeerId;
  ensemble: ReadonlyMap<PeerId, PeerAddress>;
  secret: Buffer | null;
  tls: PeerTlsOptions | null;
  listenHost: string;
  listenPort: number;
  frameBytesMax: number;
  sendQueueMessagesMax: number;
  sendQueueBytesMax: number;
  reconnectDelayMsMin: number;
  reconnectDelayMsMax: number;
  handshakeTimeoutMs: number;
  pendingHandshakesMax: number;
  idleTimeoutMs: number;
  keepAliveDelayMs: number;
  queueWhileDisconnected: boolean;
}

export const TCP_PEER_TRANSPORT_DEFAULTS = {
  frameBytesMax: 4 * 1024 * 1024,
  sendQueueMessagesMax: 16_384,
  sendQueueBytesMax: 64 * 1024 * 1024,
  reconnectDelayMsMin: 50,
  reconnectDelayMsMax: 2_000,
  handshakeTimeoutMs: 5_000,
  pendingHandshakesMax: 64,
  idleTimeoutMs: 0,
  keepAliveDelayMs: 10_000,
} as const;

const PEER_ID_MAX = 0xffffffff;

type IntegerOption = keyof typeof TCP_PEER_TRANSPORT_DEFAULTS;
const INTEGER_RANGES: Record<IntegerOption, [number, number]> = {
  frameBytesMax: [1, FRAME_PAYLOAD_BYTES_LIMIT],
  sendQueueMessagesMax: [1, 1e9],
  sendQueueBytesMax: [1, Number.MAX_SAFE_INTEGER],
  reconnectDelayMsMin: [1, 3_600_000],
  reconnectDelayMsMax: [1, 3_600_000],
  handshakeTimeoutMs: [1, 3_600_000],
  pendingHandshakesMax: [1, 1e6],
  idleTimeoutMs: [0, 3_600_000],
  keepAliveDelayMs: [0, 3_600_000],
};

function ensembleMap(options: TcpPeerTransportOptions): Map<PeerId, PeerAddress> {
  const given = options.ensemble;
  if (given instanceof Map) return new Map(given);
  return new Map(Object.entries(given).map(([id, address]) => [Number(id), address]));
}

function checkEnsemble(ensemble: Map<PeerId, PeerAddress>, id: PeerId, problems: string[]) {
  for (const [peer, address] of ensemble) {
    if (!Number.isInteger(peer) || peer < 0 || peer > PEER_ID_MAX) {
      problems.push(`ensemble id ${peer} must be an integer from 0 to ${PEER_ID_MAX}`);
    }
    const port = address?.port;
    if (typeof address?.host !== 'string' || address.host === '') {
      problems.push(`ensemble entry ${peer} needs a non-empty host`);
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      problems.push(`ensemble entry ${peer} needs a port from 1 to 65535; got ${String(port)}`);
    }
  }
  if (!ensemble.has(id)) problems.push(`id ${id} is not in the ensemble`);
}

export function resolveTcpPeerTransportOptions(
  options: TcpPeerTransportOptions,
): ResolvedTcpPeerTransportOptions {
  const problems: string[] = [];
  const ensemble = ensembleMap(options);
  checkEnsemble(ensemble, options.id, problems);
  const numbers = { ...TCP_PEER_TRANSPORT_DEFAULTS } as Record<IntegerOption, number>;
  for (const name of Object.keys(INTEGER_RANGES) as IntegerOption[]) {
    const value = options[name];
    if (value === undefined) continue;
    const [min, max] = INTEGER_RANGES[name];
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}; got ${String(value)}`);
    } else {
      numbers[name] = value;
    }
  }
  if (numbers.reconnectDelayMsMin > numbers.reconnectDelayMsMax) {
    problems.push('reconnectDelayMsMin must not exceed reconnectDelayMsMax');
  }
  if (numbers.sendQueueBytesMax < numbers.frameBytesMax) {
    problems.push('sendQueueBytesMax must be at least frameBytesMax (one full frame)');
  }
  const secret = options.secret === undefined ? null : Buffer.from(options.secret);
  if (secret !== null && secret.length === 0) problems.push('secret must not be empty');
  if (problems.length > 0) throw new TransportConfigurationError(problems);
  const own = ensemble.get(options.id)!;
  return {
    ...numbers,
    id: options.id,
    ensemble,
    secret,
    tls: options.tls ?? null,
    listenHost: options.listenHost ?? own.host,
    queueWhileDisconnected: options.queueWhileDisconnected ?? true,
    listenPort: own.port,
  };
}
