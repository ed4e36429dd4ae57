/**
 * Goal: the client-protocol codec reads back exactly what it writes in both directions
 * (client → server, server → client), matches ZooKeeper's bytes for the frames every client
 * sends first, and treats any bytes as untrusted: malformed or truncated input becomes a
 * `malformed` value holding a JuteDecodeError, an oversized frame a `tooLarge` value, and
 * nothing ever throws.
 * Method: fast-check draws every request and reply type (wire-arbitraries); each is
 * serialized, its length prefix checked, and parsed back; then every truncation of each
 * payload is parsed and must be malformed (the one legal cut is a ConnectRequest or
 * ConnectResponse without its trailing readOnly byte, which old peers send). Golden frames
 * come from GoldenBytes (an independent encoder). Random bytes go through every parser.
 * A stream of several frames is split at every offset and fed through the transport's
 * FrameDecoder (the framing the client port will use) and then parsed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JuteDecodeError } from '../jute/jute-error.js';
import { InvariantViolation } from '../util/assert.js';
import { FrameDecoder } from '../transport/frame-decoder.js';
import { FrameTooLargeError } from '../transport/errors/frame-errors.js';
import { parseClientRequest, type ClientRequest } from './client-request-parser.js';
import { serializeClientRequest, serializeConnectRequest } from './client-request-serializer.js';
import { OpCode, opCodeName } from './op-code.js';
import type { OperationRequest, OperationResponse } from './operation.js';
import { GoldenBytes } from './records/golden-encoder.test-support.js';
import { parseConnectResponse, parseServerReply } from './server-reply-parser.js';
import {
  serializeConnectResponse,
  serializeNotification,
  serializeReply,
} from './server-reply-serializer.js';
import { SpecialXid } from './special-xid.js';
import * as arbitrary from './wire-arbitraries.test-support.js';
import { ReplyTooLargeError, RequestTooLargeError } from './wire-errors.js';
import {
  DEFAULT_WIRE_LIMITS,
  REPLY_BYTES_MAX_DEFAULT,
  REQUEST_BYTES_MAX_DEFAULT,
} from './wire-limits.js';

const RUNS = { numRuns: 300 };

/** Checks the 4-byte prefix counts exactly the payload, and returns the payload. */
function payloadOf(frame: Buffer): Buffer {
  assert.ok(frame.length >= 4);
  assert.equal(frame.readInt32BE(0), frame.length - 4);
  return frame.subarray(4);
}

function assertMalformed(result: { kind: string; error?: unknown }, why: string): void {
  assert.equal(result.kind, 'malformed', why);
  assert.ok(result.error instanceof JuteDecodeError, why);
}

function eachTruncation(payload: Buffer, check: (cut: Buffer, length: number) => void): void {
  for (let length = 0; length < payload.length; length++) {
    check(Buffer.from(payload.subarray(0, length)), length);
  }
}

test('every operation request round-trips through serializer and parser', () => {
  fc.assert(
    fc.property(arbitrary.xid, arbitrary.operationRequest, (xid, request) => {
      const payload = payloadOf(serializeClientRequest(xid, request));
      const parsed = parseClientRequest(payload, 'operation');
      assert.deepEqual(parsed, { kind: 'operation', header: { xid, type: request.type }, request });
    }),
    RUNS,
  );
});

test('every truncation of an operation request is malformed', () => {
  fc.assert(
    fc.property(arbitrary.xid, arbitrary.operationRequest, (xid, request) => {
      const payload = payloadOf(serializeClientRequest(xid, request));
      eachTruncation(payload, (cut, length) =>
        assertMalformed(parseClientRequest(cut, 'operation'), `op ${request.type} cut ${length}`),
      );
    }),
    { numRuns: 150 },
  );
});

