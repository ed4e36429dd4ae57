/**
 * `ReplyHeader { int xid; long zxid; int err }`: precedes every server frame after the
 * handshake. `err` is a ZooKeeper result code (`ErrorCode`); a non-zero code means no body.
 */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';

export interface ReplyHeader {
  xid: number;
  zxid: bigint;
  err: number;
}

export function encodeReplyHeader(writer: JuteWriter, header: ReplyHeader): void {
  writer.writeInt(header.xid).writeLong(header.zxid).writeInt(header.err);
}

export function decodeReplyHeader(reader: JuteReader): ReplyHeader {
  return { xid: reader.readInt(), zxid: reader.readLong(), err: reader.readInt() };
}
