/** `DeleteRequest { ustring path; int version }` (version -1 matches any); no response body. */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import { readRequiredString } from './jute-fields.js';

export interface DeleteRequest {
  path: string;
  version: number;
}

export function encodeDeleteRequest(writer: JuteWriter, request: DeleteRequest): void {
  writer.writeString(request.path).writeInt(request.version);
}

export function decodeDeleteRequest(reader: JuteReader): DeleteRequest {
  return { path: readRequiredString(reader, 'path'), version: reader.readInt() };
}