/** Serializes a successful reply, parses it back, and parses every truncation of it. */
function checkReply(xid: number, zxid: bigint, response: OperationResponse): void {
  const header = { xid, zxid, err: 0 };
  const payload = payloadOf(serializeReply(header, response));
  const opCodeOfXid = (asked: number): number | undefined =>
    asked === xid ? response.type : undefined;
  assert.deepEqual(parseServerReply(payload, opCodeOfXid), { kind: 'reply', header, response });
  eachTruncation(payload, (cut, length) =>
    assertMalformed(parseServerReply(cut, () => response.type), `cut ${length}`),
  );
}

test('every successful reply round-trips, its body chosen by the op of its xid', () => {
  fc.assert(
    fc.property(arbitrary.xid, arbitrary.int64, arbitrary.operationResponse, checkReply),
    { numRuns: 200 },
  );
});

test('a failed reply is the header alone and parses with a null response', () => {
  fc.assert(
    fc.property(arbitrary.xid, arbitrary.int64, arbitrary.int32, (xid, zxid, err) => {
      fc.pre(err !== 0);
      const header = { xid, zxid, err };
      const payload = payloadOf(serializeReply(header, null));
      assert.equal(payload.length, 16);
      assert.deepEqual(parseServerReply(payload, () => OpCode.getData), {
        kind: 'reply', header, response: null,
      });
    }),
    RUNS,
  );
});

test('a reply body together with an error code is a programming error', () => {
  assert.throws(
    () =>
      serializeReply({ xid: 1, zxid: 1n, err: -101 }, { type: OpCode.sync, body: { path: '/' } }),
    InvariantViolation,
  );
});

test('watch notifications round-trip and every truncation is malformed', () => {
  fc.assert(
    fc.property(arbitrary.watcherEvent, arbitrary.int64, (event, zxid) => {
      const payload = payloadOf(serializeNotification(event, zxid));
      const parsed = parseServerReply(payload, () => assert.fail('no xid lookup for -1'));
      assert.deepEqual(parsed, {
        kind: 'notification', header: { xid: SpecialXid.notification, zxid, err: 0 }, event,
      });
      eachTruncation(payload, (cut) => assertMalformed(parseServerReply(cut, () => 0), 'cut'));
    }),
    RUNS,
  );
});

test('golden frames: ping, closeSession, a zkCli-shaped ConnectRequest, a notification', () => {
  const ping = Buffer.from('00000008fffffffe0000000b', 'hex');
  const pingRequest = { type: OpCode.ping, body: null } as const;
  assert.deepEqual(serializeClientRequest(SpecialXid.ping, pingRequest), ping);
  assert.deepEqual(
    serializeClientRequest(7, { type: OpCode.closeSession, body: null }),
    new GoldenBytes().int(7).int(-11).toFrame(),
  );
  const connect = {
    protocolVersion: 0, lastZxidSeen: 0n, timeOut: 30_000, sessionId: 0n,
    passwd: Buffer.alloc(16), readOnly: false,
  };
  const connectFrame = new GoldenBytes().int(0).long(0n).int(30_000).long(0n)
    .buffer(Buffer.alloc(16)).bool(false).toFrame();
  assert.equal(connectFrame.readInt32BE(0), 45);
  assert.deepEqual(serializeConnectRequest(connect), connectFrame);
  assert.deepEqual(parseClientRequest(payloadOf(connectFrame), 'connect'), {
    kind: 'connect', request: connect,
  });
  const event = { type: 4, state: 3, path: '/parent' };
  assert.deepEqual(
    serializeNotification(event),
    new GoldenBytes().int(-1).long(-1n).int(0).int(4).int(3).ustring('/parent').toFrame(),
  );
});

test('ConnectRequest parses with and without its readOnly byte; other cuts are malformed', () => {
  fc.assert(
    fc.property(arbitrary.connectRequest, (request) => {
      const payload = payloadOf(serializeConnectRequest(request));
      assert.deepEqual(parseClientRequest(payload, 'connect'), { kind: 'connect', request });
      eachTruncation(payload, (cut, length) => {
        const parsed = parseClientRequest(cut, 'connect');
        if (length === payload.length - 1) {
          assert.deepEqual(parsed, { kind: 'connect', request: { ...request, readOnly: false } });
        } else {
          assertMalformed(parsed, `cut ${length}`);
        }
      });
    }),
    RUNS,
  );
});

