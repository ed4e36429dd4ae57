/**
 * `WatcherEvent { int type; int state; ustring path }`: the body of a notification frame
 * (xid `SpecialXid.notification`). `type` is `WatchEventTypeCode` (or 0 = None for session
 * state events, with a null path), `state` is ZooKeeper's `KeeperState` (3 = SyncConnected).
 */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';

/** ZooKeeper's `Watcher.Event.KeeperState` numbers that a server sends. */
export const KeeperState = {
  disconnected: 0,
  syncConnected: 3,
  authFailed: 4,
  connectedReadOnly: 5,
  saslAuthenticated: 6,
  expired: -112,
  closed: 7,
} as const;

export interface WatcherEvent {
  type: number;
  state: number;
  /** Null only for session state events (type None). */
  path: string | null;
}

export function encodeWatcherEvent(writer: JuteWriter, event: WatcherEvent): void {
  writer.writeInt(event.type).writeInt(event.state).writeString(event.path);
}

export function decodeWatcherEvent(reader: JuteReader): WatcherEvent {
  return { type: reader.readInt(), state: reader.readInt(), path: reader.readString() };
}
