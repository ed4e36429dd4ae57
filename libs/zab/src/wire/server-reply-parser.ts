/**
 * Client side, inbound: one server frame's payload (after the length prefix) → `ServerReply`.
 * A reply's body depends on the op of the request it answers, which only the client knows:
 * `opCodeOfXid` maps a pending xid to its op code (undefined when nothing is pending under
 * it). The special xids are resolved here: notification (-1) carries a WatcherEvent, ping
 * (-2), auth (-4) and setWatches (-8) carry no body.
 *
 * Contract: never throws on bad input (see wire-parse-result.ts); the size limit is
 * `replyBytesMax`. A reply with a non-zero err has `response` null and any bytes after the
 * header are ignored, as ZooKeeper's client does; a successful one must be exactly its body.
 * Buffers in the result are views into `payload`. `opCodeOfXid` is only a lookup: it must
 * not throw (what it throws propagates) and is called at most once per frame.
 */
import type { JuteReader } from '../jute/jute-reader.js';
import { ErrorCode } from '../state/error-code.js';
import { OpCode } from './op-code.js';
import { decodeOperationResponse, type OperationResponse } from './operation.js';
import { decodeConnectResponse, type ConnectResponse } from './records/connect.js';
import { decodeReplyHeader, type ReplyHeader } from './records/reply-header.js';
import { decodeWatcherEvent, type WatcherEvent } from './records/watcher-event.js';
import { SpecialXid } from './special-xid.js';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from './wire-limits.js';
import { ReplyTooLargeError } from './wire-errors.js';
import { parsePayload, type WireParseFailure } from './wire-parse-result.js';

export type ServerReply =
  | { kind: 'notification'; header: ReplyHeader; event: WatcherEvent }
  | { kind: 'reply'; header: ReplyHeader; response: OperationResponse | null }
  | { kind: 'unexpectedXid'; header: ReplyHeader }
  | WireParseFailure<ReplyTooLargeError>;

export type ConnectReply =
  | { kind: 'connect'; response: ConnectResponse }
  | WireParseFailure<ReplyTooLargeError>;

export function parseConnectResponse(
  payload: Buffer,
  limits: WireLimits = DEFAULT_WIRE_LIMITS,
): ConnectReply {
  return parsePayload(payload, limits.replyBytesMax, newReplyTooLarge, (reader): ConnectReply => {
    const response = decodeConnectResponse(reader);
    reader.expectEnd('ConnectResponse');
    return { kind: 'connect', response };
  });
}

export function parseServerReply(
  payload: Buffer,
  opCodeOfXid: (xid: number) => number | undefined,
  limits: WireLimits = DEFAULT_WIRE_LIMITS,
): ServerReply {
  return parsePayload(payload, limits.replyBytesMax, newReplyTooLarge, (reader) =>
    readReply(reader, opCodeOfXid),
  );
}

function newReplyTooLarge(bytes: number, bytesMax: number): ReplyTooLargeError {
  return new ReplyTooLargeError(bytes, bytesMax);
}

function readReply(
  reader: JuteReader,
  opCodeOfXid: (xid: number) => number | undefined,
): ServerReply {
  const header = decodeReplyHeader(reader);
  if (header.xid === SpecialXid.notification) {
    const event = decodeWatcherEvent(reader);
    reader.expectEnd('WatcherEvent');
    return { kind: 'notification', header, event };
  }
  const type = specialXidOpCode(header.xid) ?? opCodeOfXid(header.xid);
  if (type === undefined) return { kind: 'unexpectedXid', header };
  if (header.err !== ErrorCode.Ok) return { kind: 'reply', header, response: null };
  const response = decodeOperationResponse(type, reader) ?? null;
  reader.expectEnd(`response of op ${type}`);
  return { kind: 'reply', header, response };
}

function specialXidOpCode(xid: number): number | undefined {
  switch (xid) {
    case SpecialXid.ping: return OpCode.ping;
    case SpecialXid.authPacket: return OpCode.auth;
    case SpecialXid.setWatches: return OpCode.setWatches;
    default: return undefined;
  }
}
