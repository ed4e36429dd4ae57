/**
 * Ensemble configuration: who the members are (ZooKeeper's `server.N=host:port` lines), which
 * of them vote, and which one this replica is. Parsing is pure and reports every mistake at
 * once, each message naming the entry and saying what to change, so a bad configuration
 * fails the start with one readable list.
 *
 * Accepted forms of `ensemble`:
 * - a string `1=127.0.0.1:2888,2=127.0.0.1:2889,3=10.0.0.7:2888:observer` (entries separated
 *   by commas, blanks around entries ignored, IPv6 hosts in brackets: `4=[::1]:2888`);
 * - an array `[{ id: 1, host: '127.0.0.1', port: 2888, role: 'observer' }]` (role optional).
 * `port` is the peer (quorum) port other members connect to.
 */
import type { PeerId } from '../core/ids.js';

export type ReplicaRole = 'participant' | 'observer';

export const REPLICA_ROLES: readonly ReplicaRole[] = ['participant', 'observer'];

/** One member as given in the array form (role defaults to participant). */
export interface EnsembleMemberSpec {
  id: PeerId;
  host: string;
  port: number;
  role?: ReplicaRole;
}

/** One member after parsing. */
export interface EnsembleMember {
  id: PeerId;
  host: string;
  port: number;
  role: ReplicaRole;
}

export type EnsembleSpec = string | readonly EnsembleMemberSpec[];

/** What parsing found: the members (sorted by id) and the problems and warnings about them. */
export interface EnsembleParse {
  members: EnsembleMember[];
  problems: string[];
  warnings: string[];
}

/** Largest server id (ZooKeeper's `myid` is a long; a 31-bit id fits every wire field). */
export const SERVER_ID_MAX = 2 ** 31 - 1;

const EXAMPLE = '1=127.0.0.1:2888,2=127.0.0.1:2889,3=127.0.0.1:2890';
const ENTRY_FORM = 'id=host:port or id=host:port:observer';
const MEMBER_KEYS = new Set(['id', 'host', 'port', 'role']);

/** True for an integer id from 1 to SERVER_ID_MAX. */
export function isServerId(value: unknown): value is number {
  return (
    typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= SERVER_ID_MAX
  );
}

/** Parses either form; never throws. */
export function parseEnsemble(spec: unknown): EnsembleParse {
  const problems: string[] = [];
  let members: EnsembleMember[];
  if (typeof spec === 'string') {
    members = parseEnsembleString(spec, problems);
  } else if (Array.isArray(spec)) {
    members = parseEnsembleArray(spec as unknown[], problems);
  } else {
    problems.push(
      `ensemble must be a string like "${EXAMPLE}" or an array of { id, host, port, role? }; ` +
        `got ${describe(spec)}`,
    );
    return { members: [], problems, warnings: [] };
  }
  const warnings: string[] = [];
  if (problems.length === 0) checkMembers(members, problems, warnings);
  return { members: [...members].sort((a, b) => a.id - b.id), problems, warnings };
}

function parseEnsembleString(text: string, problems: string[]): EnsembleMember[] {
  if (text.trim() === '') {
    problems.push(
      `ensemble is empty; give ${ENTRY_FORM} entries separated by commas, e.g. ${EXAMPLE}`,
    );
    return [];
  }
  const members: EnsembleMember[] = [];
  text.split(',').forEach((raw, index) => {
    const entry = raw.trim();
    const where = `ensemble entry ${index + 1} (${JSON.stringify(entry)})`;
    if (entry === '') {
      problems.push(`${where} is empty; remove the extra comma`);
      return;
    }
    const member = parseEntry(entry, where, problems);
    if (member !== undefined) members.push(member);
  });
  return members;
}

