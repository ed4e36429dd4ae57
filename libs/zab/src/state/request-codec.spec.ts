/**
 * Goal: write requests survive forwarding unchanged, and bad bytes never crash the decoder.
 * Method: round trips of every request type (tables and fast-check), every truncation of
 * encoded requests, random bytes, and the structural rules (no nested multi, no session ops
 * inside a multi, unknown ops and modes rejected). The identities section: round trips, bytes
 * without it (as encoded before it existed) decode to no identities, a request with none
 * encodes exactly as before, and a bad or truncated section is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JuteDecodeError } from '../jute/jute-error.js';
import { JuteWriter } from '../jute/jute-writer.js';
import {
  AUTH_SECTION_TAG,
  decodeAuthenticatedRequest,
  decodeRequest,
  encodeRequest,
  REQUEST_IDENTITIES_MAX,
  RequestOpCode,
} from './request-codec.js';
import type { MultiOpRequest, WriteRequest } from './request.js';
import { CreateModeFlag, type CreateModeName } from './create-mode.js';

const acl = [{ perms: 31, scheme: 'world', id: 'anyone' }];
const EXAMPLES: WriteRequest[] = [
  { op: 'create', path: '/a', data: Buffer.from('x'), acl, mode: 'persistent' },
  { op: 'create', path: '/t', data: Buffer.alloc(0), acl, mode: 'ttl', ttlMs: 5000 },
  { op: 'delete', path: '/a', version: -1 },
  { op: 'setData', path: '/a', data: Buffer.from('y'), version: 3 },
  { op: 'setACL', path: '/a', acl: [{ perms: 1, scheme: 'digest', id: 'u:h' }], version: 0 },
  { op: 'check', path: '/a', version: 2 },
  { op: 'multi', ops: [] },
  { op: 'createSession', timeoutMs: 4000 },
  { op: 'closeSession' },
  { op: 'deleteContainer', path: '/c' },
  { op: 'deleteExpiredTtl', path: '/t' },
];

test('every request type round-trips', () => {
  for (const request of EXAMPLES) assert.deepEqual(decodeRequest(encodeRequest(request)), request);
});

const modeArbitrary = fc.constantFrom(...(Object.keys(CreateModeFlag) as CreateModeName[]));
const pathArbitrary = fc.string({ minLength: 1, maxLength: 20 }).map((s) => `/${s}`);
const dataArbitrary = fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes));
const versionArbitrary = fc.integer({ min: -1, max: 0x7fffffff });
const opArbitrary: fc.Arbitrary<MultiOpRequest> = fc.oneof(
  fc.record({ path: pathArbitrary, data: dataArbitrary, mode: modeArbitrary, ttl: fc.option(fc.nat()) })
    .map(({ path, data, mode, ttl }): MultiOpRequest => (ttl === null
      ? { op: 'create', path, data, acl, mode }
      : { op: 'create', path, data, acl, mode, ttlMs: ttl })),
  fc.record({ path: pathArbitrary, version: versionArbitrary })
    .map(({ path, version }): MultiOpRequest => ({ op: 'delete', path, version })),
  fc.record({ path: pathArbitrary, data: dataArbitrary, version: versionArbitrary })
    .map(({ path, data, version }): MultiOpRequest => ({ op: 'setData', path, data, version })),
  fc.record({ path: pathArbitrary, version: versionArbitrary })
    .map(({ path, version }): MultiOpRequest => ({ op: 'check', path, version })),
);

test('random requests and multis round-trip (property)', () => {
  const requestArbitrary = fc.oneof(
    opArbitrary.map((op): WriteRequest => op),
    fc.array(opArbitrary, { maxLength: 5 }).map((ops): WriteRequest => ({ op: 'multi', ops })),
  );
  fc.assert(fc.property(requestArbitrary, (request) => {
    assert.deepEqual(decodeRequest(encodeRequest(request)), request);
  }), { numRuns: 300 });
});

test('every truncation and random bytes give JuteDecodeError, never a crash', () => {
  for (const request of EXAMPLES) {
    const bytes = encodeRequest(request);
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.throws(() => decodeRequest(bytes.subarray(0, cut)), JuteDecodeError);
    }
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
    try {
      decodeRequest(Buffer.from(bytes));
    } catch (error) {
      assert.ok(error instanceof JuteDecodeError, String(error));
    }
  }), { numRuns: 1000 });
});

test('structural rules: no nested multi, no session op inside a multi, known modes only', () => {
  const nested = new JuteWriter().writeInt(RequestOpCode.multi).writeInt(1)
    .writeInt(RequestOpCode.multi).writeInt(0).toBuffer();
  assert.throws(() => decodeRequest(nested), /op 14 is not allowed inside a multi/);
  const session = new JuteWriter().writeInt(RequestOpCode.multi).writeInt(1)
    .writeInt(RequestOpCode.closeSession).toBuffer();
  assert.throws(() => decodeRequest(session), /not allowed inside a multi/);
  const badMode = new JuteWriter().writeInt(RequestOpCode.create).writeString('/a')
    .writeBuffer(Buffer.alloc(0)).writeInt(0).writeInt(99).writeLong(-1n).toBuffer();
  assert.throws(() => decodeRequest(badMode), /unknown create mode flag 99/);
  const trailing = Buffer.concat([encodeRequest({ op: 'closeSession' }), Buffer.alloc(1)]);
  assert.throws(() => decodeRequest(trailing), JuteDecodeError);
});

const IDENTITIES = [
  { scheme: 'digest', id: 'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=' },
  { scheme: 'super', id: '' },
];

test('identities travel with the request; without them the bytes are as before', () => {
  for (const request of EXAMPLES) {
    const bytes = encodeRequest(request, IDENTITIES);
    assert.deepEqual(decodeAuthenticatedRequest(bytes), { request, identities: IDENTITIES });
    assert.deepEqual(decodeRequest(bytes), request);
    const plain = encodeRequest(request);
    assert.deepEqual(encodeRequest(request, []), plain);
    assert.deepEqual(decodeAuthenticatedRequest(plain), { request, identities: [] });
    // The section is appended: the plain encoding is its prefix (old leaders' format).
    assert.deepEqual(bytes.subarray(0, plain.length), plain);
    assert.equal(bytes.readInt32BE(plain.length), AUTH_SECTION_TAG);
  }
});

test('a bad or truncated identities section is refused, never half-read', () => {
  const request: WriteRequest = { op: 'delete', path: '/a', version: -1 };
  const bytes = encodeRequest(request, IDENTITIES);
  const plainLength = encodeRequest(request).length;
  for (let cut = plainLength + 1; cut < bytes.length; cut++) {
    assert.throws(() => decodeAuthenticatedRequest(bytes.subarray(0, cut)), JuteDecodeError);
  }
  const badTag = Buffer.from(bytes);
  badTag.writeInt32BE(0x12345678, plainLength);
  assert.throws(() => decodeAuthenticatedRequest(badTag), /unknown request section 0x12345678/);
  const writer = new JuteWriter();
  writer.writeInt(AUTH_SECTION_TAG).writeInt(REQUEST_IDENTITIES_MAX + 1);
  for (let i = 0; i <= REQUEST_IDENTITIES_MAX; i++) writer.writeString('digest').writeString('u:h');
  const tooMany = Buffer.concat([encodeRequest(request), writer.toBuffer()]);
  assert.throws(() => decodeAuthenticatedRequest(tooMany), /bad vector length/);
  const nullId = Buffer.concat([encodeRequest(request),
    new JuteWriter().writeInt(AUTH_SECTION_TAG).writeInt(1).writeString('digest').writeString(null).toBuffer()]);
  assert.throws(() => decodeAuthenticatedRequest(nullId), /null identity/);
});
