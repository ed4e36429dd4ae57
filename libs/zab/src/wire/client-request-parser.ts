/**
 * Server side, inbound: one client frame's payload (the bytes after the length prefix) →
 * `ClientRequest`. The connection knows which frame it expects: the first is the
 * ConnectRequest (no header), every later one a RequestHeader and the op's body.
 *
 * Contract: never throws on bad input. Over `requestBytesMax` → `tooLarge`; bytes that do
 * not decode as the record, or trailing bytes after it → `malformed`; a well-formed header
 * with an op this codec does not serve → `unknownOperation` (the header is intact, so the
 * server may answer it with a result code). Buffers in the result (data, passwd, auth) are
 * views into `payload`: the caller owns them together with the payload.
 */
import type { JuteReader } from '../jute/jute-reader.js';
import { decodeOperationRequest, type OperationRequest } from './operation.js';
import { decodeConnectRequest, type ConnectRequest } from './records/connect.js';
import { decodeRequestHeader, type RequestHeader } from './records/request-header.js';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from './wire-limits.js';
import { RequestTooLargeError } from './wire-errors.js';
import { parsePayload, type WireParseFailure } from './wire-parse-result.js';

export type ClientRequest =
  | { kind: 'connect'; request: ConnectRequest }
  | { kind: 'operation'; header: RequestHeader; request: OperationRequest }
  | { kind: 'unknownOperation'; header: RequestHeader }
  | WireParseFailure<RequestTooLargeError>;

/** Which frame the connection expects next. */
export type ClientFrameExpectation = 'connect' | 'operation';

export function parseClientRequest(
  payload: Buffer,
  expect: ClientFrameExpectation,
  limits: WireLimits = DEFAULT_WIRE_LIMITS,
): ClientRequest {
  return parsePayload(payload, limits.requestBytesMax, newRequestTooLarge, (reader) =>
    expect === 'connect' ? readConnect(reader) : readOperation(reader),
  );
}

function newRequestTooLarge(bytes: number, bytesMax: number): RequestTooLargeError {
  return new RequestTooLargeError(bytes, bytesMax);
}

function readConnect(reader: JuteReader): ClientRequest {
  const request = decodeConnectRequest(reader);
  reader.expectEnd('ConnectRequest');
  return { kind: 'connect', request };
}

function readOperation(reader: JuteReader): ClientRequest {
  const header = decodeRequestHeader(reader);
  const request = decodeOperationRequest(header.type, reader);
  if (request === undefined) return { kind: 'unknownOperation', header };
  reader.expectEnd(`request of op ${header.type}`);
  return { kind: 'operation', header, request };
}
