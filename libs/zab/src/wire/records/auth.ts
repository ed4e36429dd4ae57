/**
 * `AuthPacket { int type; ustring scheme; buffer auth }` (op auth, xid `SpecialXid.authPacket`,
 * what addauth sends; type is 0 in every ZooKeeper client). `auth` is a view into the frame.
 */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import { readRequiredString } from './jute-fields.js';

export interface AuthPacket {
  type: number;
  scheme: string;
  auth: Buffer | null;
}

export function encodeAuthPacket(writer: JuteWriter, packet: AuthPacket): void {
  writer.writeInt(packet.type).writeString(packet.scheme).writeBuffer(packet.auth);
}

export function decodeAuthPacket(reader: JuteReader): AuthPacket {
  const type = reader.readInt();
  return { type, scheme: readRequiredString(reader, 'scheme'), auth: reader.readBuffer() };
}
