/**
 * Goal: every transaction type survives encode/decode unchanged, decoded data is a view, and bad
 * bytes (truncated, trailing, random) raise `JuteDecodeError` and nothing else. Also a loose
 * speed check of the write path.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JuteDecodeError } from '../jute/jute-error.js';
import { JuteWriter } from '../jute/jute-writer.js';
import { TTL_MS_MAX } from './create-mode.js';
import type { Acl } from './stat.js';
import { decodeTxn, encodeTxn, TxnOpCode } from './txn-codec.js';
import type { CreateTxn, MultiOpTxn, Txn, TxnBody } from './txn.js';

/** Records with a normal prototype, so decoded objects compare deep-equal. */
const record = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> =>
  fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;

const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const long = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
const data = fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes));
const path = fc.string({ maxLength: 30, unit: 'grapheme' }).map((s) => `/${s}`);
const aclArbitrary: fc.Arbitrary<Acl[]> = fc.array(
  record({
    perms: int32,
    scheme: fc.string({ maxLength: 8 }),
    id: fc.string({ maxLength: 12, unit: 'grapheme' }),
  }),
  { maxLength: 3 },
);
const create: fc.Arbitrary<CreateTxn> = record({
  type: fc.constant('create' as const),
  path,
  data,
  acl: aclArbitrary,
  kind: fc.constantFrom(
    'persistent' as const,
    'ephemeral' as const,
    'container' as const,
    'ttl' as const,
  ),
  ephemeralOwner: long,
  ttlMs: fc.integer({ min: 0, max: TTL_MS_MAX }),
  parentCVersion: int32,
});
const multiOp: fc.Arbitrary<MultiOpTxn> = fc.oneof(
  create,
  record({ type: fc.constant('delete' as const), path }),
  record({ type: fc.constant('setData' as const), path, data, version: int32 }),
  record({ type: fc.constant('check' as const), path, version: int32 }),
  record({ type: fc.constant('error' as const), code: int32 }),
);
const body: fc.Arbitrary<TxnBody> = fc.oneof(
  multiOp,
  record({ type: fc.constant('setACL' as const), path, acl: aclArbitrary, version: int32 }),
  record({ type: fc.constant('createSession' as const), timeoutMs: int32 }),
  record({ type: fc.constant('closeSession' as const) }),
  record({ type: fc.constant('multi' as const), txns: fc.array(multiOp, { maxLength: 5 }) }),
);
const txnArbitrary: fc.Arbitrary<Txn> = record({
  header: record({ sessionId: long, cxid: int32, zxid: long, time: long }),
  body,
});

/** Independent reference encoder on the shared JuteWriter (golden bytes for the fast path). */
function referenceEncode(txn: Txn): Buffer {
  const out = new JuteWriter();
  const { header } = txn;
  out
    .writeLong(header.sessionId)
    .writeInt(header.cxid)
    .writeLong(header.zxid)
    .writeLong(header.time);
  referenceBody(out, txn.body);
  return out.toBuffer();
}

function referenceBody(out: JuteWriter, body: TxnBody): void {
  out.writeInt(TxnOpCode[body.type]);
  const acl = (list: Acl[]): void => {
    out.writeVector(list, (w, a) => w.writeInt(a.perms).writeString(a.scheme).writeString(a.id));
  };
  switch (body.type) {
    case 'create':
      out.writeString(body.path).writeBuffer(body.data);
      acl(body.acl);
      out.writeInt(['persistent', 'ephemeral', 'container', 'ttl'].indexOf(body.kind));
      out
        .writeLong(body.ephemeralOwner)
        .writeLong(BigInt(body.ttlMs))
        .writeInt(body.parentCVersion);
      break;
    case 'delete':
      out.writeString(body.path);
      break;
    case 'setData':
      out.writeString(body.path).writeBuffer(body.data).writeInt(body.version);
      break;
    case 'setACL':
      out.writeString(body.path);
      acl(body.acl);
      out.writeInt(body.version);
      break;
    case 'check':
      out.writeString(body.path).writeInt(body.version);
      break;
    case 'createSession':
      out.writeInt(body.timeoutMs);
      break;
    case 'closeSession':
      break;
    case 'error':
      out.writeInt(body.code);
      break;
    case 'multi':
      out.writeInt(body.txns.length);
      for (const op of body.txns) referenceBody(out, op);
      break;
  }
}

