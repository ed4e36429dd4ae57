/**
 * Server side, outbound: connect responses, replies and watch notifications → frames (length
 * prefix included), each a fresh Buffer the caller owns, or appended to a caller's writer.
 */
import { invariantFailed } from '../util/assert.js';
import { ErrorCode } from '../state/error-code.js';
import type { JuteWriter } from '../jute/jute-writer.js';
import { appendFrame, writeFrame } from './frame-writer.js';
import { encodeOperationResponse, type OperationResponse } from './operation.js';
import { encodeConnectResponse, type ConnectResponse } from './records/connect.js';
import { encodeReplyHeader, type ReplyHeader } from './records/reply-header.js';
import { encodeWatcherEvent, type WatcherEvent } from './records/watcher-event.js';
import { SpecialXid } from './special-xid.js';

export function serializeConnectResponse(response: ConnectResponse): Buffer {
  return writeFrame((writer) => encodeConnectResponse(writer, response));
}

/**
 * A reply: the header, then the body only when `header.err` is Ok (ZooKeeper sends a failed
 * request's header alone). Passing a body with an error code is a programming error.
 */
export function serializeReply(header: ReplyHeader, response: OperationResponse | null): Buffer {
  assertReplyShape(header, response);
  return writeFrame((writer) => encodeReply(writer, header, response));
}

/** `serializeReply`, appended to `target` (a connection's outbox) with no allocation. */
export function appendReply(target: JuteWriter, header: ReplyHeader, response: OperationResponse | null): void {
  assertReplyShape(header, response);
  appendFrame(target, (writer) => encodeReply(writer, header, response));
}

function assertReplyShape(header: ReplyHeader, response: OperationResponse | null): void {
  if (!(header.err === ErrorCode.Ok || response === null)) {
    invariantFailed(`reply with err ${header.err} must have no body`);
  }
}

function encodeReply(writer: JuteWriter, header: ReplyHeader, response: OperationResponse | null): void {
  encodeReplyHeader(writer, header);
  if (response !== null) encodeOperationResponse(writer, response);
}

/**
 * A watch notification: ReplyHeader { xid -1, zxid, err 0 } then the WatcherEvent. ZooKeeper
 * 3.5 sends zxid -1; later versions send the triggering transaction's zxid.
 */
export function serializeNotification(event: WatcherEvent, zxid = -1n): Buffer {
  return writeFrame((writer) => encodeNotification(writer, event, zxid));
}

/** `serializeNotification`, appended to `target` (a connection's outbox) with no allocation. */
export function appendNotification(target: JuteWriter, event: WatcherEvent, zxid = -1n): void {
  appendFrame(target, (writer) => encodeNotification(writer, event, zxid));
}

function encodeNotification(writer: JuteWriter, event: WatcherEvent, zxid: bigint): void {
  encodeReplyHeader(writer, { xid: SpecialXid.notification, zxid, err: ErrorCode.Ok });
  encodeWatcherEvent(writer, event);
}
