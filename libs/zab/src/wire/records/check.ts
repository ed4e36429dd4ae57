/** `CheckVersionRequest { ustring path; int version }` (op check, in multi); no body back. */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import { readRequiredString } from './jute-fields.js';

export interface CheckVersionRequest {
  path: string;
  version: number;
}

export function encodeCheckVersionRequest(writer: JuteWriter, request: CheckVersionRequest): void {
  writer.writeString(request.path).writeInt(request.version);
}

export function decodeCheckVersionRequest(reader: JuteReader): CheckVersionRequest {
  return { path: readRequiredString(reader, 'path'), version: reader.readInt() };
}
