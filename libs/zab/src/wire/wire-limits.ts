/**
 * Limits on untrusted wire input. ZooKeeper's `jute.maxbuffer` bounds a whole request frame;
 * we do the same with `requestBytesMax` (payload bytes after the 4-byte length prefix).
 * Vectors need no separate limit: the jute reader caps a vector's count at the bytes left in
 * the frame, so a hostile count can never allocate more than the frame already holds.
 */
export interface WireLimits {
  /** Payload bytes allowed in one frame (the length prefix itself not counted). */
  requestBytesMax: number;
}

/** 1 MiB, ZooKeeper's `jute.maxbuffer` order of magnitude. */
export const REQUEST_BYTES_MAX_DEFAULT = 1024 * 1024;

export const DEFAULT_WIRE_LIMITS: Readonly<WireLimits> = Object.freeze({
  requestBytesMax: REQUEST_BYTES_MAX_DEFAULT,
});

/** Bytes of a frame's big-endian int32 length prefix; it counts the payload only. */
export const FRAME_LENGTH_BYTES = 4;
