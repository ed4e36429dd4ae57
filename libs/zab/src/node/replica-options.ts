/**
 * Options of an embedded replica, their defaults and their validation. Every problem is
 * reported at once, each with what is wrong and how to fix it, so a bad configuration fails
 * the application's start with one readable message.
 */
import {
  resolveMembership,
  type EnsembleMember,
  type EnsembleMemberSpec,
  type ReplicaRole,
} from './ensemble-config.js';

export interface ReplicaOptions {
  /**
   * Directory of the transaction log and snapshots, or `':memory:'` for a replica that keeps
   * nothing (tests). Default `./.zab/1`.
   */
  dataDir: string;
  /** ZooKeeper's tickTime: session timeouts are negotiated into [2, 20] ticks. Default 2000. */
  tickMs: number;
  /**
   * Tick of the Zab protocol of an ensemble member (election, sync and lease limits count in
   * these ticks; see ENSEMBLE_ZAB_TIMING): a follower notices a silent leader after 10 of them.
   * Independent of `tickMs`, which sessions keep using. Default 25.
   */
  zabTickMs: number;
  /** Requested timeout of this instance's own session. Default 10000 (negotiated). */
  sessionTimeoutMs: number;
  /** Smallest negotiated session timeout; default 2 ticks. */
  minSessionTimeoutMs: number;
  /** Largest negotiated session timeout; default 20 ticks. */
  maxSessionTimeoutMs: number;
  /** Largest znode value in bytes (ZooKeeper's jute.maxbuffer). Default 1 MiB (1048576). */
  dataBytesMax: number;
  /** A snapshot is taken after this many transactions. Default 100000. */
  snapshotEveryTxns: number;
  /** Snapshots kept on disk (with the log needed to replay from the oldest). Default 3. */
  snapshotsRetained: number;
  /** Largest log segment before a new one is started. Default 64 MiB. */
  logSegmentBytesMax: number;
  /** How often empty containers and expired TTL nodes are looked for. Default 60000. */
  containerCheckIntervalMs: number;
  /** Most container/TTL deletions per check (ZooKeeper: 10000 per minute). Default 10000. */
  containerDeletesPerCheckMax: number;
  /** Writes admitted but not yet durable; further writes wait. Default 10000. */
  pendingWritesMax: number;
  /**
   * This server's id in the ensemble (ZooKeeper's `myid`). Default 1, or the only member's id
   * for a one-member ensemble; required when the ensemble has more members.
   */
  id: number;
  /** `participant` (votes) or `observer`; default: this server's role in `ensemble`. */
  role: ReplicaRole;
  /**
   * Members of the ensemble, sorted by id: `'1=127.0.0.1:2888,2=127.0.0.1:2889'` or
   * `[{ id, host, port, role? }]` on input. Absent (default): a standalone replica. More
   * members run the Zab ensemble driver (`EnsembleReplica`), with either isolation.
   */
  ensemble: EnsembleMember[] | undefined;
  /** Shared secret that peers authenticate each other with. Default none. Never printed. */
  secret: string | undefined;
  /**
   * Superuser digest (ZooKeeper's `zookeeper.DigestAuthenticationProvider.superDigest`):
   * `super:base64(sha1('super:' + password))`. A session that runs addAuth('digest',
   * 'super:password') passes every ACL check. Default none. Never printed.
   */
  superDigest: string | undefined;
  /**
   * Port of the admin HTTP endpoint (`/commands/srvr`, `mntr`, `ruok`); 0 lets the OS pick.
   * Default: no endpoint.
   */
  adminPort: number | undefined;
  /** Address the admin endpoint binds to. Default 127.0.0.1 (it has no authentication). */
  adminHost: string;
  /**
   * Where `ZabModule` runs the replica. `'worker'` (default): in a `worker_threads` worker, so
   * app code that blocks the main thread cannot stall its timers, fsyncs or session handling;
   * the app talks to it by batched messages. `'main'`: on the app's own event loop, which
   * saves the message hop and exposes the `Replica` object itself as `ZAB_REPLICA`.
   * `Replica.open` ignores it (it always runs where it is called).
   */
  isolation: ReplicaIsolation;
  /**
   * Port of the ZooKeeper client port (zkCli, Curator, kazoo, node-zookeeper-client); 0 lets
   * the OS pick. Default: no client port.
   */
  clientPort: number | undefined;
  /** Address the client port binds to. Default `0.0.0.0` (every interface, as ZooKeeper). */
  clientHost: string;
  /** Largest client request frame in bytes (ZooKeeper's jute.maxbuffer). Default 1 MiB. */
  clientRequestBytesMax: number;
  /** Open client connections per IP address (ZooKeeper's maxClientCnxns); 0: no cap. Default 60. */
  clientConnectionsPerHostMax: number;
  /** Unanswered requests per connection before it stops reading. Default 1000. */
  clientRequestsInFlightMax: number;
  /**
   * Four-letter words the client port answers (ruok, srvr, stat, mntr, cons, wchs, conf, envi,
   * isro); `['*']` allows all. Default `['srvr']`, as ZooKeeper's `4lw.commands.whitelist`.
   */
  fourLetterWords: string[];
  /**
   * When an ensemble member with an empty data directory may vote (ZK-261; like etcd's
   * `initial-cluster-state`). A member whose directory holds an epoch, a snapshot or a log
   * record is unaffected. `'auto'` (default): it votes only once it has heard from every
   * other voter and all of them were empty too (a brand-new ensemble); otherwise it waits,
   * as a non-voter, for a leader to sync it. `'existing'`: it never votes before it synced
   * (replacing a member's disk). `'new'`: it votes at once, as ZooKeeper does: a quorum of
   * empty members forms a new ensemble even while other members are down; unsafe on a wiped
   * directory (see RELIABILITY.md).
   */
  ensembleState: EnsembleState;
}

