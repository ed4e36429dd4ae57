/**
 * The peer handshake: the first frames on every connection, before any protocol payload.
 *
 * Roles: the side that opened the TCP connection is the dialer, the other the acceptor.
 * Tie rule (ZooKeeper's QuorumCnxManager): the link of a pair is always the connection dialed
 * by the HIGHER id. A lower id never dials a link; it sends a wake-up (a HELLO to a higher
 * id), which the acceptor answers with DIAL_BACK and then dials the lower id itself. So
 * simultaneous dials cannot produce two links, and a restarted lower id is reached at once.
 *
 *   dialer                                   acceptor
 *   HELLO(version, auth, dialerId, targetId, dialerNonce)  ->
 *       <- DIAL_BACK                               (dialerId < acceptorId: a wake-up)
 *       <- CHALLENGE(version, auth, acceptorId, acceptorNonce, acceptorProof)
 *   PROOF(dialerProof)                       ->
 *       <- ACCEPTED                                (or REJECTED(code, reason), any time)
 *
 * With a secret, proof = HMAC-SHA256(secret, role label || dialerId || acceptorId ||
 * dialerNonce || acceptorNonce): each side proves knowledge of the secret over both fresh
 * nonces and both ids, so a recorded proof is useless on another connection and the role
 * label stops a proof being reflected back. Without a secret the proofs are empty and `auth`
 * is 0; a peer whose `auth` differs from ours is rejected. Proofs compare in constant time.
 * A wake-up is not authenticated: it only makes us dial the address our own ensemble map
 * gives for that id, and that dial authenticates.
 *
 * Scope: the HMAC handshake keeps out processes that do not know the secret (a misconfigured
 * replica, a stranger on the network). It does not protect the frames that follow: without
 * `tls` they travel in clear and unauthenticated, so an active attacker on the path could
 * read or alter them. Use `tls` where the network is not trusted.
 *
 * Encoding (big-endian, inside a frame): byte 0 is the message type. Ids are uint32.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { PeerId } from '../../core/ids.js';
import {
  AuthenticationFailedError,
  HandshakeError,
  HandshakeProtocolError,
  PeerRejectedError,
  ProtocolVersionMismatchError,
  UnknownPeerError,
} from '../errors/handshake-errors.js';

export const PEER_PROTOCOL_VERSION = 1;
/** "ZABP": guards against a stranger protocol (HTTP, a ZooKeeper client) on the peer port. */
export const HANDSHAKE_MAGIC = 0x5a414250;
export const NONCE_BYTES = 32;
export const PROOF_BYTES = 32;
/** Largest handshake frame: the limit before the peer is authenticated. */
export const HANDSHAKE_FRAME_BYTES_MAX = 256;
const REJECT_REASON_BYTES_MAX = 200;

const enum MessageType {
  Hello = 1,
  Challenge = 2,
  Proof = 3,
  Accepted = 4,
  DialBack = 5,
  Rejected = 6,
}

const enum RejectCode {
  Protocol = 1,
  UnknownPeer = 2,
  Authentication = 3,
}

const DIALER_LABEL = Buffer.from('nestjs-zab peer dialer v1', 'utf8');
const ACCEPTOR_LABEL = Buffer.from('nestjs-zab peer acceptor v1', 'utf8');

export interface HandshakeContext {
  localId: PeerId;
  /** True for an id of the ensemble other than ours. */
  isKnownPeer(id: PeerId): boolean;
  /** The shared secret, or null when peers are not authenticated. */
  secret: Buffer | null;
  /** Fresh random bytes for a nonce (crypto-grade in production). */
  randomNonce(): Buffer;
}

/** What the connection must do after a handshake frame. */
export type HandshakeStep =
  | { kind: 'send'; frame: Buffer }
  | { kind: 'established'; peer: PeerId; frame: Buffer | null }
  | { kind: 'wake-up'; peer: PeerId; frame: Buffer }
  | { kind: 'dialed-back'; peer: PeerId }
  | { kind: 'rejected'; error: HandshakeError; frame: Buffer | null };

export function computeProof(
  secret: Buffer,
  role: 'dialer' | 'acceptor',
  ids: { dialerId: PeerId; acceptorId: PeerId },
  nonces: { dialerNonce: Buffer; acceptorNonce: Buffer },
): Buffer {
  const idBytes = Buffer.alloc(8);
  idBytes.writeUInt32BE(ids.dialerId, 0);
  idBytes.writeUInt32BE(ids.acceptorId, 4);
  return createHmac('sha256', secret)
    .update(role === 'dialer' ? DIALER_LABEL : ACCEPTOR_LABEL)
    .update(idBytes)
    .update(nonces.dialerNonce)
    .update(nonces.acceptorNonce)
    .digest();
}