/** `id=host:port[:role]`, host a name, an IPv4 address or `[IPv6]`. */
function parseEntry(entry: string, where: string, problems: string[]): EnsembleMember | undefined {
  const match = /^([^=]*)=(\[[^\]]*\]|[^:\[\]]*):([^:]*)(?::([^:]*))?$/.exec(entry);
  if (match === null) {
    problems.push(`${where} is malformed: expected ${ENTRY_FORM}, e.g. 2=127.0.0.1:2889`);
    return undefined;
  }
  const [, idText, hostText, portText, roleText] = match as unknown as
    [string, string, string, string, string?];
  const before = problems.length;
  const id = /^\s*\d+\s*$/.test(idText) ? Number(idText) : Number.NaN;
  if (!isServerId(id)) {
    problems.push(
      `${where}: id ${JSON.stringify(idText)} must be an integer from 1 to ${SERVER_ID_MAX}`,
    );
  }
  const host = hostText.startsWith('[') ? hostText.slice(1, -1) : hostText;
  const port = /^\d+$/.test(portText) ? Number(portText) : Number.NaN;
  const role = roleText ?? 'participant';
  checkHostPortRole(where, host, port, role, problems, JSON.stringify(portText));
  if (problems.length > before) return undefined;
  return { id, host, port, role: role as ReplicaRole };
}

