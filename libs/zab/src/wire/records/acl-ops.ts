/**
 * `GetACLRequest { ustring path }`, `GetACLResponse { vector<ACL> acl; Stat stat }`,
 * `SetACLRequest { ustring path; vector<ACL> acl; int version }` and
 * `SetACLResponse { Stat stat }`.
 */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import { decodeAclList, encodeAclList, type Acl } from './acl.js';
import { readRequiredString } from './jute-fields.js';
import { decodeStat, encodeStat, type Stat } from './stat.js';

export interface GetACLRequest {
  path: string;
}

export interface GetACLResponse {
  acl: Acl[];
  stat: Stat;
}

export interface SetACLRequest {
  path: string;
  acl: Acl[];
  version: number;
}

export interface SetACLResponse {
  stat: Stat;
}

export function encodeGetACLRequest(writer: JuteWriter, request: GetACLRequest): void {
  writer.writeString(request.path);
}

export function decodeGetACLRequest(reader: JuteReader): GetACLRequest {
  return { path: readRequiredString(reader, 'path') };
}

export function encodeGetACLResponse(writer: JuteWriter, response: GetACLResponse): void {
  encodeAclList(writer, response.acl);
  encodeStat(writer, response.stat);
}

export function decodeGetACLResponse(reader: JuteReader): GetACLResponse {
  return { acl: decodeAclList(reader), stat: decodeStat(reader) };
}

export function encodeSetACLRequest(writer: JuteWriter, request: SetACLRequest): void {
  writer.writeString(request.path);
  encodeAclList(writer, request.acl);
  writer.writeInt(request.version);
}

export function decodeSetACLRequest(reader: JuteReader): SetACLRequest {
  const path = readRequiredString(reader, 'path');
  const acl = decodeAclList(reader);
  return { path, acl, version: reader.readInt() };
}

export function encodeSetACLResponse(writer: JuteWriter, response: SetACLResponse): void {
  encodeStat(writer, response.stat);
}

export function decodeSetACLResponse(reader: JuteReader): SetACLResponse {
  return { stat: decodeStat(reader) };
}
