/**
 * `GetEphemeralsRequest { ustring prefixPath }` and
 * `GetEphemeralsResponse { vector<ustring> ephemerals }` (the session's ephemeral paths).
 */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import { readRequiredString, readStringList, writeStringList } from './jute-fields.js';

export interface GetEphemeralsRequest {
  prefixPath: string;
}

export interface GetEphemeralsResponse {
  ephemerals: string[];
}

export function encodeGetEphemeralsRequest(
  writer: JuteWriter,
  request: GetEphemeralsRequest,
): void {
  writer.writeString(request.prefixPath);
}

export function decodeGetEphemeralsRequest(reader: JuteReader): GetEphemeralsRequest {
  return { prefixPath: readRequiredString(reader, 'prefixPath') };
}

export function encodeGetEphemeralsResponse(
  writer: JuteWriter,
  response: GetEphemeralsResponse,
): void {
  writeStringList(writer, response.ephemerals);
}

export function decodeGetEphemeralsResponse(reader: JuteReader): GetEphemeralsResponse {
  return { ephemerals: readStringList(reader, 'ephemeral') };
}