function parseEnsembleArray(items: unknown[], problems: string[]): EnsembleMember[] {
  if (items.length === 0) {
    problems.push(
      `ensemble is an empty array; list at least this server, ` +
        `e.g. [{ id: 1, host: '127.0.0.1', port: 2888 }]`,
    );
    return [];
  }
  const members: EnsembleMember[] = [];
  items.forEach((item, index) => {
    const where = `ensemble[${index}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problems.push(`${where} must be an object { id, host, port, role? }; got ${describe(item)}`);
      return;
    }
    const fields = item as Record<string, unknown>;
    const before = problems.length;
    for (const key of Object.keys(fields)) {
      if (!MEMBER_KEYS.has(key)) {
        problems.push(`${where}: unknown key "${key}"; members have id, host, port, role`);
      }
    }
    if (!isServerId(fields.id)) {
      problems.push(
        `${where}: id must be an integer from 1 to ${SERVER_ID_MAX}; got ${describe(fields.id)}`,
      );
    }
    const host = typeof fields.host === 'string' ? fields.host : '';
    const hostBad = typeof fields.host !== 'string';
    if (hostBad) problems.push(`${where}: host must be a string; got ${describe(fields.host)}`);
    const port = typeof fields.port === 'number' ? fields.port : Number.NaN;
    const role = fields.role === undefined ? 'participant' : fields.role;
    checkHostPortRole(where, host, port, role, problems, describe(fields.port), hostBad);
    if (problems.length === before) {
      members.push({ id: fields.id as number, host, port, role: role as ReplicaRole });
    }
  });
  return members;
}

function checkHostPortRole(
  where: string,
  host: string,
  port: number,
  role: unknown,
  problems: string[],
  portShown: string,
  hostReported = false,
): void {
  if (!hostReported && (host === '' || /[\s,=/]/.test(host))) {
    problems.push(
      `${where}: host ${JSON.stringify(host)} must be a host name or an IP address ` +
        `(IPv6 in brackets)`,
    );
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    problems.push(
      `${where}: port ${portShown} must be an integer from 1 to 65535 (the peer port, e.g. 2888)`,
    );
  }
  if (!REPLICA_ROLES.includes(role as ReplicaRole)) {
    problems.push(`${where}: role ${describe(role)} must be "participant" or "observer"`);
  }
}

/** Whole-ensemble rules: distinct ids and addresses, at least one voter, an odd voter count. */
function checkMembers(members: EnsembleMember[], problems: string[], warnings: string[]): void {
  const byId = new Map<number, EnsembleMember>();
  const byAddress = new Map<string, EnsembleMember>();
  for (const member of members) {
    if (byId.has(member.id)) {
      problems.push(`ensemble lists id ${member.id} more than once; give each server its own id`);
    }
    byId.set(member.id, member);
    const address = `${member.host.toLowerCase()}:${member.port}`;
    const other = byAddress.get(address);
    if (other !== undefined && other.id !== member.id) {
      problems.push(
        `ensemble members ${other.id} and ${member.id} both use ${formatAddress(member)}; ` +
          `each server needs its own host:port`,
      );
    }
    byAddress.set(address, member);
  }
  const voters = members.filter((m) => m.role === 'participant').length;
  if (voters === 0) {
    problems.push(
      'ensemble has no participants: at least one member must vote (drop ":observer" from one)',
    );
  } else if (voters % 2 === 0) {
    warnings.push(
      `ensemble has ${voters} voting members: an even number survives no more failures than ` +
        `${voters - 1} would (a quorum is ${quorumSize(voters)}); an odd number is recommended`,
    );
  }
}

/** A majority of `voters`. */
export function quorumSize(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** `host:port`, with brackets around an IPv6 host. */
export function formatAddress(member: { host: string; port: number }): string {
  const host = member.host.includes(':') ? `[${member.host}]` : member.host;
  return `${host}:${member.port}`;
}

/** The string form of parsed members (round-trips through `parseEnsemble`). */
export function formatEnsemble(members: readonly EnsembleMember[]): string {
  return members
    .map((m) => `${m.id}=${formatAddress(m)}${m.role === 'observer' ? ':observer' : ''}`)
    .join(',');
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return String(value);
  }
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/** This replica's place in the ensemble, once the options agree with each other. */
export interface Membership {
  id: PeerId;
  role: ReplicaRole;
  /** Sorted by id; undefined when no ensemble was given (a standalone replica). */
  members: EnsembleMember[] | undefined;
}

/**
 * Checks `id`, `role` and `ensemble` together: the id must be in the ensemble and the roles
 * must agree. Defaults: without an ensemble, id 1 and participant; with a one-member ensemble,
 * that member's id; the role defaults to the member's role. Problems and warnings are pushed.
 */
export function resolveMembership(
  given: { id?: unknown; role?: unknown; ensemble?: unknown },
  problems: string[],
  warnings: string[],
): Membership {
  const idGiven = given.id !== undefined;
  if (idGiven && !isServerId(given.id)) {
    problems.push(
      `id must be an integer from 1 to ${SERVER_ID_MAX} (this server's id in the ensemble); ` +
        `got ${describe(given.id)}`,
    );
  }
  if (given.role !== undefined && !REPLICA_ROLES.includes(given.role as ReplicaRole)) {
    problems.push(`role must be "participant" or "observer"; got ${describe(given.role)}`);
  }
  const roleGiven = REPLICA_ROLES.includes(given.role as ReplicaRole)
    ? (given.role as ReplicaRole)
    : undefined;
  const id = isServerId(given.id) ? given.id : undefined;
  if (given.ensemble === undefined) {
    if (roleGiven === 'observer') {
      problems.push(
        'role "observer" needs an ensemble with participants to follow; ' +
          'give ensemble, or drop role',
      );
    }
    return { id: id ?? 1, role: 'participant', members: undefined };
  }
  const parsed = parseEnsemble(given.ensemble);
  problems.push(...parsed.problems);
  warnings.push(...parsed.warnings);
  if (parsed.problems.length > 0) {
    return { id: id ?? 1, role: roleGiven ?? 'participant', members: undefined };
  }
  const members = parsed.members;
  const ids = members.map((m) => m.id).join(', ');
  if (!idGiven && members.length > 1) {
    problems.push(
      `id is required with an ensemble of ${members.length} members: ` +
        `set it to this server's id (one of ${ids})`,
    );
    return { id: 1, role: roleGiven ?? 'participant', members };
  }
  const self = members.find((m) => m.id === (id ?? members[0]!.id));
  if (self === undefined) {
    if (id !== undefined) {
      problems.push(
        `id ${id} is not in the ensemble (ids ${ids}): set id to this server's id, ` +
          `or add an entry ${id}=host:port`,
      );
    }
    return { id: id ?? 1, role: roleGiven ?? 'participant', members };
  }
  if (roleGiven !== undefined && roleGiven !== self.role) {
    const listed = self.role === 'observer' ? 'an observer' : 'a participant';
    const fix = roleGiven === 'observer'
      ? `append ":observer" to entry ${self.id}`
      : `drop ":observer" from entry ${self.id}`;
    problems.push(
      `role is "${roleGiven}" but the ensemble lists server ${self.id} as ${listed}; ` +
        `make them agree (${fix}, or drop role)`,
    );
  }
  return { id: self.id, role: self.role, members };
}
