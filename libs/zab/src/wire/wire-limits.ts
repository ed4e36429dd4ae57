/**
 * Limits on untrusted wire input, as ZooKeeper's `jute.maxbuffer`: the server refuses a
 * request frame over `requestBytesMax` (BinaryInputArchive.maxBuffer, 0xfffff by default),
 * and the client refuses a reply frame over `replyBytesMax` (ClientCnxn.packetLen, 4 MiB by
 * default, larger because one getChildren reply may list many children). Both count payload
 * bytes, after the 4-byte length prefix. Vectors need no separate limit: the jute reader caps
 * a vector's count at the bytes left in the frame, so a hostile count can never allocate more
 * than the frame already holds.
 */
export interface WireLimits {
  /** Payload bytes allowed in one client → server frame. */
  requestBytesMax: number;
  /** Payload bytes allowed in one server → client frame. */
  replyBytesMax: number;
}

/** 1 MiB (ZooKeeper's server default is one byte less, 0xfffff). */
export const REQUEST_BYTES_MAX_DEFAULT = 1024 * 1024;

/** 4 MiB, ZooKeeper's client default. */
export const REPLY_BYTES_MAX_DEFAULT = 4 * 1024 * 1024;

export const DEFAULT_WIRE_LIMITS: Readonly<WireLimits> = Object.freeze({
  requestBytesMax: REQUEST_BYTES_MAX_DEFAULT,
  replyBytesMax: REPLY_BYTES_MAX_DEFAULT,
});

/** Bytes of a frame's big-endian int32 length prefix; it counts the payload only. */
export const FRAME_LENGTH_BYTES = 4;
