/**
 * Goal: every peer message survives encode/decode unchanged, decoded buffers are copies (a
 * proposal's txn and a request's bytes excepted: views), and bad bytes (truncated at every
 * offset, trailing, unknown version/type/state, random) raise `JuteDecodeError` and nothing
 * else.
 * Method: fast-check arbitraries covering every message type with full-range fields, plus
 * golden bytes for one message to pin the layout.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JuteDecodeError } from '../jute/jute-error.js';
import { SERVER_STATES, type PeerMessage } from '../core/peer-message.js';
import { decodePeerMessage, encodePeerMessage, PEER_CODEC_VERSION } from './peer-message-codec.js';

const zxid = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
const int = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const epoch = fc.integer({ min: 0, max: 2 ** 31 - 1 });
const bytes = fc.uint8Array({ maxLength: 64 }).map((array) => Buffer.from(array));
const touch = fc.record({ sessionId: zxid, timeoutMs: int });

const message: fc.Arbitrary<PeerMessage> = fc.oneof(
  fc.record({ type: fc.constant('notification' as const), state: fc.constantFrom(...SERVER_STATES),
    leader: int, zxid, round: int, peerEpoch: epoch }),
  fc.record({ type: fc.constant('followerInfo' as const), acceptedEpoch: epoch,
    hasData: fc.boolean() }),
  fc.record({ type: fc.constant('observerInfo' as const), acceptedEpoch: epoch }),
  fc.record({ type: fc.constant('leaderInfo' as const), epoch }),
  fc.record({ type: fc.constant('ackEpoch' as const), currentEpoch: epoch, lastZxid: zxid,
    counted: fc.boolean() }),
  fc.record({ type: fc.constantFrom('diff' as const, 'trunc' as const, 'commit' as const,
    'ack' as const, 'upToDate' as const), zxid }),
  fc.record({ type: fc.constant('newLeader' as const), zxid, lastZxid: zxid }),
  fc.integer({ min: 1, max: 5 }).chain((chunkCount) => fc.record({
    type: fc.constant('snap' as const), zxid,
    chunkIndex: fc.integer({ min: 0, max: chunkCount - 1 }),
    chunkCount: fc.constant(chunkCount), bytes })),
  fc.record({ type: fc.constantFrom('proposal' as const, 'inform' as const), zxid, txn: bytes }),
  fc.record({ type: fc.constant('ping' as const), fromLeader: fc.boolean(), heartbeat: int,
    sessionTouches: fc.array(touch, { maxLength: 5 }) }),
  fc.record({ type: fc.constant('request' as const), sessionId: zxid, cxid: int, bytes }),
  fc.record({ type: fc.constant('sync' as const), syncId: int }),
  fc.record({ type: fc.constant('syncReply' as const), syncId: int, zxid }),
) as fc.Arbitrary<PeerMessage>;

/** fast-check records have a null prototype; compare as ordinary objects. */
function plain(value: unknown): unknown {
  if (Buffer.isBuffer(value) || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(plain);
  return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, plain(field)]));
}

function decodesOrJuteError(input: Buffer): void {
  try {
    decodePeerMessage(input);
  } catch (error) {
    assert.ok(error instanceof JuteDecodeError, `unexpected ${String(error)}`);
  }
}

describe('peer message codec', () => {
  test('round-trips every message type', () => {
    fc.assert(fc.property(message, (original) => {
      assert.deepEqual(decodePeerMessage(encodePeerMessage(original)), plain(original));
    }), { numRuns: 2000 });
  });

  test('golden bytes of a NEWLEADER', () => {
    const encoded = encodePeerMessage({ type: 'newLeader', zxid: 0x200000000n,
      lastZxid: 0x100000007n });
    assert.equal(encoded.toString('hex'), '010a' + '0000000200000000' + '0000000100000007');
  });

  test('decoded buffers are copies of the frame, but a proposal\'s txn is a view into it', () => {
    const snap = encodePeerMessage({ type: 'snap', zxid: 1n, chunkIndex: 0, chunkCount: 1,
      bytes: Buffer.from('abc') });
    const decodedSnap = decodePeerMessage(snap);
    snap.fill(0);
    assert.equal(decodedSnap.type === 'snap' && decodedSnap.bytes.toString(), 'abc');
    const proposal = encodePeerMessage({ type: 'proposal', zxid: 1n, txn: Buffer.from('abc') });
    const decodedProposal = decodePeerMessage(proposal);
    assert.equal(decodedProposal.type === 'proposal' && decodedProposal.txn.toString(), 'abc');
    proposal.fill(0x78);
    assert.equal(decodedProposal.type === 'proposal' && decodedProposal.txn.toString(), 'xxx',
      'no copy per txn on the follower');
  });

  test('every truncation and any trailing byte is a JuteDecodeError', () => {
    fc.assert(fc.property(message, (original) => {
      const encoded = encodePeerMessage(original);
      for (let length = 0; length < encoded.length; length++) {
        assert.throws(() => decodePeerMessage(encoded.subarray(0, length)), JuteDecodeError);
      }
      assert.throws(() => decodePeerMessage(Buffer.concat([encoded, Buffer.from([0])])),
        JuteDecodeError);
    }), { numRuns: 300 });
  });

  test('unknown version, type, state and bad chunk fields are rejected', () => {
    const ping = encodePeerMessage({ type: 'sync', syncId: 1 });
    const badVersion = Buffer.from([PEER_CODEC_VERSION + 1, ...ping.subarray(1)]);
    assert.throws(() => decodePeerMessage(badVersion),
      JuteDecodeError);
    assert.throws(() => decodePeerMessage(Buffer.from([PEER_CODEC_VERSION, 99, 0, 0, 0, 1])),
      JuteDecodeError);
    const notification = encodePeerMessage({ type: 'notification', state: 'looking', leader: 1,
      zxid: 0n, round: 1, peerEpoch: 0 });
    notification.writeInt32BE(9, 2);
    assert.throws(() => decodePeerMessage(notification), JuteDecodeError);
    const snap = encodePeerMessage({ type: 'snap', zxid: 0n, chunkIndex: 0, chunkCount: 1,
      bytes: Buffer.alloc(0) });
    snap.writeInt32BE(3, 10);
    assert.throws(() => decodePeerMessage(snap), JuteDecodeError);
    const touches = encodePeerMessage({ type: 'ping', fromLeader: false, heartbeat: 1,
      sessionTouches: [] });
    touches.writeInt32BE(2 ** 30, 7);
    assert.throws(() => decodePeerMessage(touches), JuteDecodeError);
  });

  test('random bytes never crash the decoder', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (random) => {
      decodesOrJuteError(Buffer.from(random));
      decodesOrJuteError(Buffer.from([PEER_CODEC_VERSION, ...random]));
    }), { numRuns: 5000 });
  });
});
