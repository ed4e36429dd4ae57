/**
 * Reserved `xid` values (ZooKeeper's `ClientCnxn`). Ordinary requests use positive xids chosen
 * by the client; replies echo them. These negative ones mark frames that answer no request or
 * requests the client library sends on its own.
 */
export const SpecialXid = {
  /** Server → client watch notification: ReplyHeader then WatcherEvent. */
  notification: -1,
  /** Client ping (op `ping`) and its reply. */
  ping: -2,
  /** Client `AuthPacket` (op `auth`) and its reply. */
  authPacket: -4,
  /** Client `SetWatches`/`SetWatches2` sent on reconnect, and its reply. */
  setWatches: -8,
} as const;

export type SpecialXid = (typeof SpecialXid)[keyof typeof SpecialXid];
