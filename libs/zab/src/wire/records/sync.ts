/** `SyncRequest { ustring path }` and `SyncResponse { ustring path }`. */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import { readRequiredString } from './jute-fields.js';

export interface SyncRequest {
  path: string;
}

export interface SyncResponse {
  path: string;
}

export function encodeSyncRequest(writer: JuteWriter, request: SyncRequest): void {
  writer.writeString(request.path);
}

export function decodeSyncRequest(reader: JuteReader): SyncRequest {
  return { path: readRequiredString(reader, 'path') };
}

export function encodeSyncResponse(writer: JuteWriter, response: SyncResponse): void {
  writer.writeString(response.path);
}

export function decodeSyncResponse(reader: JuteReader): SyncResponse {
  return { path: readRequiredString(reader, 'path') };
}
