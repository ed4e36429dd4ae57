/**
 * Binary encoding of write requests, in jute, for forwarding a client's write from the replica
 * it reached to the leader, which prepares it (ZooKeeper's Request packet carries the client's
 * request bytes the same way).
 *
 *   op int (ZooKeeper's OpCode) | body
 *   create = path | data buffer | acl vector | mode int (CreateMode flag) | ttlMs long (-1: none)
 *   delete, check = path | version int;  setData = path | data | version int
 *   setACL = path | acl vector | version int;  multi = count int, then op int | body per op
 *   createSession = timeoutMs int;  closeSession = nothing
 *   deleteContainer = path;  deleteExpiredTtl (no ZooKeeper op; private code) = path
 *   acl = perms int | scheme ustring | id ustring
 *
 * Identities section (optional, after the request): the addAuth identities of the request's
 * session on the replica that took it, which the leader's preparer checks ACLs against (the
 * `authinfo` of ZooKeeper's QuorumPacket):
 *   AUTH_SECTION_TAG int | count int | (scheme ustring | id ustring) per identity
 * It is written only when there are identities, so a request without any encodes exactly as
 * before this section existed, and bytes without it decode to no identities.
 *
 * `decodeRequest` checks structure only and throws `JuteDecodeError` on anything malformed
 * (never crashes); the values are validated by the request preparer like any client input.
 */
import { JuteDecodeError } from '../jute/jute-error.js';
import { JuteReader } from '../jute/jute-reader.js';
import { JuteWriter } from '../jute/jute-writer.js';
import { CreateModeFlag, createModeFromFlag } from './create-mode.js';
import type { AuthId } from './acl.js';
import type { MultiOpRequest, WriteRequest } from './request.js';
import type { Acl } from './stat.js';

export const RequestOpCode = {
  create: 1,
  delete: 2,
  setData: 5,
  setACL: 7,
  check: 13,
  multi: 14,
  deleteContainer: 20,
  createSession: -10,
  closeSession: -11,
  deleteExpiredTtl: 1001,
} as const satisfies Record<WriteRequest['op'], number>;

const EMPTY_DATA = Buffer.alloc(0);

/** Most ops a decoded multi may hold (each op takes at least its 4-byte type). */
const OP_BYTES_MIN = 4;

/** Marks the identities section ('AUTH'); no request body can end with a stray int. */
export const AUTH_SECTION_TAG = 0x41555448;

/** Most identities one request may carry (a session's addAuth count is bounded lower). */
export const REQUEST_IDENTITIES_MAX = 64;

export function encodeRequest(request: WriteRequest, identities: readonly AuthId[] = []): Buffer {
  const writer = new JuteWriter();
  writeRequest(writer, request);
  if (identities.length > 0) {
    writer.writeInt(AUTH_SECTION_TAG);
    writer.writeVector(identities, (w, identity) => {
      w.writeString(identity.scheme).writeString(identity.id);
    });
  }
  // A view, not a copy: the writer is this call's own and never written again.
  return writer.finish();
}

/** The request alone (any identities section is checked and dropped). */
export function decodeRequest(bytes: Buffer): WriteRequest {
  return decodeAuthenticatedRequest(bytes).request;
}

/** The request and the identities it carries (none when the section is absent). */
export function decodeAuthenticatedRequest(bytes: Buffer):
  { request: WriteRequest; identities: AuthId[] } {
  const reader = new JuteReader(bytes);
  const request = readRequest(reader, reader.readInt());
  const identities = reader.remaining === 0 ? [] : readIdentities(reader);
  reader.expectEnd('request');
  return { request, identities };
}

function readIdentities(reader: JuteReader): AuthId[] {
  const tag = reader.readInt();
  if (tag !== AUTH_SECTION_TAG) throw new JuteDecodeError(`unknown request section 0x${(tag >>> 0).toString(16)}`);
  const identities = reader.readVector((r) => {
    const scheme = r.readString();
    const id = r.readString();
    if (scheme === null || id === null) throw new JuteDecodeError('null identity scheme or id');
    return { scheme, id };
  }, Math.min(REQUEST_IDENTITIES_MAX, reader.remaining / 8));
  if (identities === null) throw new JuteDecodeError('null identity list');
  return identities;
}