/** Constant-time comparison; a proof of the wrong length never matches. */
export function proofMatches(expected: Buffer, received: Buffer): boolean {
  return received.length === expected.length && timingSafeEqual(expected, received);
}

// ---- encoding -------------------------------------------------------------------------------

export function encodeHello(
  context: HandshakeContext,
  targetId: PeerId,
  nonce: Buffer,
): Buffer {
  const frame = Buffer.alloc(1 + 4 + 2 + 1 + 4 + 4 + NONCE_BYTES);
  let offset = frame.writeUInt8(MessageType.Hello, 0);
  offset = frame.writeUInt32BE(HANDSHAKE_MAGIC, offset);
  offset = frame.writeUInt16BE(PEER_PROTOCOL_VERSION, offset);
  offset = frame.writeUInt8(context.secret === null ? 0 : 1, offset);
  offset = frame.writeUInt32BE(context.localId, offset);
  offset = frame.writeUInt32BE(targetId, offset);
  nonce.copy(frame, offset);
  return frame;
}

function encodeChallenge(context: HandshakeContext, nonce: Buffer, proof: Buffer): Buffer {
  const frame = Buffer.alloc(1 + 2 + 1 + 4 + NONCE_BYTES + 1 + proof.length);
  let offset = frame.writeUInt8(MessageType.Challenge, 0);
  offset = frame.writeUInt16BE(PEER_PROTOCOL_VERSION, offset);
  offset = frame.writeUInt8(context.secret === null ? 0 : 1, offset);
  offset = frame.writeUInt32BE(context.localId, offset);
  offset += nonce.copy(frame, offset);
  offset = frame.writeUInt8(proof.length, offset);
  proof.copy(frame, offset);
  return frame;
}

function encodeProof(proof: Buffer): Buffer {
  const frame = Buffer.alloc(2 + proof.length);
  frame.writeUInt8(MessageType.Proof, 0);
  frame.writeUInt8(proof.length, 1);
  proof.copy(frame, 2);
  return frame;
}

const ACCEPTED_FRAME = Buffer.from([MessageType.Accepted]);
const DIAL_BACK_FRAME = Buffer.from([MessageType.DialBack]);

/** REJECTED carries a code and a short reason for the other side's log. */
export function encodeRejected(error: HandshakeError): Buffer {
  const code =
    error instanceof AuthenticationFailedError
      ? RejectCode.Authentication
      : error instanceof UnknownPeerError
        ? RejectCode.UnknownPeer
        : RejectCode.Protocol;
  const reason = Buffer.from(error.message, 'utf8').subarray(0, REJECT_REASON_BYTES_MAX);
  return Buffer.concat([Buffer.from([MessageType.Rejected, code]), reason]);
}

// ---- decoding -------------------------------------------------------------------------------

interface Hello {
  version: number;
  authenticated: boolean;
  senderId: PeerId;
  targetId: PeerId;
  nonce: Buffer;
}

interface Challenge {
  version: number;
  authenticated: boolean;
  senderId: PeerId;
  nonce: Buffer;
  proof: Buffer;
}

function malformed(what: string, frame: Buffer): HandshakeProtocolError {
  return new HandshakeProtocolError(`malformed ${what} (${frame.length} bytes)`);
}

function decodeHello(frame: Buffer): Hello | HandshakeError {
  if (frame.length !== 1 + 4 + 2 + 1 + 4 + 4 + NONCE_BYTES) return malformed('HELLO', frame);
  if (frame.readUInt32BE(1) !== HANDSHAKE_MAGIC) {
    return new HandshakeProtocolError('not a nestjs-zab peer (bad magic in HELLO)');
  }
  return {
    version: frame.readUInt16BE(5),
    authenticated: frame.readUInt8(7) === 1,
    senderId: frame.readUInt32BE(8),
    targetId: frame.readUInt32BE(12),
    nonce: Buffer.from(frame.subarray(16, 16 + NONCE_BYTES)),
  };
}

