/**
 * Session passwords of the client port. ZooKeeper hands every new session a 16-byte password
 * and checks it when the client re-establishes the session (on any server of the ensemble).
 * Here the password is derived, not stored: HMAC-SHA256(secret, sessionId) cut to 16 bytes, so
 * every replica that shares the ensemble `secret` can verify a reconnect with nothing
 * replicated. Without a secret a fixed public key is used (as ZooKeeper's own fixed seed
 * `superSecret`): the password then only guards against a client mistyping a session id.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SessionId } from '../core/ids.js';

export const SESSION_PASSWORD_BYTES = 16;

/** Used when no `secret` option is set (documented as not a protection). */
const PUBLIC_KEY = 'nestjs-zab session password (no secret set)';

export class SessionPasswords {
  private readonly key: string;

  constructor(secret: string | undefined) {
    this.key = secret ?? PUBLIC_KEY;
  }

  /** The password of `sessionId`: the same on every replica with the same secret. */
  passwordOf(sessionId: SessionId): Buffer {
    const id = Buffer.alloc(8);
    id.writeBigInt64BE(BigInt.asIntN(64, sessionId));
    const digest = createHmac('sha256', this.key).update(id).digest();
    return digest.subarray(0, SESSION_PASSWORD_BYTES);
  }

  /** True when `password` is the one `sessionId` was given (constant-time comparison). */
  verify(sessionId: SessionId, password: Buffer | null): boolean {
    if (password === null || password.length !== SESSION_PASSWORD_BYTES) return false;
    return timingSafeEqual(this.passwordOf(sessionId), password);
  }
}
