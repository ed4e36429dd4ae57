/** `ExistsRequest { ustring path; boolean watch }` and `ExistsResponse { Stat stat }`. */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import { readRequiredString } from './jute-fields.js';
import { decodeStat, encodeStat, type Stat } from './stat.js';

export interface ExistsRequest {
  path: string;
  watch: boolean;
}

export interface ExistsResponse {
  stat: Stat;
}

export function encodeExistsRequest(writer: JuteWriter, request: ExistsRequest): void {
  writer.writeString(request.path).writeBool(request.watch);
}

export function decodeExistsRequest(reader: JuteReader): ExistsRequest {
  return { path: readRequiredString(reader, 'path'), watch: reader.readBool() };
}

export function encodeExistsResponse(writer: JuteWriter, response: ExistsResponse): void {
  encodeStat(writer, response.stat);
}

export function decodeExistsResponse(reader: JuteReader): ExistsResponse {
  return { stat: decodeStat(reader) };
}
