/**
 * ZooKeeper's ACL rules, pure: which identities a node's ACL lets do what
 * (`ZooKeeperServer.checkACL`), how a create/setACL list is validated and its `auth` entries
 * expanded (`PrepRequestProcessor.fixupACL`), and what getACL shows a reader without ADMIN.
 *
 * Identities (`AuthId`, ZooKeeper's `Id`) are what a session proved with addAuth; the serving
 * replica derives them (hashing is I/O-free but lives in node/, see session-auth.ts) and the
 * leader's preparer only compares them. Schemes known here, as in a default ZooKeeper server:
 * - `world:anyone` — everyone;
 * - `digest:user:base64(sha1(user:password))` — matched by equal identity;
 * - `ip:address[/bits]` — valid in ACLs and matched against `ip` identities by address prefix
 *   (the embedded replica assigns none: it has no client address; see README "ACLs");
 * - `auth` — only in a create/setACL list: "every authenticated identity of this session";
 * - the `super` identity (from the superDigest option) passes every check.
 */
import type { Acl } from './stat.js';

/** An authenticated identity of a session (ZooKeeper's `Id`). */
export interface AuthId {
  readonly scheme: string;
  readonly id: string;
}

/** The identity a superuser gets (ZooKeeper adds `super:` when the digest is superDigest). */
export const SUPER_ID: AuthId = Object.freeze({ scheme: 'super', id: '' });

/** Longest ACL scheme or id accepted (ZooKeeper has none; ours keeps requests bounded). */
export const ACL_TEXT_LENGTH_MAX = 4096;

/**
 * ZooKeeper's `checkACL`: true when `identities` may do `permission` (a bit set of `Perms`;
 * any one bit suffices, so READ|ADMIN means "read or admin") on a node with `acl`. An empty
 * ACL allows everything, as in ZooKeeper (never stored by this replica).
 */
export function isPermitted(
  acl: readonly Acl[],
  permission: number,
  identities: readonly AuthId[],
): boolean {
  if (acl.length === 0 || isWorldPermitted(acl, permission)) return true;
  for (const identity of identities) if (identity.scheme === SUPER_ID.scheme) return true;
  for (const entry of acl) {
    if ((entry.perms & permission) === 0) continue;
    for (const identity of identities) {
      if (identity.scheme === entry.scheme && matches(entry.scheme, identity.id, entry.id)) {
        return true;
      }
    }
  }
  return false;
}

/** True when a `world:anyone` entry grants a bit of `permission`: no identity needed. */
export function isWorldPermitted(acl: readonly Acl[], permission: number): boolean {
  for (const entry of acl) {
    if ((entry.perms & permission) !== 0 && entry.scheme === 'world' && entry.id === 'anyone') {
      return true;
    }
  }
  return false;
}

/** The scheme's `matches(identity, aclExpression)`; unknown schemes never match. */
function matches(scheme: string, identity: string, expression: string): boolean {
  switch (scheme) {
    case 'digest':
      return identity === expression;
    case 'ip':
      return ipMatches(identity, expression);
    default:
      return false;
  }
}

/**
 * ZooKeeper's `fixupACL`: `auth` entries replaced by one entry per authenticated identity of
 * the session (with the entry's perms), duplicates removed. Undefined (InvalidAcl) when the
 * list is empty or malformed, has an entry of a scheme the server has no provider for or with
 * an id that provider rejects, or has `auth` while the session has no authenticated identity.
 */
export function fixupAcl(acl: readonly Acl[], identities: readonly AuthId[] = []): Acl[] | undefined {
  // Requests come from the wire: a malformed list is the client's error, not an invariant.
  if (!Array.isArray(acl)) return undefined;
  const unique: Acl[] = [];
  const add = (entry: Acl): void => {
    const seen = unique.some(
      (u) => u.perms === entry.perms && u.scheme === entry.scheme && u.id === entry.id,
    );
    if (!seen) unique.push({ perms: entry.perms, scheme: entry.scheme, id: entry.id });
  };
  for (const entry of acl as readonly unknown[]) {
    if (!isAcl(entry)) return undefined;
    if (entry.scheme === 'auth') {
      // Only identities a provider calls authenticated (digest; not ip, not super).
      const authenticated = identities.filter((identity) => identity.scheme === 'digest');
      if (authenticated.length === 0) return undefined;
      for (const identity of authenticated) {
        add({ perms: entry.perms, scheme: identity.scheme, id: identity.id });
      }
    } else if (isValidAclId(entry.scheme, entry.id)) {
      add(entry);
    } else {
      return undefined;
    }
  }
  return unique.length === 0 ? undefined : unique;
}

