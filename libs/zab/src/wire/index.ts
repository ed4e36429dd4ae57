/**
 * The ZooKeeper client wire codec, shared by the client port (server side) and the client
 * backend: parse and serialize verbs for each direction, the message unions, op codes and
 * special xids, limits, and the records for callers that build bodies.
 */
export { OpCode, opCodeName } from './op-code.js';
export { SpecialXid } from './special-xid.js';
export {
  DEFAULT_WIRE_LIMITS,
  FRAME_LENGTH_BYTES,
  REPLY_BYTES_MAX_DEFAULT,
  REQUEST_BYTES_MAX_DEFAULT,
  type WireLimits,
} from './wire-limits.js';
export { ReplyTooLargeError, RequestTooLargeError } from './wire-errors.js';
export type { WireParseFailure } from './wire-parse-result.js';
export type { OperationRequest, OperationResponse, OpWithoutResponseBody } from './operation.js';
export {
  parseClientRequest,
  type ClientFrameExpectation,
  type ClientRequest,
} from './client-request-parser.js';
export { serializeClientRequest, serializeConnectRequest } from './client-request-serializer.js';
export {
  parseConnectResponse,
  parseServerReply,
  type ConnectReply,
  type ServerReply,
} from './server-reply-parser.js';
export {
  appendNotification,
  appendReply,
  serializeConnectResponse,
  serializeNotification,
  serializeReply,
} from './server-reply-serializer.js';
export type { ConnectRequest, ConnectResponse } from './records/connect.js';
export type { RequestHeader } from './records/request-header.js';
export type { ReplyHeader } from './records/reply-header.js';
export type { MultiOperation, MultiResult, MultiRequest, MultiResponse } from './records/multi.js';
export { AddWatchMode } from './records/add-watch.js';
export { WatcherType } from './records/remove-watches.js';
export { KeeperState, type WatcherEvent } from './records/watcher-event.js';
