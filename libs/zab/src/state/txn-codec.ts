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
 * tree's business. Decoded data buffers are copies owned by the txn (the input may be reused).
 */
import { JuteDecodeError } from '../jute/jute-error.js';
import { JuteReader } from '../jute/jute-reader.js';
import { JuteWriter } from '../jute/jute-writer.js';
import { assertNever } from '../util/assert.js';
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

const writer = new JuteWriter(1024);

/** Encodes `txn`; the result is a fresh Buffer owned by the caller. */
export function encodeTxn(txn: Txn): Buffer {
  writer.reset();
  writeHeader(writer, txn.header);
  writeBody(writer, txn.body);
  return writer.toBuffer();
}

/** Decodes one whole transaction; throws `JuteDecodeError` on bad or truncated bytes. */
export function decodeTxn(bytes: Buffer): Txn {
  const reader = new JuteReader(bytes);
  const header = readHeader(reader);
  const body = readBody(reader, reader.readInt(), true);
  reader.expectEnd('txn');
  return { header, body };
}

function writeHeader(out: JuteWriter, header: TxnHeader): void {
  out.writeLong(header.sessionId).writeInt(header.cxid).writeLong(header.zxid).writeLong(header.time);
}

function readHeader(reader: JuteReader): TxnHeader {
  const sessionId = reader.readLong();
  const cxid = reader.readInt();
  const zxid = reader.readLong();
  const time = reader.readLong();
  return { sessionId, cxid, zxid, time };
}

function writeBody(out: JuteWriter, body: TxnBody): void {
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

function writeAcls(out: JuteWriter, acl: readonly Acl[]): void {
  out.writeInt(acl.length);
  for (const entry of acl) out.writeInt(entry.perms).writeString(entry.scheme).writeString(entry.id);
}

function readBody(reader: JuteReader, type: number, topLevel: boolean): TxnBody {
  switch (type) {
    case TxnOpCode.setACL:
      return { type: 'setACL', path: readPath(reader), acl: readAcls(reader), version: reader.readInt() };
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

function readMultiOps(reader: JuteReader): MultiOpTxn[] {
  const count = reader.readInt();
  if (count < 0 || count > reader.remaining / MULTI_OP_BYTES_MIN) {
    throw new JuteDecodeError(`bad multi op count ${count}`);
  }
  const txns: MultiOpTxn[] = [];
  for (let k = 0; k < count; k++) txns.push(readMultiOp(reader, reader.readInt()));
  return txns;
}

/** The op types a multi may hold (also valid at top level). */
function readMultiOp(reader: JuteReader, type: number): MultiOpTxn {
  switch (type) {
    case TxnOpCode.create:
      return readCreate(reader);
    case TxnOpCode.delete:
      return { type: 'delete', path: readPath(reader) };
    case TxnOpCode.setData:
      return { type: 'setData', path: readPath(reader), data: readData(reader), version: reader.readInt() };
    case TxnOpCode.check:
      return { type: 'check', path: readPath(reader), version: reader.readInt() };
    case TxnOpCode.error:
      return { type: 'error', code: reader.readInt() };
    default:
      throw new JuteDecodeError(`unknown or misplaced txn type ${type}`);
  }
}

function readCreate(reader: JuteReader): CreateTxn {
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
  return { type: 'create', path, data, acl, kind, ephemeralOwner, ttlMs: Number(ttl), parentCVersion };
}

function readPath(reader: JuteReader): string {
  const path = reader.readString();
  if (path === null) throw new JuteDecodeError('null path');
  return path;
}

/** A copy: the txn outlives the input buffer. */
function readData(reader: JuteReader): Buffer {
  const view = reader.readBuffer();
  if (view === null) throw new JuteDecodeError('null data');
  return Buffer.from(view);
}

function readAcls(reader: JuteReader): Acl[] {
  const count = reader.readInt();
  // An acl entry takes at least 12 bytes; the bound stops a hostile count early.
  if (count < 0 || count > reader.remaining / 12) throw new JuteDecodeError(`bad acl count ${count}`);
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
