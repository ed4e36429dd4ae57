/**
 * `GetDataRequest { ustring path; boolean watch }` and
 * `GetDataResponse { buffer data; Stat stat }` (data is a view into the frame when decoded).
 */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import { readRequiredString } from './jute-fields.js';
import { decodeStat, encodeStat, type Stat } from './stat.js';

export interface GetDataRequest {
  path: string;
  watch: boolean;
}

export interface GetDataResponse {
  data: Buffer | null;
  stat: Stat;
}

export function encodeGetDataRequest(writer: JuteWriter, request: GetDataRequest): void {
  writer.writeString(request.path).writeBool(request.watch);
}

export function decodeGetDataRequest(reader: JuteReader): GetDataRequest {
  return { path: readRequiredString(reader, 'path'), watch: reader.readBool() };
}

export function encodeGetDataResponse(writer: JuteWriter, response: GetDataResponse): void {
  writer.writeBuffer(response.data);
  encodeStat(writer, response.stat);
}

export function decodeGetDataResponse(reader: JuteReader): GetDataResponse {
  return { data: reader.readBuffer(), stat: decodeStat(reader) };
}
