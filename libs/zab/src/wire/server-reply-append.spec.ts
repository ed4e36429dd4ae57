/**
 * Goal: the append forms of the server serializers (used by the client port's per-connection
 * outbox) write exactly the bytes of the copying forms, frame after frame, and a reply that
 * fails to encode leaves the outbox as it was (no half frame that would desynchronise the
 * client).
 * Method: fast-check sequences of random replies and notifications appended into one
 * JuteWriter, compared with the concatenation of `serializeReply`/`serializeNotification`;
 * then a reply with a zxid out of jute's long range, appended after a good one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JuteWriter } from '../jute/jute-writer.js';
import { OpCode } from './op-code.js';
import {
  appendNotification,
  appendReply,
  serializeNotification,
  serializeReply,
} from './server-reply-serializer.js';
import * as arbitrary from './wire-arbitraries.test-support.js';

const frame = fc.oneof(
  fc.record({ kind: fc.constant('reply' as const), xid: arbitrary.xid, zxid: arbitrary.int64,
    response: arbitrary.operationResponse }),
  fc.record({ kind: fc.constant('notification' as const), zxid: arbitrary.int64, event: arbitrary.watcherEvent }),
);

test('appended frames are byte-identical to the serialized ones, in order', () => {
  fc.assert(fc.property(fc.array(frame, { minLength: 1, maxLength: 8 }), (frames) => {
    const outbox = new JuteWriter(16);
    const expected: Buffer[] = [];
    for (const f of frames) {
      if (f.kind === 'reply') {
        const header = { xid: f.xid, zxid: f.zxid, err: 0 };
        appendReply(outbox, header, f.response);
        expected.push(serializeReply(header, f.response));
      } else {
        appendNotification(outbox, f.event, f.zxid);
        expected.push(serializeNotification(f.event, f.zxid));
      }
    }
    assert.deepEqual(outbox.toBuffer(), Buffer.concat(expected));
  }), { numRuns: 200 });
});

test('a reply that fails to encode leaves the outbox untouched', () => {
  const outbox = new JuteWriter(16);
  const good = { xid: 1, zxid: 5n, err: 0 };
  appendReply(outbox, good, null);
  const before = outbox.toBuffer();
  assert.throws(() => appendReply(outbox, { xid: 2, zxid: 2n ** 64n, err: 0 },
    { type: OpCode.sync, body: { path: '/x' } }), RangeError);
  assert.deepEqual(outbox.toBuffer(), before);
  assert.deepEqual(before, serializeReply(good, null));
});
