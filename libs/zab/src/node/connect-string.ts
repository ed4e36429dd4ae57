/**
 * ZooKeeper's connection string, `host:port,host:port[/chroot]` (ConnectStringParser), and the
 * order the client tries its servers in (StaticHostProvider): shuffled once, then round-robin.
 *
 * With a chroot every path the application uses is relative to it: the client prefixes it on
 * the way out and strips it from paths the server returns (created paths, watch events,
 * ephemerals). A host without a port uses 2181, ZooKeeper's default.
 */
import { pathProblem } from '../state/path.js';

export const ZOOKEEPER_CLIENT_PORT_DEFAULT = 2181;

export interface ServerAddress {
  host: string;
  port: number;
}

export interface ConnectString {
  servers: ServerAddress[];
  /** The chroot without a trailing slash, or '' for none. */
  chroot: string;
}

/** Thrown for a connection string that cannot be used, saying what is wrong. */
export class ConnectStringError extends Error {
  override readonly name = 'ConnectStringError';
}

export function parseConnectString(input: unknown): ConnectString {
  if (typeof input !== 'string' || input.trim().length === 0) {
    throw new ConnectStringError(
      `connect must be a non-empty string such as '127.0.0.1:2181,127.0.0.1:2182/app'; got ${String(input)}`,
    );
  }
  const slash = input.indexOf('/');
  const hostList = slash < 0 ? input : input.slice(0, slash);
  const chroot = slash < 0 ? '' : parseChroot(input.slice(slash));
  const servers = hostList.split(',').map((entry) => entry.trim()).filter((e) => e.length > 0)
    .map((entry) => parseServer(entry, input));
  if (servers.length === 0) throw new ConnectStringError(`connect "${input}" names no server`);
  return { servers, chroot };
}

function parseChroot(chroot: string): string {
  if (chroot === '/') return '';
  const problem = pathProblem(chroot);
  if (problem !== null) throw new ConnectStringError(`invalid chroot "${chroot}": ${problem}`);
  return chroot;
}

function parseServer(entry: string, input: string): ServerAddress {
  // [v6 address]:port, host:port, or a bare host.
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  const plain = /^([^:\[\]]+)(?::(\d+))?$/.exec(entry);
  const match = bracketed ?? plain;
  if (match === null) {
    throw new ConnectStringError(`invalid server "${entry}" in connect "${input}"; use host:port`);
  }
  const port = match[2] === undefined ? ZOOKEEPER_CLIENT_PORT_DEFAULT : Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConnectStringError(`invalid port in "${entry}" (connect "${input}"); use 1 to 65535`);
  }
  return { host: match[1]!, port };
}

/**
 * Server order for (re)connection attempts: shuffled once with `random` (Fisher–Yates), then
 * round-robin, so clients spread over the ensemble and a dead server is skipped in turn.
 */
export class HostProvider {
  private readonly order: ServerAddress[];
  private next = 0;

  constructor(servers: readonly ServerAddress[], random: (() => number) | null = Math.random) {
    this.order = [...servers];
    if (random === null) return;
    for (let i = this.order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [this.order[i], this.order[j]] = [this.order[j]!, this.order[i]!];
    }
  }

  get size(): number {
    return this.order.length;
  }

  /** The next server to try. */
  nextServer(): ServerAddress {
    const server = this.order[this.next]!;
    this.next = (this.next + 1) % this.order.length;
    return server;
  }
}

/** `path` as the server knows it (chroot prefixed). */
export function toServerPath(chroot: string, path: string): string {
  if (chroot === '') return path;
  return path === '/' ? chroot : chroot + path;
}

/** `path` as the application knows it (chroot stripped); paths outside the chroot unchanged. */
export function toClientPath(chroot: string, path: string): string {
  if (chroot === '') return path;
  if (path === chroot) return '/';
  return path.startsWith(`${chroot}/`) ? path.slice(chroot.length) : path;
}
