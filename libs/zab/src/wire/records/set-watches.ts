/**
 * Watch re-registration after a reconnect (xid `SpecialXid.setWatches`): `SetWatches`
 * (op setWatches) carries data, exist and child watches; `SetWatches2` (op setWatches2) adds
 * persistent and persistent-recursive ones. `relativeZxid` is the last zxid the client saw:
 * the server fires every watch whose node changed after it. No response body.
 */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import { readStringList, writeStringList } from './jute-fields.js';

export interface SetWatches {
  relativeZxid: bigint;
  dataWatches: string[];
  existWatches: string[];
  childWatches: string[];
}

export interface SetWatches2 extends SetWatches {
  persistentWatches: string[];
  persistentRecursiveWatches: string[];
}

export function encodeSetWatches(writer: JuteWriter, request: SetWatches): void {
  writer.writeLong(request.relativeZxid);
  writeStringList(writer, request.dataWatches);
  writeStringList(writer, request.existWatches);
  writeStringList(writer, request.childWatches);
}

export function decodeSetWatches(reader: JuteReader): SetWatches {
  return {
    relativeZxid: reader.readLong(),
    dataWatches: readStringList(reader, 'data watch'),
    existWatches: readStringList(reader, 'exist watch'),
    childWatches: readStringList(reader, 'child watch'),
  };
}

export function encodeSetWatches2(writer: JuteWriter, request: SetWatches2): void {
  encodeSetWatches(writer, request);
  writeStringList(writer, request.persistentWatches);
  writeStringList(writer, request.persistentRecursiveWatches);
}

export function decodeSetWatches2(reader: JuteReader): SetWatches2 {
  const base = decodeSetWatches(reader);
  return {
    ...base,
    persistentWatches: readStringList(reader, 'persistent watch'),
    persistentRecursiveWatches: readStringList(reader, 'persistent recursive watch'),
  };
}