test('ConnectResponse parses with and without its readOnly byte; other cuts are malformed', () => {
  fc.assert(
    fc.property(arbitrary.connectResponse, (response) => {
      const payload = payloadOf(serializeConnectResponse(response));
      assert.deepEqual(parseConnectResponse(payload), { kind: 'connect', response });
      eachTruncation(payload, (cut, length) => {
        const parsed = parseConnectResponse(cut);
        if (length === payload.length - 1) {
          assert.deepEqual(parsed, { kind: 'connect', response: { ...response, readOnly: false } });
        } else {
          assertMalformed(parsed, `cut ${length}`);
        }
      });
    }),
    RUNS,
  );
});

test('an op the codec does not serve is a value with its header, not a throw', () => {
  for (const type of [OpCode.whoAmI, OpCode.reconfig, OpCode.sasl, 999, -77]) {
    const payload = new GoldenBytes().int(5).int(type).raw([1, 2, 3]).toBuffer();
    assert.deepEqual(parseClientRequest(payload, 'operation'), {
      kind: 'unknownOperation', header: { xid: 5, type },
    });
  }
});

test('trailing bytes, a null path, a foreign op in multi, a huge vector are malformed', () => {
  const sync = new GoldenBytes().int(1).int(OpCode.sync).ustring('/');
  assertMalformed(parseClientRequest(sync.raw([0]).toBuffer(), 'operation'), 'trailing byte');
  const nullPath = new GoldenBytes().int(1).int(OpCode.exists).ustring(null).bool(false);
  assertMalformed(parseClientRequest(nullPath.toBuffer(), 'operation'), 'null path');
  const foreign = new GoldenBytes().int(1).int(OpCode.multi)
    .int(OpCode.sync).bool(false).int(-1).ustring('/').int(-1).bool(true).int(-1);
  assertMalformed(parseClientRequest(foreign.toBuffer(), 'operation'), 'sync in multi');
  const hugeVector = new GoldenBytes().int(1).int(OpCode.setWatches).long(0n).int(0x7fffffff);
  assertMalformed(parseClientRequest(hugeVector.toBuffer(), 'operation'), 'vector count');
  const connect = payloadOf(serializeConnectRequest({
    protocolVersion: 0, lastZxidSeen: 0n, timeOut: 1, sessionId: 0n, passwd: null,
    readOnly: true,
  }));
  const extended = Buffer.concat([connect, Buffer.from([9])]);
  assertMalformed(parseClientRequest(extended, 'connect'), 'byte after readOnly');
});

test('each serialized frame is the caller\'s own copy; a failed encode leaves no residue', () => {
  const first = serializeClientRequest(1, { type: OpCode.sync, body: { path: '/first' } });
  const copy = Buffer.from(first);
  serializeClientRequest(2, { type: OpCode.sync, body: { path: '/second-and-longer' } });
  assert.deepEqual(first, copy);
  assert.throws(() => serializeReply({ xid: 2 ** 40, zxid: 0n, err: 0 }, null), RangeError);
  const after = serializeReply({ xid: 1, zxid: 0n, err: 0 }, null);
  assert.deepEqual(after, new GoldenBytes().int(1).long(0n).int(0).toFrame());
});

test('a successful addWatch reply carries ErrorResponse { err 0 }, as ZooKeeper sends it', () => {
  const header = { xid: 3, zxid: 5n, err: 0 };
  const frame = serializeReply(header, { type: OpCode.addWatch, body: { err: 0 } });
  assert.deepEqual(frame, new GoldenBytes().int(3).long(5n).int(0).int(0).toFrame());
});

