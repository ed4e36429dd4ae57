/**
 * An independent, deliberately simple jute encoder for golden test vectors: plain number
 * arrays and TextEncoder, no Buffer writes and nothing from jute-writer.ts, so a writer bug
 * cannot hide the same bug in the expected bytes. Field orders are restated from
 * zookeeper.jute here, by hand.
 */
import type { Acl, Stat } from '../../state/stat.js';

export class GoldenBytes {
  private readonly bytes: number[] = [];

  int(value: number): this {
    const unsigned = value >>> 0;
    this.bytes.push(unsigned >>> 24, (unsigned >>> 16) & 255);
    this.bytes.push((unsigned >>> 8) & 255, unsigned & 255);
    return this;
  }

  long(value: bigint): this {
    let unsigned = BigInt.asUintN(64, value);
    const out: number[] = [];
    for (let i = 0; i < 8; i++) {
      out.unshift(Number(unsigned & 255n));
      unsigned >>= 8n;
    }
    this.bytes.push(...out);
    return this;
  }

  bool(value: boolean): this {
    this.bytes.push(value ? 1 : 0);
    return this;
  }

  ustring(value: string | null): this {
    if (value === null) return this.int(-1);
    return this.buffer(new TextEncoder().encode(value));
  }

  buffer(value: Uint8Array | null): this {
    if (value === null) return this.int(-1);
    this.int(value.length);
    for (const byte of value) this.bytes.push(byte);
    return this;
  }

  strings(values: readonly string[]): this {
    this.int(values.length);
    for (const value of values) this.ustring(value);
    return this;
  }

  /** Stat: czxid mzxid ctime mtime (long) version cversion aversion (int) ephemeralOwner
   * (long) dataLength numChildren (int) pzxid (long). */
  stat(stat: Stat): this {
    this.long(stat.czxid).long(stat.mzxid).long(stat.ctime).long(stat.mtime);
    this.int(stat.version).int(stat.cversion).int(stat.aversion).long(stat.ephemeralOwner);
    return this.int(stat.dataLength).int(stat.numChildren).long(stat.pzxid);
  }

  /** vector<ACL>: count, then perms (int), Id { scheme, id }. */
  acls(acls: readonly Acl[]): this {
    this.int(acls.length);
    for (const acl of acls) this.int(acl.perms).ustring(acl.scheme).ustring(acl.id);
    return this;
  }

  /** Raw bytes, e.g. an already built record. */
  raw(bytes: Iterable<number>): this {
    for (const byte of bytes) this.bytes.push(byte);
    return this;
  }

  get length(): number {
    return this.bytes.length;
  }

  toBuffer(): Buffer {
    return Buffer.from(Uint8Array.from(this.bytes));
  }

  /** This payload behind a 4-byte big-endian length prefix that counts the payload only. */
  toFrame(): Buffer {
    return new GoldenBytes().int(this.bytes.length).raw(this.bytes).toBuffer();
  }
}
