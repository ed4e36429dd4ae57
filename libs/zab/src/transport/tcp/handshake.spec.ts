/**
 * Goal: the handshake state machines admit exactly the peers they should: same secret (or
 * both without one) -> established both ways; a wrong or missing secret, an id outside the
 * ensemble, a misdirected dial, another protocol version -> rejected with the typed error,
 * and the other side is told why; a lower id's HELLO is a wake-up answered by DIAL_BACK;
 * proofs cannot be replayed or reflected; arbitrary bytes never throw.
 * Method: no sockets; a dialer and an acceptor exchange frames in memory (bounded steps);
 * tampering is done on the frames in flight; fast-check feeds random frames.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { PeerId } from '../../core/ids.js';
import {
  AuthenticationFailedError,
  HandshakeProtocolError,
  PeerRejectedError,
  ProtocolVersionMismatchError,
  UnknownPeerError,
} from '../errors/handshake-errors.js';
import {
  AcceptorHandshake,
  DialerHandshake,
  NONCE_BYTES,
  type HandshakeContext,
  type HandshakeStep,
} from './handshake.js';

const ENSEMBLE = [1, 2, 3];

function context(localId: PeerId, secret: string | null): HandshakeContext {
  return {
    localId,
    isKnownPeer: (id) => id !== localId && ENSEMBLE.includes(id),
    secret: secret === null ? null : Buffer.from(secret),
    randomNonce: () => randomBytes(NONCE_BYTES),
  };
}

type Tamper = (frame: Buffer, from: 'dialer' | 'acceptor', index: number) => Buffer;

interface Outcome {
  dialer: HandshakeStep;
  acceptor: HandshakeStep | null;
}

/** Runs both machines until one side stops; `tamper` may rewrite any frame in flight. */
function run(dialer: DialerHandshake, acceptor: AcceptorHandshake, tamper?: Tamper): Outcome {
  let toAcceptor: Buffer | null = dialer.start();
  let acceptorStep: HandshakeStep | null = null;
  for (let index = 0; index < 4 && toAcceptor !== null; index += 1) {
    acceptorStep = acceptor.onFrame(tamper ? tamper(toAcceptor, 'dialer', index) : toAcceptor);
    const reply = acceptorStep.kind === 'send' ? acceptorStep.frame : framedReply(acceptorStep);
    if (reply === null) {
      return { dialer: { kind: 'send', frame: Buffer.alloc(0) }, acceptor: acceptorStep };
    }
    const dialerStep = dialer.onFrame(tamper ? tamper(reply, 'acceptor', index) : reply);
    if (dialerStep.kind !== 'send') {
      if (dialerStep.kind === 'rejected' && dialerStep.frame !== null) {
        acceptorStep = acceptor.onFrame(dialerStep.frame);
      }
      return { dialer: dialerStep, acceptor: acceptorStep };
    }
    toAcceptor = dialerStep.frame;
  }
  assert.fail('handshake did not finish within 4 round trips');
}

/** Dialer `dialerId` (secret `dialerSecret`) calls acceptor `acceptorId`. */
function handshake(
  dialer: [PeerId, string | null],
  acceptor: [PeerId, string | null],
  tamper?: Tamper,
  targetId: PeerId = acceptor[0],
): Outcome {
  return run(
    new DialerHandshake(context(dialer[0], dialer[1]), targetId),
    new AcceptorHandshake(context(acceptor[0], acceptor[1])),
    tamper,
  );
}

function framedReply(step: HandshakeStep): Buffer | null {
  if (step.kind === 'established' || step.kind === 'wake-up') return step.frame;
  if (step.kind === 'rejected') return step.frame;
  return null;
}

function rejection(step: HandshakeStep | null): Error {
  assert.ok(step !== null && step.kind === 'rejected', `expected a rejection, got ${step?.kind}`);
  return step.error;
}

test('the same secret establishes the link on both sides, naming each other', () => {
  const outcome = handshake([3, 's3cret'], [1, 's3cret']);
  assert.deepEqual(outcome.dialer, { kind: 'established', peer: 1, frame: null });
  assert.equal(outcome.acceptor?.kind, 'established');
  assert.equal(outcome.acceptor.kind === 'established' && outcome.acceptor.peer, 3);
});

test('two replicas without a secret establish the link', () => {
  const outcome = handshake([2, null], [1, null]);
  assert.equal(outcome.dialer.kind, 'established');
  assert.equal(outcome.acceptor?.kind, 'established');
});

