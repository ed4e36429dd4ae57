/**
 * `connect` mode options and the choice between the two modes of `ZabModule`: with `connect`
 * the module runs no replica and its client is a `RemoteCoordinationClient` of that ensemble;
 * without it the module runs an embedded replica (replica-options.ts). Replica options given
 * together with `connect` are an error (they would be silently ignored otherwise), reported
 * with every other problem at once, like the replica options.
 */
import { ConnectStringError, parseConnectString } from './connect-string.js';
import type { AuthInfo } from './remote-session.js';
import {
  REPLICA_DEFAULTS,
  ReplicaConfigurationError,
  resolveReplicaOptions,
  type ReplicaOptions,
  type ReplicaOptionsInput,
} from './replica-options.js';

export interface ConnectOptions {
  /** `host:port,host:port[/chroot]` of the ensemble (nestjs-zab replicas or Apache ZooKeeper). */
  connect: string;
  /** Requested session timeout; the ensemble negotiates it. Default 10000. */
  sessionTimeoutMs: number;
  /** Identities sent (addAuth) on every connection. Default none. */
  auth: AuthInfo[];
  /** How long the start may wait for a first session. Default 15000. */
  connectTimeoutMs: number;
}

/** Options only `connect` mode takes. */
export type ConnectOptionsInput = {
  connect?: string;
  auth?: AuthInfo[];
  connectTimeoutMs?: number;
};

/** What `ZabModule.forRoot()` accepts: replica options, or `connect` with its own. */
export type ZabOptionsInput = ReplicaOptionsInput & ConnectOptionsInput;

export type ResolvedZabOptions =
  | { mode: 'replica'; replica: ReplicaOptions }
  | { mode: 'connect'; connect: ConnectOptions };

const CONNECT_ONLY_KEYS = ['connect', 'auth', 'connectTimeoutMs'] as const;
const SHARED_KEYS = ['sessionTimeoutMs'] as const;

export function resolveZabOptions(input: ZabOptionsInput | undefined): ResolvedZabOptions {
  const given = (input ?? {}) as Record<string, unknown>;
  if (given.connect === undefined) {
    const problems = CONNECT_ONLY_KEYS.filter((key) => given[key] !== undefined)
      .map((key) => `${key} applies only with connect (a client of a remote ensemble); remove it or set connect`);
    if (problems.length > 0) throw new ReplicaConfigurationError(problems);
    const { connect: _c, auth: _a, connectTimeoutMs: _t, ...replica } = given;
    return { mode: 'replica', replica: resolveReplicaOptions(replica as ReplicaOptionsInput) };
  }
  return { mode: 'connect', connect: resolveConnectOptions(given) };
}

function resolveConnectOptions(given: Record<string, unknown>): ConnectOptions {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined || (CONNECT_ONLY_KEYS as readonly string[]).includes(key)) continue;
    if ((SHARED_KEYS as readonly string[]).includes(key)) continue;
    if (key in REPLICA_DEFAULTS) {
      problems.push(`${key} is a replica option, but connect runs no replica (it is a client of the ensemble at ${String(given.connect)}); remove ${key} or connect`);
    } else {
      problems.push(`unknown option "${key}"; with connect the options are connect, sessionTimeoutMs, auth, connectTimeoutMs`);
    }
  }
  try {
    parseConnectString(given.connect);
  } catch (error) {
    if (!(error instanceof ConnectStringError)) throw error;
    problems.push(error.message);
  }
  const sessionTimeoutMs = given.sessionTimeoutMs ?? REPLICA_DEFAULTS.sessionTimeoutMs;
  checkInteger('sessionTimeoutMs', sessionTimeoutMs, 1, 3_600_000, problems);
  const connectTimeoutMs = given.connectTimeoutMs ?? 15_000;
  checkInteger('connectTimeoutMs', connectTimeoutMs, 1, 3_600_000, problems);
  const auth = given.auth ?? [];
  checkAuth(auth, problems);
  if (problems.length > 0) throw new ReplicaConfigurationError(problems);
  return {
    connect: given.connect as string,
    sessionTimeoutMs: sessionTimeoutMs as number,
    connectTimeoutMs: connectTimeoutMs as number,
    auth: auth as AuthInfo[],
  };
}

function checkInteger(key: string, value: unknown, min: number, max: number, problems: string[]): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    problems.push(`${key} must be an integer from ${min} to ${max}; got ${JSON.stringify(value)}`);
  }
}

function checkAuth(auth: unknown, problems: string[]): void {
  const good = (entry: unknown): boolean => {
    if (entry === null || typeof entry !== 'object') return false;
    const { scheme, credentials } = entry as Record<string, unknown>;
    return typeof scheme === 'string' && scheme.length > 0 &&
      (typeof credentials === 'string' || Buffer.isBuffer(credentials));
  };
  if (!Array.isArray(auth) || !auth.every(good)) {
    problems.push(`auth must be an array of { scheme, credentials } such as [{ scheme: 'digest', credentials: 'user:password' }]`);
  }
}
