/**
 * `GetAllChildrenNumberRequest { ustring path }` and
 * `GetAllChildrenNumberResponse { int totalNumber }` (descendants, the node itself excluded).
 */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import { readRequiredString } from './jute-fields.js';

export interface GetAllChildrenNumberRequest {
  path: string;
}

export interface GetAllChildrenNumberResponse {
  totalNumber: number;
}

export function encodeGetAllChildrenNumberRequest(
  writer: JuteWriter,
  request: GetAllChildrenNumberRequest,
): void {
  writer.writeString(request.path);
}

export function decodeGetAllChildrenNumberRequest(
  reader: JuteReader,
): GetAllChildrenNumberRequest {
  return { path: readRequiredString(reader, 'path') };
}

export function encodeGetAllChildrenNumberResponse(
  writer: JuteWriter,
  response: GetAllChildrenNumberResponse,
): void {
  writer.writeInt(response.totalNumber);
}

export function decodeGetAllChildrenNumberResponse(
  reader: JuteReader,
): GetAllChildrenNumberResponse {
  return { totalNumber: reader.readInt() };
}
