/**
 * The authenticated identities of the sessions a replica serves (ZooKeeper keeps them on the
 * connection, `ServerCnxn.authInfo`): added by addAuth, read by the replica's local ACL checks
 * (reads) and sent with each write to the leader, forgotten when the session ends. Not
 * replicated: a client that moves to another replica sends addAuth again, as ZooKeeper
 * clients do on reconnect.
 *
 * The `digest` provider (ZooKeeper's `DigestAuthenticationProvider`) hashes `user:password`
 * to the identity `user:base64(sha1(user:password))`; when that equals the operator's
 * `superDigest` the session also gets the `super` identity, which passes every ACL check.
 */
import { createHash } from 'node:crypto';
import type { SessionId } from '../core/ids.js';
import { isPermitted, isWorldPermitted, SUPER_ID, type AuthId } from '../state/acl.js';
import { ErrorCode } from '../state/error-code.js';
import { AuthFailedError, NoAuthError, SessionExpiredError } from '../state/keeper-error.js';
import type { Acl } from '../state/stat.js';

/** Most distinct identities one session may hold (ZooKeeper has no bound; ours is a limit). */
export const SESSION_IDENTITIES_MAX = 16;

/** Longest addAuth credential accepted, in bytes. */
export const AUTH_BYTES_MAX = 1024;

const NO_IDENTITIES: readonly AuthId[] = Object.freeze([]);

/** ZooKeeper's `DigestAuthenticationProvider.generateDigest`: `user:base64(sha1(text))`. */
export function generateDigest(userAndPassword: string): string {
  const user = userAndPassword.split(':', 1)[0]!;
  const hash = createHash('sha1').update(userAndPassword, 'utf8').digest('base64');
  return `${user}:${hash}`;
}

export interface SessionAuthOptions {
  /** `super:base64(sha1(super:password))`, or undefined for no superuser. */
  superDigest?: string;
}

export class SessionAuth {
  private readonly identitiesBySession = new Map<SessionId, AuthId[]>();

  constructor(private readonly options: SessionAuthOptions = {}) {}

  /**
   * ZooKeeper's addAuth for `sessionId`. Throws `AuthFailedError` for a scheme with no
   * provider here (anything but `digest`), credentials that are not UTF-8 `user:password`
   * within AUTH_BYTES_MAX, or a session already holding SESSION_IDENTITIES_MAX identities.
   */
  addAuth(sessionId: SessionId, scheme: string, auth: Uint8Array): void {
    if (scheme !== 'digest') {
      throw new AuthFailedError(ErrorCode.AuthFailed, undefined,
        `no authentication provider for scheme ${JSON.stringify(scheme)} (only digest)`);
    }
    const text = decodeCredentials(auth);
    const identity: AuthId = { scheme: 'digest', id: generateDigest(text) };
    const added = [identity];
    if (this.options.superDigest !== undefined && identity.id === this.options.superDigest) {
      added.push(SUPER_ID);
    }
    const current = this.identitiesBySession.get(sessionId) ?? [];
    const fresh = added.filter((a) => !current.some((c) => c.scheme === a.scheme && c.id === a.id));
    if (current.length + fresh.length > SESSION_IDENTITIES_MAX) {
      throw new AuthFailedError(ErrorCode.AuthFailed, undefined,
        `a session holds at most ${SESSION_IDENTITIES_MAX} identities`);
    }
    this.identitiesBySession.set(sessionId, [...current, ...fresh]);
  }

  /**
   * The session's identities. The list is never modified (addAuth replaces it), so a write
   * that captured it keeps the identities it was issued with.
   */
  identitiesOf(sessionId: SessionId): readonly AuthId[] {
    return this.identitiesBySession.get(sessionId) ?? NO_IDENTITIES;
  }

  /** The session ended: its identities go with it. */
  forget(sessionId: SessionId): void {
    this.identitiesBySession.delete(sessionId);
  }

  /** Forgets every session `isLive` rejects (after installing a snapshot). */
  retainOnly(isLive: (sessionId: SessionId) => boolean): void {
    for (const sessionId of [...this.identitiesBySession.keys()]) {
      if (!isLive(sessionId)) this.identitiesBySession.delete(sessionId);
    }
  }

  /** Sessions holding identities (for tests and status). */
  get size(): number {
    return this.identitiesBySession.size;
  }

  /**
   * Throws `NoAuthError` unless the session may do `permission` on a node with `acl`; a
   * missing node (`acl` undefined) passes, the read itself reports NoNode.
   */
  check(sessionId: SessionId, acl: readonly Acl[] | undefined, permission: number, path: string):
    void {
    // world:anyone first: the common case needs no lookup of the session's identities.
    if (acl === undefined || isWorldPermitted(acl, permission) ||
      isPermitted(acl, permission, this.identitiesOf(sessionId))) return;
    throw new NoAuthError(ErrorCode.NoAuth, path);
  }
}

/** The addAuth bytes as `user:password` text; AuthFailed when they cannot be. */
function decodeCredentials(auth: Uint8Array): string {
  if (!(auth instanceof Uint8Array) || auth.length > AUTH_BYTES_MAX) {
    throw new AuthFailedError(ErrorCode.AuthFailed, undefined,
      `digest credentials must be at most ${AUTH_BYTES_MAX} bytes of user:password`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(auth);
  } catch {
    throw new AuthFailedError(ErrorCode.AuthFailed, undefined, 'digest credentials are not UTF-8');
  }
  if (!text.includes(':')) {
    throw new AuthFailedError(ErrorCode.AuthFailed, undefined,
      'digest credentials must be user:password');
  }
  return text;
}

/** For callers that must report a session that is gone. */
export function sessionGone(sessionId: SessionId): SessionExpiredError {
  return new SessionExpiredError(ErrorCode.SessionExpired, undefined,
    `session 0x${sessionId.toString(16)} is not live on this replica`);
}