function expectDecodeError(bytes: Buffer): void {
  assert.throws(() => decodeTxn(bytes), JuteDecodeError);
}

describe('txn codec', () => {
  test('decode(encode(txn)) equals txn for every type (property)', () => {
    fc.assert(
      fc.property(txnArbitrary, (txn) => {
        assert.deepEqual(decodeTxn(encodeTxn(txn)), txn);
      }),
      { numRuns: 500 },
    );
  });

  test('encodes the same bytes as a JuteWriter reference encoder (property)', () => {
    fc.assert(
      fc.property(txnArbitrary, (txn) => {
        assert.deepEqual(encodeTxn(txn), referenceEncode(txn));
      }),
      { numRuns: 500 },
    );
  });

  test('every truncation and trailing bytes raise JuteDecodeError (property)', () => {
    fc.assert(
      fc.property(txnArbitrary, (txn) => {
        const bytes = encodeTxn(txn);
        for (let length = 0; length < bytes.length; length++)
          expectDecodeError(bytes.subarray(0, length));
        expectDecodeError(Buffer.concat([bytes, Buffer.from([1])]));
      }),
      { numRuns: 100 },
    );
  });

  test('random bytes decode or raise JuteDecodeError, never anything else (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), txnArbitrary, fc.nat(), (noise, txn, at) => {
        const bytes = encodeTxn(txn);
        for (const candidate of [
          Buffer.from(noise),
          Buffer.concat([bytes.subarray(0, at % (bytes.length + 1)), noise]),
        ]) {
          try {
            decodeTxn(candidate);
          } catch (error) {
            assert.ok(error instanceof JuteDecodeError, String(error));
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  test('nested multis, setACL inside a multi and unknown kinds are rejected', () => {
    const header = { sessionId: 1n, cxid: 2, zxid: 3n, time: 4n };
    const inner = encodeTxn({ header, body: { type: 'multi', txns: [] } });
    // Build multi[ multi[] ] by hand: header, type 14, count 1, type 14, count 0.
    const nested = Buffer.concat([
      inner.subarray(0, 28),
      Buffer.from([0, 0, 0, 14, 0, 0, 0, 1, 0, 0, 0, 14, 0, 0, 0, 0]),
    ]);
    expectDecodeError(nested);
    const setAcl = encodeTxn({ header, body: { type: 'setACL', path: '/a', acl: [], version: 1 } });
    const inMulti = Buffer.concat([
      inner.subarray(0, 28),
      Buffer.from([0, 0, 0, 14, 0, 0, 0, 1]),
      setAcl.subarray(28),
    ]);
    expectDecodeError(inMulti);
    const created = encodeTxn({
      header,
      body: {
        type: 'create',
        path: '/a',
        data: Buffer.alloc(0),
        acl: [],
        kind: 'persistent',
        ephemeralOwner: 0n,
        ttlMs: 0,
        parentCVersion: 1,
      },
    });
    const kindAt = created.length - 4 - 8 - 8 - 4;
    created.writeInt32BE(9, kindAt);
    expectDecodeError(created);
  });

  test('decoded data is a view into the input (no copy per txn)', () => {
    const header = { sessionId: 1n, cxid: 2, zxid: 3n, time: 4n };
    const bytes = encodeTxn({
      header,
      body: { type: 'setData', path: '/a', data: Buffer.from('abc'), version: 1 },
    });
    const decoded = decodeTxn(bytes);
    assert.deepEqual(decoded.body.type === 'setData' && decoded.body.data, Buffer.from('abc'));
    bytes.fill(0x78);
    assert.deepEqual(decoded.body.type === 'setData' && decoded.body.data, Buffer.from('xxx'));
  });
});