export type EnsembleState = 'auto' | 'new' | 'existing';
export const ENSEMBLE_STATES: readonly EnsembleState[] = ['auto', 'new', 'existing'];

/** What callers pass: every option optional, `ensemble` also in its string form. */
export type ReplicaOptionsInput = Partial<Omit<ReplicaOptions, 'ensemble'>> & {
  ensemble?: string | readonly EnsembleMemberSpec[] | undefined;
};

export type ReplicaIsolation = 'worker' | 'main';

export const REPLICA_DEFAULTS: Readonly<ReplicaOptions> = Object.freeze({
  dataDir: './.zab/1',
  tickMs: 2000,
  zabTickMs: 25,
  sessionTimeoutMs: 10_000,
  minSessionTimeoutMs: 4000,
  maxSessionTimeoutMs: 40_000,
  dataBytesMax: 1_048_576,
  snapshotEveryTxns: 100_000,
  snapshotsRetained: 3,
  logSegmentBytesMax: 64 * 1024 * 1024,
  containerCheckIntervalMs: 60_000,
  containerDeletesPerCheckMax: 10_000,
  pendingWritesMax: 10_000,
  id: 1,
  role: 'participant',
  ensemble: undefined,
  secret: undefined,
  superDigest: undefined,
  adminPort: undefined,
  adminHost: '127.0.0.1',
  isolation: 'worker',
  clientPort: undefined,
  clientHost: '0.0.0.0',
  clientRequestBytesMax: 1_048_576,
  clientConnectionsPerHostMax: 60,
  clientRequestsInFlightMax: 1000,
  fourLetterWords: ['srvr'],
  ensembleState: 'auto',
});

/** Thrown when options are invalid; `problems` lists each one. */
export class ReplicaConfigurationError extends Error {
  override readonly name = 'ReplicaConfigurationError';
  constructor(readonly problems: string[]) {
    super(`invalid nestjs-zab options:\n  - ${problems.join('\n  - ')}`);
  }
}

type IntegerRule = [key: keyof ReplicaOptions, min: number, max: number, hint: string];

