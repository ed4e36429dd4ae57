/**
 * `GetChildrenRequest`/`GetChildren2Request` (same fields: path, watch),
 * `GetChildrenResponse { vector<ustring> children }` and
 * `GetChildren2Response { vector<ustring> children; Stat stat }`.
 */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import { readRequiredString, readStringList, writeStringList } from './jute-fields.js';
import { decodeStat, encodeStat, type Stat } from './stat.js';

export interface GetChildrenRequest {
  path: string;
  watch: boolean;
}

export interface GetChildrenResponse {
  children: string[];
}

export interface GetChildren2Response {
  children: string[];
  stat: Stat;
}

export function encodeGetChildrenRequest(writer: JuteWriter, request: GetChildrenRequest): void {
  writer.writeString(request.path).writeBool(request.watch);
}

export function decodeGetChildrenRequest(reader: JuteReader): GetChildrenRequest {
  return { path: readRequiredString(reader, 'path'), watch: reader.readBool() };
}

export function encodeGetChildrenResponse(
  writer: JuteWriter,
  response: GetChildrenResponse,
): void {
  writeStringList(writer, response.children);
}

export function decodeGetChildrenResponse(reader: JuteReader): GetChildrenResponse {
  return { children: readStringList(reader, 'child') };
}

export function encodeGetChildren2Response(
  writer: JuteWriter,
  response: GetChildren2Response,
): void {
  writeStringList(writer, response.children);
  encodeStat(writer, response.stat);
}

export function decodeGetChildren2Response(reader: JuteReader): GetChildren2Response {
  return { children: readStringList(reader, 'child'), stat: decodeStat(reader) };
}