function writeRequest(writer: JuteWriter, request: WriteRequest): void {
  writer.writeInt(RequestOpCode[request.op]);
  switch (request.op) {
    case 'create':
      writer.writeString(request.path).writeBuffer(request.data);
      writeAcl(writer, request.acl);
      writer.writeInt(CreateModeFlag[request.mode]).writeLong(BigInt(request.ttlMs ?? -1));
      return;
    case 'delete':
    case 'check':
      writer.writeString(request.path).writeInt(request.version);
      return;
    case 'setData':
      writer.writeString(request.path).writeBuffer(request.data).writeInt(request.version);
      return;
    case 'setACL':
      writer.writeString(request.path);
      writeAcl(writer, request.acl);
      writer.writeInt(request.version);
      return;
    case 'multi':
      writer.writeInt(request.ops.length);
      for (const op of request.ops) writeRequest(writer, op);
      return;
    case 'createSession':
      writer.writeInt(request.timeoutMs);
      return;
    case 'closeSession':
      return;
    case 'deleteContainer':
    case 'deleteExpiredTtl':
      writer.writeString(request.path);
      return;
  }
}

function writeAcl(writer: JuteWriter, acl: readonly Acl[]): void {
  writer.writeVector(acl, (w, entry) => {
    w.writeInt(entry.perms).writeString(entry.scheme).writeString(entry.id);
  });
}

function readRequest(reader: JuteReader, op: number): WriteRequest {
  switch (op) {
    case RequestOpCode.create:
    case RequestOpCode.delete:
    case RequestOpCode.setData:
    case RequestOpCode.check:
      return readMultiOp(reader, op);
    case RequestOpCode.setACL: {
      const path = readPath(reader);
      const acl = readAcl(reader);
      return { op: 'setACL', path, acl, version: reader.readInt() };
    }
    case RequestOpCode.multi: {
      const count = reader.readInt();
      if (count < 0 || count > reader.remaining / OP_BYTES_MIN) {
        throw new JuteDecodeError(`bad multi op count ${count}`);
      }
      const ops: MultiOpRequest[] = [];
      // Ops are read as multi ops only: a nested multi or a session op is refused there.
      for (let i = 0; i < count; i++) ops.push(readMultiOp(reader, reader.readInt()));
      return { op: 'multi', ops };
    }
    case RequestOpCode.createSession:
      return { op: 'createSession', timeoutMs: reader.readInt() };
    case RequestOpCode.closeSession:
      return { op: 'closeSession' };
    case RequestOpCode.deleteContainer:
      return { op: 'deleteContainer', path: readPath(reader) };
    case RequestOpCode.deleteExpiredTtl:
      return { op: 'deleteExpiredTtl', path: readPath(reader) };
    default:
      throw new JuteDecodeError(`unknown request op ${op}`);
  }
}

function readMultiOp(reader: JuteReader, op: number): MultiOpRequest {
  switch (op) {
    case RequestOpCode.create: {
      const path = readPath(reader);
      const data = readData(reader);
      const acl = readAcl(reader);
      const flag = reader.readInt();
      const mode = createModeFromFlag(flag);
      if (mode === undefined) throw new JuteDecodeError(`unknown create mode flag ${flag}`);
      const ttl = reader.readLong();
      if (ttl < -1n || ttl > BigInt(Number.MAX_SAFE_INTEGER)) throw new JuteDecodeError(`bad ttl ${ttl}`);
      return ttl === -1n
        ? { op: 'create', path, data, acl, mode }
        : { op: 'create', path, data, acl, mode, ttlMs: Number(ttl) };
    }
    case RequestOpCode.delete:
      return { op: 'delete', path: readPath(reader), version: reader.readInt() };
    case RequestOpCode.setData: {
      const path = readPath(reader);
      return { op: 'setData', path, data: readData(reader), version: reader.readInt() };
    }
    case RequestOpCode.check:
      return { op: 'check', path: readPath(reader), version: reader.readInt() };
    default:
      throw new JuteDecodeError(`op ${op} is not allowed inside a multi`);
  }
}

function readPath(reader: JuteReader): string {
  const path = reader.readString();
  if (path === null) throw new JuteDecodeError('null path');
  return path;
}

/**
 * Data is a view into the input, not a copy: a forwarded request is decoded from its peer
 * frame, which the transport never reuses, and the leader copies the data into the txn it
 * encodes (the tree keeps its own copy).
 */
function readData(reader: JuteReader): Buffer {
  const data = reader.readBuffer();
  return data === null ? EMPTY_DATA : data;
}

function readAcl(reader: JuteReader): Acl[] {
  const acl = reader.readVector((r) => {
    const perms = r.readInt();
    const scheme = r.readString();
    const id = r.readString();
    if (scheme === null || id === null) throw new JuteDecodeError('null ACL scheme or id');
    return { perms, scheme, id };
  }, reader.remaining / 12);
  if (acl === null) throw new JuteDecodeError('null ACL list');
  return acl;
}
