/** ZooKeeper's `Stat` record (zookeeper.jute, module data): 11 fields, 68 bytes. */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';
import type { Stat } from '../../state/stat.js';

export type { Stat };

export const STAT_BYTES = 68;

export function encodeStat(writer: JuteWriter, stat: Stat): void {
  writer.writeLong(stat.czxid).writeLong(stat.mzxid).writeLong(stat.ctime).writeLong(stat.mtime);
  writer.writeInt(stat.version).writeInt(stat.cversion).writeInt(stat.aversion);
  writer.writeLong(stat.ephemeralOwner).writeInt(stat.dataLength).writeInt(stat.numChildren);
  writer.writeLong(stat.pzxid);
}

export function decodeStat(reader: JuteReader): Stat {
  return {
    czxid: reader.readLong(),
    mzxid: reader.readLong(),
    ctime: reader.readLong(),
    mtime: reader.readLong(),
    version: reader.readInt(),
    cversion: reader.readInt(),
    aversion: reader.readInt(),
    ephemeralOwner: reader.readLong(),
    dataLength: reader.readInt(),
    numChildren: reader.readInt(),
    pzxid: reader.readLong(),
  };
}