test('a wrong secret is caught by the dialer; the acceptor is told it was authentication', () => {
  const outcome = handshake([3, 'right'], [1, 'wrong']);
  const dialerError = rejection(outcome.dialer);
  assert.ok(dialerError instanceof AuthenticationFailedError);
  assert.match(dialerError.message, /peer 1 did not prove the shared secret/);
  const acceptorError = rejection(outcome.acceptor);
  assert.ok(acceptorError instanceof PeerRejectedError);
  assert.equal(acceptorError.authentication, true);
});

test('a secret on one side only is rejected, whichever side has it', () => {
  const noSecretDialer = handshake([3, null], [1, 'x']);
  const acceptorError = rejection(noSecretDialer.acceptor);
  assert.ok(acceptorError instanceof AuthenticationFailedError);
  assert.match(acceptorError.message, /peer 3 has no secret but this replica requires one/);
  assert.ok(rejection(noSecretDialer.dialer) instanceof PeerRejectedError);

  const noSecretAcceptor = handshake([3, 'x'], [1, null]);
  const acceptorMessage = rejection(noSecretAcceptor.acceptor).message;
  assert.match(acceptorMessage, /uses a secret but this replica has none/);
});

test('an id outside the ensemble, or a dial meant for another replica, is rejected', () => {
  const stranger = handshake([9, 'k'], [1, 'k']);
  const error = rejection(stranger.acceptor);
  assert.ok(error instanceof UnknownPeerError);
  assert.match(error.message, /peer id 9 is not in the ensemble/);
  assert.ok(rejection(stranger.dialer) instanceof PeerRejectedError);

  const misdirected = handshake([3, 'k'], [1, 'k'], undefined, 2);
  assert.match(rejection(misdirected.acceptor).message, /meant to reach peer 2, this is peer 1/);
});

test('a HELLO from a lower id is a wake-up: DIAL_BACK, no challenge, no secret needed', () => {
  const outcome = handshake([1, 'k'], [3, 'k']);
  assert.equal(outcome.acceptor?.kind, 'wake-up');
  assert.deepEqual(outcome.dialer, { kind: 'dialed-back', peer: 3 });
});

test('another protocol version is rejected with ProtocolVersionMismatchError', () => {
  const bumpVersion: Tamper = (frame, from, index) => {
    if (from !== 'dialer' || index !== 0) return frame;
    const copy = Buffer.from(frame);
    copy.writeUInt16BE(2, 5);
    return copy;
  };
  const outcome = handshake([3, 'k'], [1, 'k'], bumpVersion);
  const error = rejection(outcome.acceptor);
  assert.ok(error instanceof ProtocolVersionMismatchError);
  assert.equal(error.remoteVersion, 2);
});

test('a proof with one flipped bit, or the acceptor proof reflected back, is rejected', () => {
  const flip: Tamper = (frame, from, index) => {
    if (from !== 'dialer' || index !== 1) return frame;
    const copy = Buffer.from(frame);
    copy[copy.length - 1]! ^= 1;
    return copy;
  };
  const flipped = handshake([3, 'k'], [1, 'k'], flip);
  assert.ok(rejection(flipped.acceptor) instanceof AuthenticationFailedError);

  // Reflection: a dialer without the secret answers with the acceptor's own proof.
  let acceptorProof = Buffer.alloc(0);
  const reflect: Tamper = (frame, from, index) => {
    if (from === 'acceptor' && index === 0) acceptorProof = Buffer.from(frame.subarray(41));
    if (from !== 'dialer' || index !== 1) return frame;
    return Buffer.concat([Buffer.from([frame[0]!, acceptorProof.length]), acceptorProof]);
  };
  const reflected = handshake([3, 'k'], [1, 'k'], reflect);
  assert.equal(acceptorProof.length, 32);
  assert.ok(rejection(reflected.acceptor) instanceof AuthenticationFailedError);
});

test('random frames never throw: each is answered or rejected with a typed error', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (bytes, asDialer) => {
      const frame = Buffer.from(bytes);
      const step = asDialer
        ? new DialerHandshake(context(3, 'k'), 1).onFrame(frame)
        : new AcceptorHandshake(context(1, 'k')).onFrame(frame);
      if (step.kind === 'rejected') {
        assert.ok(
          step.error instanceof HandshakeProtocolError ||
            step.error instanceof PeerRejectedError ||
            step.error instanceof UnknownPeerError ||
            step.error instanceof AuthenticationFailedError ||
            step.error instanceof ProtocolVersionMismatchError,
          step.error.name,
        );
      }
    }),
    { numRuns: 1000 },
  );
});
