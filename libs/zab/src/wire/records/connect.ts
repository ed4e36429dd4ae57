/**
 * The session handshake: the first frame a client sends is a `ConnectRequest` (no
 * RequestHeader), and the server's first frame is a `ConnectResponse` (no ReplyHeader).
 * `readOnly` is a trailing optional field on both: clients and servers older than 3.4 omit
 * it, and ZooKeeper reads it as false when the frame ends before it. `passwd` is a view into
 * the frame when decoded.
 */
import type { JuteReader } from '../../jute/jute-reader.js';
import type { JuteWriter } from '../../jute/jute-writer.js';

export interface ConnectRequest {
  protocolVersion: number;
  lastZxidSeen: bigint;
  /** Requested session timeout in milliseconds (ZooKeeper's field name). */
  timeOut: number;
  /** 0 for a new session, else the session being re-established. */
  sessionId: bigint;
  passwd: Buffer | null;
  readOnly: boolean;
}

export interface ConnectResponse {
  protocolVersion: number;
  /** Negotiated session timeout in milliseconds; 0 means the session is expired. */
  timeOut: number;
  sessionId: bigint;
  passwd: Buffer | null;
  readOnly: boolean;
}

/** Writes every field, `readOnly` included (what 3.4+ clients send). */
export function encodeConnectRequest(writer: JuteWriter, request: ConnectRequest): void {
  writer.writeInt(request.protocolVersion).writeLong(request.lastZxidSeen);
  writer.writeInt(request.timeOut).writeLong(request.sessionId).writeBuffer(request.passwd);
  writer.writeBool(request.readOnly);
}

/** Reads a request; a frame that ends right before `readOnly` reads it as false. */
export function decodeConnectRequest(reader: JuteReader): ConnectRequest {
  const protocolVersion = reader.readInt();
  const lastZxidSeen = reader.readLong();
  const timeOut = reader.readInt();
  const sessionId = reader.readLong();
  const passwd = reader.readBuffer();
  const readOnly = reader.remaining > 0 ? reader.readBool() : false;
  return { protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly };
}

export function encodeConnectResponse(writer: JuteWriter, response: ConnectResponse): void {
  writer.writeInt(response.protocolVersion).writeInt(response.timeOut);
  writer.writeLong(response.sessionId).writeBuffer(response.passwd).writeBool(response.readOnly);
}

/** Reads a response; a frame that ends right before `readOnly` reads it as false. */
export function decodeConnectResponse(reader: JuteReader): ConnectResponse {
  const protocolVersion = reader.readInt();
  const timeOut = reader.readInt();
  const sessionId = reader.readLong();
  const passwd = reader.readBuffer();
  const readOnly = reader.remaining > 0 ? reader.readBool() : false;
  return { protocolVersion, timeOut, sessionId, passwd, readOnly };
}