const INTEGER_RULES: IntegerRule[] = [
  ['tickMs', 10, 600_000, 'a tick of 100 to 3000 ms suits most deployments'],
  ['zabTickMs', 5, 60_000, 'a Zab tick of 10 to 100 ms gives sub-second failover'],
  ['sessionTimeoutMs', 1, 3_600_000,
    'it is negotiated into [minSessionTimeoutMs, maxSessionTimeoutMs]'],
  ['dataBytesMax', 1, 64 * 1024 * 1024, 'ZooKeeper\'s default is 1048576 (1 MiB)'],
  ['snapshotEveryTxns', 1, 1e9, 'e.g. 100000'],
  ['snapshotsRetained', 1, 1000, 'keep at least 1; 3 is a safe default'],
  ['logSegmentBytesMax', 4096, 2 ** 31 - 1, 'e.g. 67108864 (64 MiB)'],
  ['containerCheckIntervalMs', 1, 86_400_000, 'e.g. 60000'],
  ['containerDeletesPerCheckMax', 1, 1e6, 'e.g. 10000'],
  ['pendingWritesMax', 1, 1e7, 'e.g. 10000'],
  ['clientRequestBytesMax', 1024, 64 * 1024 * 1024, 'ZooKeeper\'s jute.maxbuffer is about 1 MiB'],
  ['clientConnectionsPerHostMax', 0, 1e6, 'ZooKeeper\'s maxClientCnxns default is 60; 0: no cap'],
  ['clientRequestsInFlightMax', 1, 1e6, 'e.g. 1000'],
];

/**
 * Fills defaults and validates. Unknown keys are reported too (a typo would otherwise be
 * silently ignored). `minSessionTimeoutMs`/`maxSessionTimeoutMs` default to 2 and 20 ticks;
 * `dataDir` defaults to `./.zab/<id>`. Resolved options are valid input again.
 */
export function resolveReplicaOptions(
  input: ReplicaOptionsInput | undefined,
): ReplicaOptions {
  const given = (input ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(given)) {
    if (!(key in REPLICA_DEFAULTS)) {
      const known = Object.keys(REPLICA_DEFAULTS).join(', ');
      problems.push(`unknown option "${key}"; known options: ${known}`);
    }
  }
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  // Session bounds derive from the tick; from a bad tick, derive from the default instead so
  // one mistake is reported once.
  const tickGiven = defined.tickMs;
  const tickMs =
    typeof tickGiven === 'number' && Number.isInteger(tickGiven) && tickGiven >= 10
      ? tickGiven
      : REPLICA_DEFAULTS.tickMs;
  const { id, role, members } = resolveMembership(defined, problems, []);
  const options: ReplicaOptions = {
    ...REPLICA_DEFAULTS,
    minSessionTimeoutMs: 2 * tickMs,
    maxSessionTimeoutMs: 20 * tickMs,
    dataDir: `./.zab/${id}`,
    ...(defined as Partial<ReplicaOptions>),
    id,
    role,
    ensemble: members,
  };
  checkScalars(options, problems);
  if (problems.length > 0) throw new ReplicaConfigurationError(problems);
  return options;
}

