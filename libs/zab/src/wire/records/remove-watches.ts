/**
 * `RemoveWatchesRequest` (op removeWatches) and `CheckWatchesRequest` (op checkWatches):
 * both `{ ustring path; int type }`, type being ZooKeeper's `WatcherType`. No body back.
 */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import { readRequiredString } from './jute-fields.js';

/** ZooKeeper's `Watcher.WatcherType` numbers. */
export const WatcherType = {
  children: 1,
  data: 2,
  any: 3,
  persistent: 4,
  persistentRecursive: 5,
} as const;

export interface RemoveWatchesRequest {
  path: string;
  type: number;
}

/** Same fields as RemoveWatchesRequest; only asks whether such watches exist. */
export type CheckWatchesRequest = RemoveWatchesRequest;

export function encodeRemoveWatchesRequest(
  writer: JuteWriter,
  request: RemoveWatchesRequest,
): void {
  writer.writeString(request.path).writeInt(request.type);
}

export function decodeRemoveWatchesRequest(reader: JuteReader): RemoveWatchesRequest {
  return { path: readRequiredString(reader, 'path'), type: reader.readInt() };
}
