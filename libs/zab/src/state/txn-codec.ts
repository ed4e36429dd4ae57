/**
 * Binary encoding of transactions (what the log stores and the leader proposes), in jute:
 *
 *   header: sessionId long | cxid int | zxid long | time long
 *   type int (ZooKeeper's OpCode) | body
 *
 * Bodies: create = path | data buffer | acl vector | kind int | ephemeralOwner long | ttlMs long
 * | parentCVersion int; delete = path; setData = path | data | version int; setACL = path |
 * acl vector | version int; check = path | version int; createSession = timeoutMs int;
 * closeSession = nothing; error = code int; multi = count int then per op its type int and
 * body (no header; ops cannot nest). An acl is perms int | scheme ustring | id ustring.
 *
 * `decodeTxn` checks structure only (lengths, known types and kinds, no trailing bytes) and
 * throws `JuteDecodeError` on anything else, never crashes; whether the txn fits the tree is the
 * tree's business. Decoded data buffers are views into the input, which must not be written
 * while the txn is in use (txn bytes never are: a follower decodes each txn only to apply it).
 */
import { JuteDecodeError } from '../jute/jute-error.js';
import { assert as assertInvariant, assertNever } from '../util/assert.js';
import { TTL_MS_MAX, type NodeKind } from './create-mode.js';
import type { Acl } from './stat.js';
import type { CreateTxn, MultiOpTxn, Txn, TxnBody, TxnHeader } from './txn.js';

/** ZooKeeper's `ZooDefs.OpCode` numbers of the transaction types. */
export const TxnOpCode = {
  create: 1,
  delete: 2,
  setData: 5,
  setACL: 7,
  check: 13,
  multi: 14,
  createSession: -10,
  closeSession: -11,
  error: -1,
} as const satisfies Record<TxnBody['type'], number>;

const KIND_CODES: Record<NodeKind, number> = { persistent: 0, ephemeral: 1, container: 2, ttl: 3 };
const KINDS: readonly NodeKind[] = ['persistent', 'ephemeral', 'container', 'ttl'];

/** Smallest encoded multi op (type int + the shortest body), bounds a hostile op count. */
const MULTI_OP_BYTES_MIN = 4;

/**
 * Encodes `txn`; the result is a fresh Buffer owned by the caller. The write path encodes into
 * an exactly sized buffer through a DataView (two passes: size, then bytes), which is several
 * times faster than the growable SizedWriter; the bytes are the same jute encoding (the spec
 * checks them against a SizedWriter-based reference encoder).
 */
export function encodeTxn(txn: Txn): Buffer {
  const size = HEADER_BYTES + bodyBytes(txn.body);
  const out = new SizedWriter(size);
  writeHeader(out, txn.header);
  writeBody(out, txn.body);
  return out.finish();
}

/** Decodes one whole transaction; throws `JuteDecodeError` on bad or truncated bytes. */
export function decodeTxn(bytes: Buffer): Txn {
  const reader = new TxnReader(bytes);
  const header = readHeader(reader);
  const body = readBody(reader, reader.readInt(), true);
  reader.expectEnd('txn');
  return { header, body };
}

const HEADER_BYTES = 8 + 4 + 8 + 8;

/** Encoded size of a body, its type int included. */
function bodyBytes(body: TxnBody): number {
  switch (body.type) {
    case 'create':
      return 4 + stringBytes(body.path) + 4 + body.data.length + aclBytes(body.acl) + 4 + 8 + 8 + 4;
    case 'delete':
      return 4 + stringBytes(body.path);
    case 'setData':
      return 4 + stringBytes(body.path) + 4 + body.data.length + 4;
    case 'setACL':
      return 4 + stringBytes(body.path) + aclBytes(body.acl) + 4;
    case 'check':
      return 4 + stringBytes(body.path) + 4;
    case 'createSession':
    case 'error':
      return 4 + 4;
    case 'closeSession':
      return 4;
    case 'multi': {
      let total = 4 + 4;
      for (const op of body.txns) total += bodyBytes(op);
      return total;
    }
    default:
      return assertNever(body, 'txn type');
  }
}

function aclBytes(acl: readonly Acl[]): number {
  let total = 4;
  for (const entry of acl) total += 4 + stringBytes(entry.scheme) + stringBytes(entry.id);
  return total;
}

/** Length prefix plus UTF-8 bytes of `text`. */
function stringBytes(text: string): number {
  return 4 + utf8Length(text);
}