function decodeChallenge(frame: Buffer): Challenge | HandshakeError {
  const fixed = 1 + 2 + 1 + 4 + NONCE_BYTES + 1;
  if (frame.length < fixed || frame.length !== fixed + frame.readUInt8(fixed - 1)) {
    return malformed('CHALLENGE', frame);
  }
  return {
    version: frame.readUInt16BE(1),
    authenticated: frame.readUInt8(3) === 1,
    senderId: frame.readUInt32BE(4),
    nonce: Buffer.from(frame.subarray(8, 8 + NONCE_BYTES)),
    proof: Buffer.from(frame.subarray(fixed)),
  };
}

function decodeProof(frame: Buffer): Buffer | HandshakeError {
  if (frame.length < 2 || frame.length !== 2 + frame.readUInt8(1)) return malformed('PROOF', frame);
  return Buffer.from(frame.subarray(2));
}

function decodeRejected(frame: Buffer): PeerRejectedError {
  const code = frame.length >= 2 ? frame.readUInt8(1) : RejectCode.Protocol;
  const reason = frame.subarray(2, 2 + REJECT_REASON_BYTES_MAX).toString('utf8');
  return new PeerRejectedError(code === RejectCode.Authentication, reason || 'no reason given');
}

function messageType(frame: Buffer): number {
  return frame.length === 0 ? 0 : frame.readUInt8(0);
}

// ---- checks shared by both roles --------------------------------------------------------------

function checkVersionAndAuthentication(
  context: HandshakeContext,
  peer: { version: number; authenticated: boolean; senderId: PeerId },
): HandshakeError | null {
  if (peer.version !== PEER_PROTOCOL_VERSION) {
    return new ProtocolVersionMismatchError(PEER_PROTOCOL_VERSION, peer.version);
  }
  if (peer.authenticated !== (context.secret !== null)) {
    return new AuthenticationFailedError(
      peer.authenticated
        ? `peer ${peer.senderId} uses a secret but this replica has none`
        : `peer ${peer.senderId} has no secret but this replica requires one`,
    );
  }
  return null;
}

function rejectedStep(error: HandshakeError, tellPeer: boolean): HandshakeStep {
  return { kind: 'rejected', error, frame: tellPeer ? encodeRejected(error) : null };
}

// ---- state machines -----------------------------------------------------------------------------

/**
 * The dialer's side. `start()` gives the HELLO; each received frame gives the next step.
 * Dialing a higher id is a wake-up: the only good answer is DIAL_BACK.
 */
export class DialerHandshake {
  private readonly nonce: Buffer;
  private state: 'awaiting-challenge' | 'awaiting-accepted' | 'done' = 'awaiting-challenge';

  constructor(
    private readonly context: HandshakeContext,
    readonly targetId: PeerId,
  ) {
    this.nonce = context.randomNonce();
  }

  get isWakeUp(): boolean {
    return this.targetId > this.context.localId;
  }

  start(): Buffer {
    return encodeHello(this.context, this.targetId, this.nonce);
  }

  onFrame(frame: Buffer): HandshakeStep {
    const type = messageType(frame);
    if (type === MessageType.Rejected) {
      return this.finish(rejectedStep(decodeRejected(frame), false));
    }
    if (this.state === 'awaiting-challenge' && type === MessageType.DialBack && this.isWakeUp) {
      return this.finish({ kind: 'dialed-back', peer: this.targetId });
    }
    if (this.state === 'awaiting-challenge' && type === MessageType.Challenge && !this.isWakeUp) {
      return this.onChallenge(frame);
    }
    if (this.state === 'awaiting-accepted' && type === MessageType.Accepted) {
      return this.finish({ kind: 'established', peer: this.targetId, frame: null });
    }
    const error = new HandshakeProtocolError(
      `unexpected handshake message ${type} (${this.state})`,
    );
    return this.finish(rejectedStep(error, true));
  }

  private onChallenge(frame: Buffer): HandshakeStep {
    const challenge = decodeChallenge(frame);
    if (challenge instanceof HandshakeError) return this.finish(rejectedStep(challenge, true));
    const problem = checkVersionAndAuthentication(this.context, challenge);
    if (problem !== null) return this.finish(rejectedStep(problem, true));
    if (challenge.senderId !== this.targetId) {
      const error = new UnknownPeerError(
        `dialed peer ${this.targetId} but peer ${challenge.senderId} answered`,
      );
      return this.finish(rejectedStep(error, true));
    }
    const ids = { dialerId: this.context.localId, acceptorId: this.targetId };
    const nonces = { dialerNonce: this.nonce, acceptorNonce: challenge.nonce };
    const secret = this.context.secret;
    if (secret !== null) {
      const expected = computeProof(secret, 'acceptor', ids, nonces);
      if (!proofMatches(expected, challenge.proof)) {
        const error = new AuthenticationFailedError(
          `peer ${this.targetId} did not prove the shared secret (wrong secret?)`,
        );
        return this.finish(rejectedStep(error, true));
      }
    }
    this.state = 'awaiting-accepted';
    const proof = secret === null ? Buffer.alloc(0) : computeProof(secret, 'dialer', ids, nonces);
    return { kind: 'send', frame: encodeProof(proof) };
  }

