/**
 * ZooKeeper's `Stat` (field order as in zookeeper.jute). zxids, times (ms since the epoch, as
 * stamped by the leader in the transaction header) and the ephemeral owner are bigint.
 */
export interface Stat {
  czxid: bigint;
  mzxid: bigint;
  ctime: bigint;
  mtime: bigint;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: bigint;
  dataLength: number;
  numChildren: number;
  pzxid: bigint;
}

/** ACL entry; perms is a bit set of `Perms`. */
export interface Acl {
  perms: number;
  scheme: string;
  id: string;
}

export const Perms = {
  Read: 1,
  Write: 2,
  Create: 4,
  Delete: 8,
  Admin: 16,
  All: 31,
} as const;

/** `world:anyone` with every permission, ZooKeeper's `OPEN_ACL_UNSAFE`. */
export const OPEN_ACL_UNSAFE: readonly Acl[] = Object.freeze([
  Object.freeze({ perms: Perms.All, scheme: 'world', id: 'anyone' }),
]);