function utf8Length(text: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) >= 0x80) return Buffer.byteLength(text, 'utf8');
  }
  return text.length;
}

/** Writes jute values into a buffer of a size known in advance (see `bodyBytes`). */
class SizedWriter {
  private readonly buffer: Buffer;
  private readonly view: DataView;
  private offset = 0;

  constructor(size: number) {
    this.buffer = Buffer.allocUnsafe(size);
    this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, size);
  }

  writeInt(value: number): this {
    this.view.setInt32(this.offset, value);
    this.offset += 4;
    return this;
  }

  writeLong(value: bigint): this {
    this.view.setBigInt64(this.offset, value);
    this.offset += 8;
    return this;
  }

  writeString(text: string): this {
    const length = utf8Length(text);
    this.writeInt(length);
    if (length === text.length) {
      for (let i = 0; i < length; i++) this.buffer[this.offset + i] = text.charCodeAt(i);
    } else {
      this.buffer.write(text, this.offset, length, 'utf8');
    }
    this.offset += length;
    return this;
  }

  writeBuffer(bytes: Uint8Array): this {
    this.writeInt(bytes.length);
    if (bytes.length <= 64) {
      for (let i = 0; i < bytes.length; i++) this.buffer[this.offset + i] = bytes[i]!;
    } else {
      this.buffer.set(bytes, this.offset);
    }
    this.offset += bytes.length;
    return this;
  }

  finish(): Buffer {
    assertInvariant(this.offset === this.buffer.length, 'txn size computed wrong');
    return this.buffer;
  }
}

/**
 * Bounds-checked jute reads over one buffer through a DataView (the TxnReader's contract,
 * faster longs); every failure is a `JuteDecodeError`.
 */
class TxnReader {
  private readonly view: DataView;
  private offset = 0;

  constructor(private readonly buffer: Buffer) {
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.length);
  }

  get remaining(): number {
    return this.buffer.length - this.offset;
  }

  readInt(): number {
    this.need(4, 'int');
    const value = this.view.getInt32(this.offset);
    this.offset += 4;
    return value;
  }

  readLong(): bigint {
    this.need(8, 'long');
    const value = this.view.getBigInt64(this.offset);
    this.offset += 8;
    return value;
  }

  /** A string, or null for length -1. */
  readString(): string | null {
    const length = this.readLength('string');
    if (length < 0) return null;
    const value = this.buffer.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  /** A view of a buffer in the input, or null for length -1. */
  readBufferView(): Buffer | null {
    const length = this.readLength('buffer');
    if (length < 0) return null;
    const start = this.offset;
    this.offset += length;
    return this.buffer.subarray(start, start + length);
  }

  expectEnd(what: string): void {
    if (this.offset !== this.buffer.length) {
      throw new JuteDecodeError(`${this.remaining} unexpected trailing bytes after ${what}`);
    }
  }

  /** A length prefix: -1 (null) or a length whose bytes are present. */
  private readLength(what: string): number {
    const length = this.readInt();
    if (length === -1) return -1;
    if (length < 0) {
      throw new JuteDecodeError(`negative ${what} length ${length} at ${this.offset - 4}`);
    }
    this.need(length, what);
    return length;
  }

  private need(bytes: number, what: string): void {
    if (this.offset + bytes > this.buffer.length) {
      throw new JuteDecodeError(`truncated ${what} at offset ${this.offset}: need ${bytes} bytes`);
    }
  }
}

function writeHeader(out: SizedWriter, header: TxnHeader): void {
  out.writeLong(header.sessionId).writeInt(header.cxid);
  out.writeLong(header.zxid).writeLong(header.time);
}

function readHeader(reader: TxnReader): TxnHeader {
  const sessionId = reader.readLong();
  const cxid = reader.readInt();
  const zxid = reader.readLong();
  const time = reader.readLong();
  return { sessionId, cxid, zxid, time };
}

function writeBody(out: SizedWriter, body: TxnBody): void {
  out.writeInt(TxnOpCode[body.type]);
  switch (body.type) {
    case 'create':
      out.writeString(body.path).writeBuffer(body.data);
      writeAcls(out, body.acl);
      out.writeInt(KIND_CODES[body.kind]).writeLong(body.ephemeralOwner);
      out.writeLong(BigInt(body.ttlMs)).writeInt(body.parentCVersion);
      return;
    case 'delete':
      out.writeString(body.path);
      return;
    case 'setData':
      out.writeString(body.path).writeBuffer(body.data).writeInt(body.version);
      return;
    case 'setACL':
      out.writeString(body.path);
      writeAcls(out, body.acl);
      out.writeInt(body.version);
      return;
    case 'check':
      out.writeString(body.path).writeInt(body.version);
      return;
    case 'createSession':
      out.writeInt(body.timeoutMs);
      return;
    case 'closeSession':
      return;
    case 'error':
      out.writeInt(body.code);
      return;
    case 'multi':
      out.writeInt(body.txns.length);
      for (const op of body.txns) writeBody(out, op);
      return;
    default:
      assertNever(body, 'txn type');
  }
}