test('replies to special xids need no lookup; an unknown xid is a value', () => {
  const noLookup = (): number | undefined => assert.fail('special xids resolve themselves');
  for (const xid of [SpecialXid.ping, SpecialXid.authPacket, SpecialXid.setWatches]) {
    const header = { xid, zxid: 3n, err: 0 };
    const parsed = parseServerReply(payloadOf(serializeReply(header, null)), noLookup);
    assert.equal(parsed.kind, 'reply');
  }
  const header = { xid: 42, zxid: 3n, err: 0 };
  assert.deepEqual(parseServerReply(payloadOf(serializeReply(header, null)), () => undefined), {
    kind: 'unexpectedXid', header,
  });
});

const PARSE_KINDS = new Set(['connect', 'operation', 'unknownOperation', 'malformed',
  'notification', 'reply', 'unexpectedXid']);

/** Runs `bytes` through every parser; each must return a known kind and never throw. */
function checkAnyBytes(bytes: Uint8Array, op: number): void {
  const payload = Buffer.from(bytes);
  for (const result of [
    parseClientRequest(payload, 'connect'),
    parseClientRequest(payload, 'operation'),
    parseConnectResponse(payload),
    parseServerReply(payload, () => op),
  ]) {
    assert.ok(PARSE_KINDS.has(result.kind), result.kind);
    if (result.kind === 'malformed') assert.ok(result.error instanceof JuteDecodeError);
  }
}

test('random bytes never make a parser throw', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 96 }), fc.integer({ min: -2, max: 110 }), checkAnyBytes),
    { numRuns: 2000 },
  );
});

test('requestBytesMax: a request of exactly the limit parses, one byte more is tooLarge', () => {
  const request: OperationRequest = { type: OpCode.sync, body: { path: '/limit' } };
  const payload = payloadOf(serializeClientRequest(1, request));
  const at = { ...DEFAULT_WIRE_LIMITS, requestBytesMax: payload.length };
  assert.equal(parseClientRequest(payload, 'operation', at).kind, 'operation');
  const below = { ...DEFAULT_WIRE_LIMITS, requestBytesMax: payload.length - 1 };
  const over = parseClientRequest(payload, 'operation', below);
  assert.ok(over.kind === 'tooLarge' && over.error instanceof RequestTooLargeError);
  assert.equal(over.error.requestBytes, payload.length);
  const defaultMax = Buffer.alloc(REQUEST_BYTES_MAX_DEFAULT + 1);
  assert.equal(parseClientRequest(defaultMax, 'operation').kind, 'tooLarge');
  assert.equal(parseClientRequest(defaultMax, 'connect').kind, 'tooLarge');
});

test('replyBytesMax: a reply of exactly the limit parses, one byte more is tooLarge', () => {
  const response = { type: OpCode.sync, body: { path: '/limit' } } as const;
  const payload = payloadOf(serializeReply({ xid: 1, zxid: 1n, err: 0 }, response));
  const at = { ...DEFAULT_WIRE_LIMITS, replyBytesMax: payload.length };
  assert.equal(parseServerReply(payload, () => OpCode.sync, at).kind, 'reply');
  const below = { ...DEFAULT_WIRE_LIMITS, replyBytesMax: payload.length - 1 };
  const over = parseServerReply(payload, () => OpCode.sync, below);
  assert.ok(over.kind === 'tooLarge' && over.error instanceof ReplyTooLargeError);
  assert.equal(parseConnectResponse(payload, below).kind, 'tooLarge');
  const bigReply = Buffer.alloc(REQUEST_BYTES_MAX_DEFAULT + 1);
  assert.equal(parseServerReply(bigReply, () => 0).kind, 'malformed', 'replies may exceed 1 MiB');
  const overDefault = Buffer.alloc(REPLY_BYTES_MAX_DEFAULT + 1);
  assert.equal(parseServerReply(overDefault, () => 0).kind, 'tooLarge');
});