/** Things worth saying at start that are not errors (printed by the app and the module). */
export function replicaOptionWarnings(options: ReplicaOptions): string[] {
  const warnings: string[] = [];
  if (options.ensemble !== undefined) resolveMembership(options, [], warnings);
  if (options.secret === undefined && (options.ensemble?.length ?? 1) > 1) {
    warnings.push(
      'no secret is set: any process that reaches a peer port can join the ensemble; set secret',
    );
  }
  if (options.secret !== undefined && options.secret.length < 16) {
    const length = options.secret.length;
    warnings.push(`the secret has only ${length} characters; use at least 16 random ones`);
  }
  if (options.adminPort !== undefined && !isLoopback(options.adminHost)) {
    warnings.push(
      `the admin endpoint binds to ${options.adminHost} and has no authentication; ` +
        `bind it to 127.0.0.1 unless a firewall protects it`,
    );
  }
  return warnings;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function checkScalars(options: ReplicaOptions, problems: string[]): void {
  if (typeof options.dataDir !== 'string' || options.dataDir.length === 0) {
    problems.push(
      `dataDir must be a non-empty string (a directory path, or ':memory:'); ` +
        `got ${JSON.stringify(options.dataDir)}`,
    );
  }
  if (!ENSEMBLE_STATES.includes(options.ensembleState)) {
    problems.push(
      `ensembleState must be 'auto', 'new' or 'existing'; got ` +
        `${JSON.stringify(options.ensembleState)} ('auto' is safe for new and existing ensembles)`,
    );
  }
  if (options.isolation !== 'worker' && options.isolation !== 'main') {
    problems.push(
      `isolation must be 'worker' or 'main'; got ${JSON.stringify(options.isolation)} ` +
        `('worker' keeps the replica off the app's event loop)`,
    );
  }
  const rules: IntegerRule[] = [
    ...INTEGER_RULES,
    ['minSessionTimeoutMs', 1, 86_400_000, 'ZooKeeper\'s default is 2 * tickMs'],
    ['maxSessionTimeoutMs', 1, 86_400_000, 'ZooKeeper\'s default is 20 * tickMs'],
  ];
  for (const [key, min, max, hint] of rules) {
    const value = options[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      const got = JSON.stringify(value);
      problems.push(`${key} must be an integer from ${min} to ${max}; got ${got} (${hint})`);
    }
  }
  if (problems.length === 0 && options.minSessionTimeoutMs > options.maxSessionTimeoutMs) {
    problems.push(
      `minSessionTimeoutMs (${options.minSessionTimeoutMs}) must not exceed maxSessionTimeoutMs ` +
        `(${options.maxSessionTimeoutMs}); raise maxSessionTimeoutMs or lower minSessionTimeoutMs`,
    );
  }
  checkPeerOptions(options, problems);
  checkClientPortOptions(options, problems);
}

const FOUR_LETTER_WORD_NAMES = ['ruok', 'srvr', 'stat', 'mntr', 'cons', 'wchs', 'conf', 'envi', 'isro'];

function checkClientPortOptions(options: ReplicaOptions, problems: string[]): void {
  const { clientPort, clientHost, fourLetterWords } = options;
  if (clientPort !== undefined && (typeof clientPort !== 'number' || !Number.isInteger(clientPort) ||
    clientPort < 0 || clientPort > 65535)) {
    problems.push(
      `clientPort must be an integer from 0 to 65535 (0: any free port); got ${describeValue(clientPort)}`,
    );
  }
  if (typeof clientHost !== 'string' || clientHost.length === 0) {
    problems.push(
      `clientHost must be a host name or an IP address such as 0.0.0.0; got ${describeValue(clientHost)}`,
    );
  }
  const known = [...FOUR_LETTER_WORD_NAMES, '*'];
  if (!Array.isArray(fourLetterWords) || fourLetterWords.some((w) => !known.includes(w as string))) {
    problems.push(
      `fourLetterWords must be a list of ${known.join(', ')}; got ${JSON.stringify(fourLetterWords)}`,
    );
  }
}

function checkPeerOptions(options: ReplicaOptions, problems: string[]): void {
  const { secret, adminPort, adminHost } = options;
  if (secret !== undefined && (typeof secret !== 'string' || secret.length === 0)) {
    problems.push(
      `secret must be a non-empty string shared by every member; got ${describeValue(secret)}`,
    );
  }
  checkSuperDigest(options.superDigest, problems);
  if (adminPort !== undefined && (typeof adminPort !== 'number' || !Number.isInteger(adminPort) ||
    adminPort < 0 || adminPort > 65535)) {
    problems.push(
      `adminPort must be an integer from 0 to 65535 (0: any free port); ` +
        `got ${describeValue(adminPort)}`,
    );
  }
  if (typeof adminHost !== 'string' || adminHost.length === 0) {
    problems.push(
      `adminHost must be a host name or an IP address such as 127.0.0.1; ` +
        `got ${describeValue(adminHost)}`,
    );
  }
}

/** `user:` then base64 of a 20-byte SHA-1; the value itself is never echoed. */
function checkSuperDigest(superDigest: unknown, problems: string[]): void {
  if (superDigest === undefined) return;
  const match = typeof superDigest === 'string' ? /^([^:]+):([A-Za-z0-9+/]{27}=)$/.exec(superDigest) : null;
  if (match === null) {
    problems.push(
      'superDigest must be user:base64(sha1(user:password)), e.g. super: followed by 28 base64 ' +
        'characters (value not shown); generate it with ' +
        'org.apache.zookeeper.server.auth.DigestAuthenticationProvider or ' +
        '`printf %s super:PASSWORD | openssl sha1 -binary | base64`',
    );
  }
}

function describeValue(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
