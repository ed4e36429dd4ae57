/**
 * Client side, outbound: requests → frames (length prefix included), each a fresh Buffer the
 * caller owns. The header's type is taken from the request, so the two cannot disagree.
 */
import { encodeOperationRequest, type OperationRequest } from './operation.js';
import { encodeConnectRequest, type ConnectRequest } from './records/connect.js';
import { encodeRequestHeader } from './records/request-header.js';
import { writeFrame } from './frame-writer.js';

export function serializeConnectRequest(request: ConnectRequest): Buffer {
  return writeFrame((writer) => encodeConnectRequest(writer, request));
}

/** `xid`: a positive client-chosen number, or a `SpecialXid` for ping, auth and setWatches. */
export function serializeClientRequest(xid: number, request: OperationRequest): Buffer {
  return writeFrame((writer) => {
    encodeRequestHeader(writer, { xid, type: request.type });
    encodeOperationRequest(writer, request);
  });
}
