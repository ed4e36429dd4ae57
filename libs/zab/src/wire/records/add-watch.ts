/** `AddWatchRequest { ustring path; int mode }` (ZooKeeper's `AddWatchMode`); no body back. */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import { readRequiredString } from './jute-fields.js';

/** ZooKeeper's `AddWatchMode` numbers. */
export const AddWatchMode = { persistent: 0, persistentRecursive: 1 } as const;

export interface AddWatchRequest {
  path: string;
  /** `AddWatchMode`; a plain number because clients may send others (answered BadArguments). */
  mode: number;
}

export function encodeAddWatchRequest(writer: JuteWriter, request: AddWatchRequest): void {
  writer.writeString(request.path).writeInt(request.mode);
}

export function decodeAddWatchRequest(reader: JuteReader): AddWatchRequest {
  return { path: readRequiredString(reader, 'path'), mode: reader.readInt() };
}
