/** `RequestHeader { int xid; int type }`: precedes every client frame after the handshake. */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';

export interface RequestHeader {
  xid: number;
  /** The op code (`OpCode`); kept a plain number because clients may send unknown ones. */
  type: number;
}

export function encodeRequestHeader(writer: JuteWriter, header: RequestHeader): void {
  writer.writeInt(header.xid).writeInt(header.type);
}

export function decodeRequestHeader(reader: JuteReader): RequestHeader {
  return { xid: reader.readInt(), type: reader.readInt() };
}
