/**
 * Test support for the TCP peer transport: loopback ports from the OS, a recording logger,
 * ensembles started together, and bounded event-driven waits (no sleeps).
 *
 * Ports: `reserveLoopbackPorts` listens on 127.0.0.1 port 0 (the OS picks a free port), reads
 * the ports and closes those servers, because each transport must know every peer's port
 * before it starts. The port is free again only for a moment; `startEnsemble` retries a
 * bounded number of times when another process takes one first (EADDRINUSE).
 */
import * as net from 'node:net';
import type { PeerId } from '../../core/ids.js';
import type { PeerAddress, PeerTransport, TransportLogger } from '../peer-transport.js';
import { TcpPeerTransport, type TcpPeerTransportPorts } from './tcp-peer-transport.js';
import type { TcpPeerTransportOptions } from './tcp-peer-transport-options.js';

export const LOOPBACK = '127.0.0.1';
const START_ATTEMPTS_MAX = 5;

export async function reserveLoopbackPorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => {
      return new Promise<net.Server>((resolve, reject) => {
        const server = net.createServer();
        server.once('error', reject);
        server.listen({ host: LOOPBACK, port: 0 }, () => resolve(server));
      });
    }),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

export interface LogLine {
  level: 'log' | 'warn' | 'error';
  message: string;
}

/** Keeps every line and wakes waiters; `waitFor` resolves on the first matching line. */
export class RecordingLogger implements TransportLogger {
  readonly lines: LogLine[] = [];
  private readonly waiters = new Set<() => void>();

  log(message: string): void {
    this.record('log', message);
  }
  warn(message: string): void {
    this.record('warn', message);
  }
  error(message: string): void {
    this.record('error', message);
  }

  matching(pattern: RegExp): LogLine[] {
    return this.lines.filter((line) => pattern.test(line.message));
  }

  waitFor(pattern: RegExp, timeoutMs: number): Promise<LogLine> {
    return waitUntil(
      () => this.matching(pattern)[0],
      (wake) => {
        this.waiters.add(wake);
        return () => this.waiters.delete(wake);
      },
      timeoutMs,
      `a log line matching ${pattern}`,
    );
  }

  private record(level: LogLine['level'], message: string): void {
    this.lines.push({ level, message });
    for (const wake of [...this.waiters]) wake();
  }
}

/**
 * Resolves with `check()`'s first non-undefined value, re-checking whenever `subscribe`'s
 * callback fires; rejects after `timeoutMs` naming `what`.
 */
export function waitUntil<T>(
  check: () => T | undefined,
  subscribe: (wake: () => void) => () => void,
  timeoutMs: number,
  what: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const first = check();
    if (first !== undefined) return resolve(first);
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const unsubscribe = subscribe(() => {
      const value = check();
      if (value === undefined) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(value);
    });
  });
}

/** Waits until `transport` has exactly `peers` connected (ascending ids). */
export function waitForConnectedPeers(
  transport: PeerTransport,
  peers: PeerId[],
  timeoutMs: number,
): Promise<true> {
  const wanted = [...peers].sort((a, b) => a - b).join(',');
  return waitUntil(
    () => (transport.connectedPeers().join(',') === wanted ? true : undefined),
    (wake) => transport.onPeerState(wake),
    timeoutMs,
    `connected peers [${wanted}] (now [${transport.connectedPeers().join(',')}])`,
  );
}

export function ensembleOf(ports: number[]): Map<PeerId, PeerAddress> {
  return new Map(ports.map((port, index) => [index + 1, { host: LOOPBACK, port }]));
}

export interface StartedPeer {
  id: PeerId;
  transport: TcpPeerTransport;
  logger: RecordingLogger;
}

type PeerOptions = Partial<Omit<TcpPeerTransportOptions, 'id' | 'ensemble'>>;

/**
 * Starts ids 1..count on fresh loopback ports, all at once (so their dials cross), with the
 * options `optionsOf(id)` gives. Retries with new ports if a reserved port was taken.
 */
export async function startEnsemble(
  count: number,
  optionsOf: (id: PeerId) => PeerOptions = () => ({}),
  ports: (id: PeerId) => TcpPeerTransportPorts = () => ({}),
): Promise<{ peers: StartedPeer[]; ensemble: Map<PeerId, PeerAddress> }> {
  for (let attempt = 1; ; attempt += 1) {
    const ensemble = ensembleOf(await reserveLoopbackPorts(count));
    const ids = [...ensemble.keys()];
    const loggers = ids.map(() => new RecordingLogger());
    const started = await Promise.allSettled(
      ids.map((id, index) => {
        const options = { ...optionsOf(id), id, ensemble };
        return TcpPeerTransport.start(options, { logger: loggers[index]!, ...ports(id) });
      }),
    );
    const failed = started.find((result) => result.status === 'rejected');
    if (failed === undefined) {
      const peers = started.map((result, index) => ({
        id: ids[index]!,
        transport: (result as PromiseFulfilledResult<TcpPeerTransport>).value,
        logger: loggers[index]!,
      }));
      return { peers, ensemble };
    }
    await Promise.all(
      started.map((result) => (result.status === 'fulfilled' ? result.value.close() : undefined)),
    );
    const reason = (failed as PromiseRejectedResult).reason as NodeJS.ErrnoException;
    if (reason.code !== 'EADDRINUSE' || attempt >= START_ATTEMPTS_MAX) throw reason;
  }
}

export async function closeAll(peers: Array<{ transport: PeerTransport }>): Promise<void> {
  await Promise.all(peers.map((peer) => peer.transport.close()));
}

/** Records `(from, payload)` per sender and wakes waiters on every message. */
export class MessageRecorder {
  readonly bySender = new Map<PeerId, Buffer[]>();
  private readonly waiters = new Set<() => void>();

  constructor(transport: PeerTransport) {
    transport.onMessage((from, payload) => {
      const list = this.bySender.get(from) ?? [];
      list.push(payload);
      this.bySender.set(from, list);
      for (const wake of [...this.waiters]) wake();
    });
  }

  count(from: PeerId): number {
    return this.bySender.get(from)?.length ?? 0;
  }

  waitForCount(from: PeerId, count: number, timeoutMs: number): Promise<true> {
    return waitUntil(
      () => (this.count(from) >= count ? true : undefined),
      (wake) => {
        this.waiters.add(wake);
        return () => this.waiters.delete(wake);
      },
      timeoutMs,
      `${count} messages from peer ${from} (have ${this.count(from)})`,
    );
  }
}