/** Feeds `chunks` through a FrameDecoder and parses each frame as a client would send it. */
function decodeStream(chunks: Buffer[], requestBytesMax: number): ClientRequest[] {
  const decoder = new FrameDecoder(requestBytesMax);
  const parsed: ClientRequest[] = [];
  for (const chunk of chunks) {
    const failure = decoder.push(chunk, (payload) => {
      parsed.push(parseClientRequest(payload, parsed.length === 0 ? 'connect' : 'operation'));
    });
    assert.equal(failure, null);
  }
  return parsed;
}

test('a stream of several frames split at every offset parses to the same requests', () => {
  fc.assert(
    fc.property(
      arbitrary.connectRequest,
      fc.array(fc.tuple(arbitrary.xid, arbitrary.operationRequest), { minLength: 1, maxLength: 4 }),
      (connect, requests) => {
        const frames = [serializeConnectRequest(connect)];
        for (const [xid, request] of requests) frames.push(serializeClientRequest(xid, request));
        const stream = Buffer.concat(frames);
        const expected = decodeStream([stream], 1024 * 1024);
        assert.deepEqual(expected[0], { kind: 'connect', request: connect });
        assert.deepEqual(expected.slice(1), requests.map(([xid, request]) => ({
          kind: 'operation', header: { xid, type: request.type }, request,
        })));
        for (let at = 0; at <= stream.length; at++) {
          const halves = [Buffer.from(stream.subarray(0, at)), Buffer.from(stream.subarray(at))];
          assert.deepEqual(decodeStream(halves, 1024 * 1024), expected, `split at ${at}`);
        }
        const bytes = [...stream].map((byte) => Buffer.from([byte]));
        assert.deepEqual(decodeStream(bytes, 1024 * 1024), expected, 'one byte at a time');
      },
    ),
    { numRuns: 60 },
  );
});

test('client framing via the transport FrameDecoder: oversized, negative lengths fail', () => {
  const frame = serializeClientRequest(1, { type: OpCode.sync, body: { path: '/x' } });
  const exact = new FrameDecoder(frame.length - 4);
  assert.equal(exact.push(frame, () => {}), null);
  const small = new FrameDecoder(frame.length - 5);
  assert.ok(small.push(frame, () => assert.fail('no frame')) instanceof FrameTooLargeError);
  const negative = new FrameDecoder(1024 * 1024);
  const failure = negative.push(Buffer.from('ffffffff00', 'hex'), () => assert.fail('no frame'));
  assert.ok(failure instanceof FrameTooLargeError);
});

test('valid frames with corrupted bytes never make a parser throw', () => {
  const corruption = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
    minLength: 1,
    maxLength: 4,
  });
  fc.assert(
    fc.property(arbitrary.xid, arbitrary.operationRequest, corruption, (xid, request, edits) => {
      const payload = Buffer.from(payloadOf(serializeClientRequest(xid, request)));
      for (const [at, byte] of edits) payload[at % payload.length] = byte;
      checkAnyBytes(payload, request.type);
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(arbitrary.xid, arbitrary.operationResponse, corruption, (xid, response, edits) => {
      const payload = Buffer.from(payloadOf(serializeReply({ xid, zxid: 1n, err: 0 }, response)));
      for (const [at, byte] of edits) payload[at % payload.length] = byte;
      checkAnyBytes(payload, response.type);
    }),
    { numRuns: 1000 },
  );
});

test('op codes and special xids carry ZooKeeper\'s numbers and names', () => {
  assert.deepEqual(
    [OpCode.create, OpCode.getChildren2, OpCode.multiRead, OpCode.addWatch, OpCode.closeSession],
    [1, 12, 22, 106, -11],
  );
  assert.equal(opCodeName(104), 'getAllChildrenNumber');
  assert.equal(opCodeName(42), 'unknown(42)');
  assert.deepEqual(Object.values(SpecialXid), [-1, -2, -4, -8]);
});
