/**
 * Binary encoding of `PeerMessage` (one frame's payload; framing is the transport's job).
 *
 * Layout (jute encoding, big-endian): byte version (1), byte type code, then the fields of the
 * message in declaration order: int for numbers (epochs, rounds, ids, counts), long for zxids
 * and session ids, boolean as one byte, buffer = int length + bytes, vectors = int count then
 * items, bounded by `SESSION_TOUCHES_MAX`. Type codes reuse ZooKeeper's packet numbers where
 * one exists (PROPOSAL 2 ... LEADERINFO 17, ACKEPOCH 18) and use 100+ for ours.
 *
 * `decodePeerMessage` never throws anything but `JuteDecodeError` on bad input (unknown
 * version/type/state, truncation, trailing bytes, out-of-range values). Decoded buffers are
 * copies, so the frame buffer can be reused, except the txn of a proposal or an inform and the
 * bytes of a forwarded request: views into the frame (one per write on the hot path; the
 * transport never reuses a frame).
 */
import { assertNever } from '../util/assert.js';
import { JuteDecodeError } from '../jute/jute-error.js';
import { JuteReader } from '../jute/jute-reader.js';
import { JuteWriter } from '../jute/jute-writer.js';
import { SERVER_STATES, type PeerMessage, type PeerMessageType, type ServerState,
  type SessionTouch } from '../core/peer-message.js';

export const PEER_CODEC_VERSION = 1;
export const SESSION_TOUCHES_MAX = 100_000;

const TYPE_CODES: Record<PeerMessageType, number> = {
  request: 1, proposal: 2, ack: 3, commit: 4, ping: 5, sync: 7, inform: 8, newLeader: 10,
  followerInfo: 11, upToDate: 12, diff: 13, trunc: 14, snap: 15, observerInfo: 16,
  leaderInfo: 17, ackEpoch: 18, notification: 100, syncReply: 101,
};
const TYPES_BY_CODE = new Map<number, PeerMessageType>(
  Object.entries(TYPE_CODES).map(([type, code]) => [code, type as PeerMessageType]),
);

/** The two header bytes (version, type code) of each type, built once. */
const HEADERS = new Map<PeerMessageType, Buffer>(
  Object.entries(TYPE_CODES).map(([type, code]) => [type as PeerMessageType,
    Buffer.from([PEER_CODEC_VERSION, code])]),
);

/** One exactly-sized buffer per message (hot path: a proposal is encoded once per txn). */
export function encodePeerMessage(message: PeerMessage): Buffer {
  const writer = new JuteWriter(2 + bodyBytes(message));
  writer.writeRaw(HEADERS.get(message.type)!);
  writeBody(writer, message);
  // Exactly sized (a wrong size would only cost a grow or a shorter view): no copy.
  return writer.finish();
}

/** Encoded body size of `m`, matching `writeBody` field for field. */
function bodyBytes(m: PeerMessage): number {
  switch (m.type) {
    case 'notification': return 24;
    case 'followerInfo': return 5;
    case 'observerInfo': case 'leaderInfo': case 'sync': return 4;
    case 'ackEpoch': return 13;
    case 'diff': case 'trunc': case 'commit': case 'ack': case 'upToDate': return 8;
    case 'newLeader': return 16;
    case 'syncReply': return 12;
    case 'snap': return 20 + m.bytes.length;
    case 'proposal': case 'inform': return 12 + m.txn.length;
    case 'ping': return 9 + 12 * m.sessionTouches.length;
    case 'request': return 16 + m.bytes.length;
    default: return assertNever(m, 'peer message');
  }
}

function writeBody(w: JuteWriter, m: PeerMessage): void {
  switch (m.type) {
    case 'notification':
      w.writeInt(SERVER_STATES.indexOf(m.state)).writeInt(m.leader).writeLong(m.zxid)
        .writeInt(m.round).writeInt(m.peerEpoch);
      return;
    case 'followerInfo': w.writeInt(m.acceptedEpoch).writeBool(m.hasData); return;
    case 'observerInfo': w.writeInt(m.acceptedEpoch); return;
    case 'leaderInfo': w.writeInt(m.epoch); return;
    case 'ackEpoch': w.writeInt(m.currentEpoch).writeLong(m.lastZxid).writeBool(m.counted); return;
    case 'diff': case 'trunc': case 'commit': case 'ack': case 'upToDate':
      w.writeLong(m.zxid);
      return;
    case 'newLeader': w.writeLong(m.zxid).writeLong(m.lastZxid); return;
    case 'snap':
      w.writeLong(m.zxid).writeInt(m.chunkIndex).writeInt(m.chunkCount).writeBuffer(m.bytes);
      return;
    case 'proposal': case 'inform': w.writeLong(m.zxid).writeBuffer(m.txn); return;
    case 'ping':
      w.writeBool(m.fromLeader).writeInt(m.heartbeat).writeInt(m.sessionTouches.length);
      for (const touch of m.sessionTouches) w.writeLong(touch.sessionId).writeInt(touch.timeoutMs);
      return;
    case 'request': w.writeLong(m.sessionId).writeInt(m.cxid).writeBuffer(m.bytes); return;
    case 'sync': w.writeInt(m.syncId); return;
    case 'syncReply': w.writeInt(m.syncId).writeLong(m.zxid); return;
    default: assertNever(m, 'peer message');
  }
}