/**
 * What getACL returns to a reader with READ but not ADMIN (ZooKeeper 3.6+): digest ids keep
 * the user and hide the hash (`user:x`), so the password hash cannot be attacked offline.
 */
export function redactDigests(acl: readonly Acl[]): Acl[] {
  return acl.map((entry) => entry.scheme === 'digest'
    ? { perms: entry.perms, scheme: entry.scheme, id: entry.id.replace(/:.*$/s, ':x') }
    : { perms: entry.perms, scheme: entry.scheme, id: entry.id });
}

/**
 * A well-formed entry: perms a bit set of the five permissions, scheme and id strings that
 * encode as UTF-8 and decode back unchanged (no lone surrogates), so the logged txn replays
 * to exactly the applied value.
 */
function isAcl(entry: unknown): entry is Acl {
  if (typeof entry !== 'object' || entry === null) return false;
  const { perms, scheme, id } = entry as Record<string, unknown>;
  return Number.isInteger(perms) && (perms as number) >= 0 && (perms as number) <= 31 &&
    isWellFormedText(scheme) && isWellFormedText(id);
}

function isWellFormedText(value: unknown): value is string {
  return typeof value === 'string' && value.length <= ACL_TEXT_LENGTH_MAX &&
    !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value);
}

/** The id check of the scheme's provider; false for a scheme with no provider. */
export function isValidAclId(scheme: string, id: string): boolean {
  switch (scheme) {
    case 'world':
      return id === 'anyone';
    case 'digest':
      return isValidDigestId(id);
    case 'ip':
      return parseIpExpression(id) !== undefined;
    default:
      // `auth` is expanded by fixupAcl; `super`, `sasl`, `x509` and the rest have no provider
      // on a default ZooKeeper server, which answers InvalidACL.
      return false;
  }
}

/**
 * DigestAuthenticationProvider.isValid: Java's `id.split(":").length == 2`, where split drops
 * trailing empty strings (so `:hash` is valid, `user:` and `a:b:c` are not).
 */
function isValidDigestId(id: string): boolean {
  const parts = id.split(':');
  while (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  return parts.length === 2;
}

interface IpExpression {
  readonly bytes: number[];
  readonly bits: number;
}

/** IPAuthenticationProvider.isValid: an IPv4 or IPv6 address with an optional `/bits`. */
function parseIpExpression(id: string): IpExpression | undefined {
  const [address = '', bitsText, extra] = id.split('/');
  if (extra !== undefined) return undefined;
  const bytes = parseIpv4(address) ?? parseIpv6(address);
  if (bytes === undefined) return undefined;
  if (bitsText === undefined) return { bytes, bits: bytes.length * 8 };
  if (!/^\d+$/.test(bitsText) || Number(bitsText) > bytes.length * 8) return undefined;
  return { bytes, bits: Number(bitsText) };
}

function parseIpv4(address: string): number[] | undefined {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) return undefined;
  const bytes = address.split('.').map(Number);
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

/** IPv6 with at most one `::`; hex groups of up to 4 digits. */
function parseIpv6(address: string): number[] | undefined {
  if (!/^[0-9a-fA-F:]+$/.test(address) || !address.includes(':')) return undefined;
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const groups = (text: string): string[] => (text === '' ? [] : text.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 2 && missing < 1) || (halves.length === 1 && missing !== 0)) {
    return undefined;
  }
  const all = [...head, ...new Array<string>(Math.max(missing, 0)).fill('0'), ...tail];
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]);
}

/** IPAuthenticationProvider.matches: the identity's address lies in the expression's prefix. */
function ipMatches(identity: string, expression: string): boolean {
  const address = parseIpv4(identity) ?? parseIpv6(identity);
  const prefix = parseIpExpression(expression);
  if (address === undefined || prefix === undefined) return false;
  if (address.length !== prefix.bytes.length) return false;
  for (let bit = 0; bit < prefix.bits; bit++) {
    const mask = 0x80 >> (bit % 8);
    if ((address[bit >> 3]! & mask) !== (prefix.bytes[bit >> 3]! & mask)) return false;
  }
  return true;
}