function writeAcls(out: SizedWriter, acl: readonly Acl[]): void {
  out.writeInt(acl.length);
  for (const entry of acl) {
    out.writeInt(entry.perms).writeString(entry.scheme).writeString(entry.id);
  }
}

function readBody(reader: TxnReader, type: number, topLevel: boolean): TxnBody {
  switch (type) {
    case TxnOpCode.setACL:
      return {
        type: 'setACL',
        path: readPath(reader),
        acl: readAcls(reader),
        version: reader.readInt(),
      };
    case TxnOpCode.createSession:
      return { type: 'createSession', timeoutMs: reader.readInt() };
    case TxnOpCode.closeSession:
      return { type: 'closeSession' };
    case TxnOpCode.multi:
      if (!topLevel) throw new JuteDecodeError('multi inside a multi');
      return { type: 'multi', txns: readMultiOps(reader) };
    default:
      return readMultiOp(reader, type);
  }
}

function readMultiOps(reader: TxnReader): MultiOpTxn[] {
  const count = reader.readInt();
  if (count < 0 || count > reader.remaining / MULTI_OP_BYTES_MIN) {
    throw new JuteDecodeError(`bad multi op count ${count}`);
  }
  const txns: MultiOpTxn[] = [];
  for (let k = 0; k < count; k++) txns.push(readMultiOp(reader, reader.readInt()));
  return txns;
}

/** The op types a multi may hold (also valid at top level). */
function readMultiOp(reader: TxnReader, type: number): MultiOpTxn {
  switch (type) {
    case TxnOpCode.create:
      return readCreate(reader);
    case TxnOpCode.delete:
      return { type: 'delete', path: readPath(reader) };
    case TxnOpCode.setData:
      return {
        type: 'setData',
        path: readPath(reader),
        data: readData(reader),
        version: reader.readInt(),
      };
    case TxnOpCode.check:
      return { type: 'check', path: readPath(reader), version: reader.readInt() };
    case TxnOpCode.error:
      return { type: 'error', code: reader.readInt() };
    default:
      throw new JuteDecodeError(`unknown or misplaced txn type ${type}`);
  }
}

function readCreate(reader: TxnReader): CreateTxn {
  const path = readPath(reader);
  const data = readData(reader);
  const acl = readAcls(reader);
  const kindCode = reader.readInt();
  const kind = KINDS[kindCode];
  if (kind === undefined) throw new JuteDecodeError(`unknown node kind ${kindCode}`);
  const ephemeralOwner = reader.readLong();
  const ttl = reader.readLong();
  if (ttl < 0n || ttl > BigInt(TTL_MS_MAX)) throw new JuteDecodeError(`bad ttl ${ttl}`);
  const parentCVersion = reader.readInt();
  const ttlMs = Number(ttl);
  return { type: 'create', path, data, acl, kind, ephemeralOwner, ttlMs, parentCVersion };
}

function readPath(reader: TxnReader): string {
  const path = reader.readString();
  if (path === null) throw new JuteDecodeError('null path');
  return path;
}

/**
 * A view into the input, not a copy: txn bytes (log records, proposals) are never written
 * again, and applying the txn copies its data into the tree.
 */
function readData(reader: TxnReader): Buffer {
  const data = reader.readBufferView();
  if (data === null) throw new JuteDecodeError('null data');
  return data;
}

function readAcls(reader: TxnReader): Acl[] {
  const count = reader.readInt();
  // An acl entry takes at least 12 bytes; the bound stops a hostile count early.
  if (count < 0 || count > reader.remaining / 12) {
    throw new JuteDecodeError(`bad acl count ${count}`);
  }
  const acl: Acl[] = [];
  for (let k = 0; k < count; k++) {
    const perms = reader.readInt();
    const scheme = reader.readString();
    const id = reader.readString();
    if (scheme === null || id === null) throw new JuteDecodeError('null acl scheme or id');
    acl.push({ perms, scheme, id });
  }
  return acl;
}