export function decodePeerMessage(bytes: Buffer): PeerMessage {
  if (bytes.length < 2) {
    throw new JuteDecodeError(`truncated peer message of ${bytes.length} bytes`);
  }
  if (bytes[0] !== PEER_CODEC_VERSION) {
    throw new JuteDecodeError(`unknown peer message version ${bytes[0]}`);
  }
  const type = TYPES_BY_CODE.get(bytes[1]!);
  if (type === undefined) throw new JuteDecodeError(`unknown peer message type ${bytes[1]}`);
  const reader = new JuteReader(bytes, 2);
  const message = readBody(reader, type);
  reader.expectEnd(type);
  return message;
}

function readBody(r: JuteReader, type: PeerMessageType): PeerMessage {
  switch (type) {
    case 'notification':
      return { type, state: readState(r), leader: r.readInt(), zxid: r.readLong(),
        round: r.readInt(), peerEpoch: readEpoch(r) };
    case 'followerInfo': return { type, acceptedEpoch: readEpoch(r), hasData: r.readBool() };
    case 'observerInfo': return { type, acceptedEpoch: readEpoch(r) };
    case 'leaderInfo': return { type, epoch: readEpoch(r) };
    case 'ackEpoch':
      return { type, currentEpoch: readEpoch(r), lastZxid: r.readLong(), counted: r.readBool() };
    case 'diff': case 'trunc': case 'commit': case 'ack': case 'upToDate':
      return { type, zxid: r.readLong() };
    case 'newLeader': return { type, zxid: r.readLong(), lastZxid: r.readLong() };
    case 'snap': return readSnap(r);
    case 'proposal': case 'inform': return { type, zxid: r.readLong(), txn: readView(r) };
    case 'ping': {
      const fromLeader = r.readBool();
      const heartbeat = r.readInt();
      return { type, fromLeader, heartbeat, sessionTouches: readTouches(r) };
    }
    case 'request':
      return { type, sessionId: r.readLong(), cxid: r.readInt(), bytes: readView(r) };
    case 'sync': return { type, syncId: r.readInt() };
    case 'syncReply': return { type, syncId: r.readInt(), zxid: r.readLong() };
    default: return assertNever(type, 'peer message type');
  }
}

function readSnap(r: JuteReader): PeerMessage {
  const zxid = r.readLong();
  const chunkIndex = r.readInt();
  const chunkCount = r.readInt();
  if (chunkCount < 1 || chunkIndex < 0 || chunkIndex >= chunkCount) {
    throw new JuteDecodeError(`bad snapshot chunk ${chunkIndex} of ${chunkCount}`);
  }
  return { type: 'snap', zxid, chunkIndex, chunkCount, bytes: readBytes(r) };
}

function readState(r: JuteReader): ServerState {
  const index = r.readInt();
  const state = SERVER_STATES[index];
  if (state === undefined) throw new JuteDecodeError(`bad server state ${index}`);
  return state;
}

function readEpoch(r: JuteReader): number {
  const epoch = r.readInt();
  if (epoch < 0) throw new JuteDecodeError(`negative epoch ${epoch}`);
  return epoch;
}

function readView(r: JuteReader): Buffer {
  const bytes = r.readBuffer();
  if (bytes === null) throw new JuteDecodeError('null buffer in peer message');
  return bytes;
}

/** A copy (see the file comment: most decoded buffers must outlive the frame). */
function readBytes(r: JuteReader): Buffer {
  return Buffer.from(readView(r));
}

function readTouches(r: JuteReader): SessionTouch[] {
  const count = r.readInt();
  if (count < 0 || count > SESSION_TOUCHES_MAX || count * 12 > r.remaining) {
    throw new JuteDecodeError(`bad session touch count ${count}`);
  }
  const touches: SessionTouch[] = [];
  for (let i = 0; i < count; i++) touches.push({ sessionId: r.readLong(), timeoutMs: r.readInt() });
  return touches;
}