  private finish(step: HandshakeStep): HandshakeStep {
    this.state = 'done';
    return step;
  }
}

/** The acceptor's side: validates HELLO, answers a wake-up or challenges, checks PROOF. */
export class AcceptorHandshake {
  private readonly nonce: Buffer;
  private state: 'awaiting-hello' | 'awaiting-proof' | 'done' = 'awaiting-hello';
  private hello: Hello | null = null;

  constructor(private readonly context: HandshakeContext) {
    this.nonce = context.randomNonce();
  }

  /** The dialer's claimed id once HELLO was read (for log lines), else null. */
  get claimedPeer(): PeerId | null {
    return this.hello?.senderId ?? null;
  }

  onFrame(frame: Buffer): HandshakeStep {
    const type = messageType(frame);
    if (type === MessageType.Rejected) {
      return this.finish(rejectedStep(decodeRejected(frame), false));
    }
    if (this.state === 'awaiting-hello' && type === MessageType.Hello) return this.onHello(frame);
    if (this.state === 'awaiting-proof' && type === MessageType.Proof) return this.onProof(frame);
    const error = new HandshakeProtocolError(
      `unexpected handshake message ${type} (${this.state})`,
    );
    return this.finish(rejectedStep(error, true));
  }

  private onHello(frame: Buffer): HandshakeStep {
    const hello = decodeHello(frame);
    if (hello instanceof HandshakeError) return this.finish(rejectedStep(hello, true));
    this.hello = hello;
    const { localId } = this.context;
    if (hello.targetId !== localId) {
      const error = new UnknownPeerError(
        `peer ${hello.senderId} meant to reach peer ${hello.targetId}, this is peer ${localId}`,
      );
      return this.finish(rejectedStep(error, true));
    }
    if (!this.context.isKnownPeer(hello.senderId)) {
      const error = new UnknownPeerError(`peer id ${hello.senderId} is not in the ensemble`);
      return this.finish(rejectedStep(error, true));
    }
    const problem = checkVersionAndAuthentication(this.context, hello);
    if (problem !== null) return this.finish(rejectedStep(problem, true));
    if (hello.senderId < localId) {
      return this.finish({ kind: 'wake-up', peer: hello.senderId, frame: DIAL_BACK_FRAME });
    }
    this.state = 'awaiting-proof';
    const secret = this.context.secret;
    const proof =
      secret === null
        ? Buffer.alloc(0)
        : computeProof(secret, 'acceptor', this.ids(hello), this.nonces(hello));
    return { kind: 'send', frame: encodeChallenge(this.context, this.nonce, proof) };
  }

  private onProof(frame: Buffer): HandshakeStep {
    const hello = this.hello;
    if (hello === null) return this.finish(rejectedStep(malformed('PROOF', frame), true));
    const proof = decodeProof(frame);
    if (proof instanceof HandshakeError) return this.finish(rejectedStep(proof, true));
    const secret = this.context.secret;
    if (secret !== null) {
      const expected = computeProof(secret, 'dialer', this.ids(hello), this.nonces(hello));
      if (!proofMatches(expected, proof)) {
        const error = new AuthenticationFailedError(
          `peer ${hello.senderId} did not prove the shared secret (wrong secret?)`,
        );
        return this.finish(rejectedStep(error, true));
      }
    }
    return this.finish({ kind: 'established', peer: hello.senderId, frame: ACCEPTED_FRAME });
  }

  private ids(hello: Hello): { dialerId: PeerId; acceptorId: PeerId } {
    return { dialerId: hello.senderId, acceptorId: this.context.localId };
  }

  private nonces(hello: Hello): { dialerNonce: Buffer; acceptorNonce: Buffer } {
    return { dialerNonce: hello.nonce, acceptorNonce: this.nonce };
  }

  private finish(step: HandshakeStep): HandshakeStep {
    this.state = 'done';
    return step;
  }
}
