/**
 * ZooKeeper's `ACL { int perms; Id id }` and `Id { ustring scheme; ustring id }`, flattened
 * into the state layer's `Acl` (the wire order is perms, scheme, id).
 */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import type { Acl } from '../../state/stat.js';
import { readList, readRequiredString } from './jute-fields.js';

export type { Acl };

export function encodeAcl(writer: JuteWriter, acl: Acl): void {
  writer.writeInt(acl.perms).writeString(acl.scheme).writeString(acl.id);
}

export function decodeAcl(reader: JuteReader): Acl {
  const perms = reader.readInt();
  const scheme = readRequiredString(reader, 'scheme');
  return { perms, scheme, id: readRequiredString(reader, 'id') };
}

export function encodeAclList(writer: JuteWriter, acl: readonly Acl[]): void {
  writer.writeVector(acl, encodeAcl);
}

export function decodeAclList(reader: JuteReader): Acl[] {
  return readList(reader, decodeAcl);
}
