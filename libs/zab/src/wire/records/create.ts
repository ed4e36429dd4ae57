/**
 * Create requests and responses. `CreateRequest` serves the ops create, create2 and
 * createContainer; `CreateTTLRequest` adds a trailing `ttl` (ms). `create` answers with
 * `CreateResponse` (the actual path, which differs for sequential nodes); create2,
 * createContainer and createTTL answer with `Create2Response` (path and Stat).
 */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import { decodeAclList, encodeAclList, type Acl } from './acl.js';
import { readRequiredString } from './jute-fields.js';
import { decodeStat, encodeStat, type Stat } from './stat.js';

export interface CreateRequest {
  path: string;
  data: Buffer | null;
  acl: Acl[];
  /** ZooKeeper's `CreateMode` flag (`CreateModeFlag`). */
  flags: number;
}

export interface CreateTTLRequest extends CreateRequest {
  ttl: bigint;
}

export interface CreateResponse {
  path: string;
}

export interface Create2Response {
  path: string;
  stat: Stat;
}

export function encodeCreateRequest(writer: JuteWriter, request: CreateRequest): void {
  writer.writeString(request.path).writeBuffer(request.data);
  encodeAclList(writer, request.acl);
  writer.writeInt(request.flags);
}

export function decodeCreateRequest(reader: JuteReader): CreateRequest {
  const path = readRequiredString(reader, 'path');
  const data = reader.readBuffer();
  const acl = decodeAclList(reader);
  return { path, data, acl, flags: reader.readInt() };
}

export function encodeCreateTTLRequest(writer: JuteWriter, request: CreateTTLRequest): void {
  encodeCreateRequest(writer, request);
  writer.writeLong(request.ttl);
}

export function decodeCreateTTLRequest(reader: JuteReader): CreateTTLRequest {
  const request = decodeCreateRequest(reader);
  return { ...request, ttl: reader.readLong() };
}

export function encodeCreateResponse(writer: JuteWriter, response: CreateResponse): void {
  writer.writeString(response.path);
}

export function decodeCreateResponse(reader: JuteReader): CreateResponse {
  return { path: readRequiredString(reader, 'path') };
}

export function encodeCreate2Response(writer: JuteWriter, response: Create2Response): void {
  writer.writeString(response.path);
  encodeStat(writer, response.stat);
}

export function decodeCreate2Response(reader: JuteReader): Create2Response {
  return { path: readRequiredString(reader, 'path'), stat: decodeStat(reader) };
}
