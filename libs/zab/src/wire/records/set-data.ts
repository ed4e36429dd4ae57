/**
 * `SetDataRequest { ustring path; buffer data; int version }` and
 * `SetDataResponse { Stat stat }`.
 */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import { readRequiredString } from './jute-fields.js';
import { decodeStat, encodeStat, type Stat } from './stat.js';

export interface SetDataRequest {
  path: string;
  data: Buffer | null;
  version: number;
}

export interface SetDataResponse {
  stat: Stat;
}

export function encodeSetDataRequest(writer: JuteWriter, request: SetDataRequest): void {
  writer.writeString(request.path).writeBuffer(request.data).writeInt(request.version);
}

export function decodeSetDataRequest(reader: JuteReader): SetDataRequest {
  const path = readRequiredString(reader, 'path');
  return { path, data: reader.readBuffer(), version: reader.readInt() };
}

export function encodeSetDataResponse(writer: JuteWriter, response: SetDataResponse): void {
  encodeStat(writer, response.stat);
}

export function decodeSetDataResponse(reader: JuteReader): SetDataResponse {
  return { stat: decodeStat(reader) };
}
