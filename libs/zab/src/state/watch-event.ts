/**
 * Watch events produced by `DataTree.apply`, in zxid order. They are per replica, never
 * replicated: each replica's watch registry (watch-registry.ts) maps them onto its watchers.
 */
import type { Zxid } from '../core/ids.js';

export type WatchEventType = 'created' | 'deleted' | 'dataChanged' | 'childrenChanged';

export interface WatchEvent {
  type: WatchEventType;
  path: string;
  zxid: Zxid;
}

/** ZooKeeper's `Watcher.Event.EventType` numbers, for the wire. */
export const WatchEventTypeCode: Record<WatchEventType, number> = {
  created: 1,
  deleted: 2,
  dataChanged: 3,
  childrenChanged: 4,
};
