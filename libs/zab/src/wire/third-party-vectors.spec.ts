/**
 * Goal: the codec agrees byte for byte with a ZooKeeper client nobody here wrote.
 * Method: the hex frames below were produced once by node-zookeeper-client 1.1.3's own jute
 * serializer (`lib/jute`: `new Request(header, payload).toBuffer()`, `TransactionRequest`)
 * and pasted here; the package is not a dependency. Each frame must split with the length
 * prefix, parse to the values that client was given, and, for operations, come out of our
 * serializer identically. Its ConnectRequest has no readOnly byte (3.3-era layout), which
 * the server must accept. (The reverse direction was checked the same way when these were
 * captured: that client's deserializers read our ConnectResponse, GetData reply with Stat,
 * multi response with an error result, and notification correctly.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClientRequest } from './client-request-parser.js';
import { serializeClientRequest } from './client-request-serializer.js';
import { OpCode } from './op-code.js';
import type { OperationRequest } from './operation.js';
import { SpecialXid } from './special-xid.js';

function frame(hex: string): { frame: Buffer; payload: Buffer } {
  const bytes = Buffer.from(hex, 'hex');
  assert.equal(bytes.readInt32BE(0), bytes.length - 4);
  return { frame: bytes, payload: bytes.subarray(4) };
}

const WORLD_ANYONE = [{ perms: 31, scheme: 'world', id: 'anyone' }];

test('node-zookeeper-client ConnectRequest (no readOnly byte) parses', () => {
  const { payload } = frame(
    '0000002c00000000000000050000000300007530000000000000123400000010' +
      'abababababababababababababababab',
  );
  assert.deepEqual(parseClientRequest(payload, 'connect'), {
    kind: 'connect',
    request: {
      protocolVersion: 0, lastZxidSeen: 0x500000003n, timeOut: 30_000, sessionId: 0x1234n,
      passwd: Buffer.alloc(16, 0xab), readOnly: false,
    },
  });
});

const OPERATIONS: { name: string; hex: string; xid: number; request: OperationRequest }[] = [
  {
    name: 'create',
    hex: '000000360000000100000001000000052f6e6f6465000000026869000000010000001f00000005776f72' +
      '6c6400000006616e796f6e6500000003',
    xid: 1,
    request: {
      type: OpCode.create,
      body: { path: '/node', data: Buffer.from('hi'), acl: WORLD_ANYONE, flags: 3 },
    },
  },
  {
    name: 'getData with watch',
    hex: '000000120000000200000004000000052f6e6f646501',
    xid: 2,
    request: { type: OpCode.getData, body: { path: '/node', watch: true } },
  },
  {
    name: 'setWatches',
    hex: '00000036fffffff800000065000000020000001000000001000000022f6400000001000000022f650000' +
      '0002000000032f6331000000032f6332',
    xid: SpecialXid.setWatches,
    request: {
      type: OpCode.setWatches,
      body: {
        relativeZxid: 0x200000010n, dataWatches: ['/d'], existWatches: ['/e'],
        childWatches: ['/c1', '/c2'],
      },
    },
  },
  {
    name: 'addAuth',
    hex: '00000024fffffffc0000006400000000000000066469676573740000000a626f623a736563726574',
    xid: SpecialXid.authPacket,
    request: {
      type: OpCode.auth,
      body: { type: 0, scheme: 'digest', auth: Buffer.from('bob:secret') },
    },
  },
  {
    name: 'transaction (create, check, setData, delete)',
    hex: '00000083000000030000000e0000000100ffffffff000000022f740000000178000000010000001f0000' +
      '0005776f726c6400000006616e796f6e65000000000000000d00ffffffff000000022f740000000200' +
      '00000500ffffffff000000022f7400000002797affffffff0000000200ffffffff000000022f740000' +
      '0003ffffffff01ffffffff',
    xid: 3,
    request: {
      type: OpCode.multi,
      body: {
        operations: [
          {
            type: OpCode.create,
            body: { path: '/t', data: Buffer.from('x'), acl: WORLD_ANYONE, flags: 0 },
          },
          { type: OpCode.check, body: { path: '/t', version: 2 } },
          { type: OpCode.setData, body: { path: '/t', data: Buffer.from('yz'), version: -1 } },
          { type: OpCode.delete, body: { path: '/t', version: 3 } },
        ],
      },
    },
  },
  {
    name: 'ping',
    hex: '00000008fffffffe0000000b',
    xid: SpecialXid.ping,
    request: { type: OpCode.ping, body: null },
  },
];

for (const { name, hex, xid, request } of OPERATIONS) {
  test(`node-zookeeper-client ${name}: parses, and our serializer writes the same bytes`, () => {
    const captured = frame(hex);
    assert.deepEqual(parseClientRequest(captured.payload, 'operation'), {
      kind: 'operation', header: { xid, type: request.type }, request,
    });
    assert.deepEqual(serializeClientRequest(xid, request), captured.frame);
  });
}
