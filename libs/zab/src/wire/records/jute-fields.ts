/**
 * Field helpers shared by the records: ZooKeeper's records never carry a null path or a null
 * vector from a well-behaved peer, so a null there is malformed input (`JuteDecodeError`),
 * except that a null vector reads as empty (ZooKeeper answers those with a result code, not
 * a closed connection). Returned buffers are views into the frame (see JuteReader).
 */
import { JuteDecodeError } from '../../jute/jute-error.js';
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';

/** Reads a ustring that must not be null (paths, schemes, ids, children). */
export function readRequiredString(reader: JuteReader, what: string): string {
  const value = reader.readString();
  if (value === null) throw new JuteDecodeError(`null ${what} at ${reader.position - 4}`);
  return value;
}

export function readList<T>(reader: JuteReader, readItem: (reader: JuteReader) => T): T[] {
  return reader.readVector(readItem) ?? [];
}

export function readStringList(reader: JuteReader, what: string): string[] {
  return readList(reader, (item) => readRequiredString(item, what));
}

export function writeStringList(writer: JuteWriter, items: readonly string[]): void {
  writer.writeVector(items, (w, item) => w.writeString(item));
}
