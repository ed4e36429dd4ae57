/**
 * `ErrorResponse { int err }`: a result code as a body. It is the body of a failed result
 * inside a multi response, and ZooKeeper also sends it (err 0) as the body of a successful
 * addWatch reply (FinalRequestProcessor answers addWatch with `new ErrorResponse(0)`).
 */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';

export interface ErrorResponse {
  err: number;
}

export function encodeErrorResponse(writer: JuteWriter, response: ErrorResponse): void {
  writer.writeInt(response.err);
}

export function decodeErrorResponse(reader: JuteReader): ErrorResponse {
  return { err: reader.readInt() };
}
