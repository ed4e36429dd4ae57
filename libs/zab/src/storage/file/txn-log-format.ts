/**
 * On-disk format of the transaction log (see the top of `file-txn-log.ts` for the rules that
 * use it). All integers are big-endian.
 *
 *   segment  = segment header, then batches
 *   segment header (8 bytes)  = magic "ZABL" u32 | format version u32
 *   batch header (24 bytes)   = magic "ZBAT" u32 | bodyBytes u32 | recordCount u32 |
 *                               lastZxid u64 | headerCrc u32 (CRC32 of the 20 bytes before it)
 *   batch body                = recordCount records, exactly bodyBytes bytes
 *   record (16 + n bytes)     = payloadBytes u32 | recordCrc u32 (CRC32 of zxid and payload) |
 *                               zxid u64 | payload
 *
 * A batch is *complete and valid* when its header CRC verifies, its body fits in the file,
 * every record's CRC verifies, zxids strictly increase inside it, the records fill exactly
 * bodyBytes, their count is recordCount and the last one's zxid is lastZxid.
 */
import { crc32 } from 'node:zlib';
import type { Zxid } from '../../core/ids.js';
import { readUint64BE, writeInt64BE } from '../../util/int64.js';

export const SEGMENT_MAGIC = 0x5a41424c; // "ZABL"
export const SEGMENT_FORMAT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 8;
export const BATCH_MAGIC = 0x5a424154; // "ZBAT"
export const BATCH_HEADER_BYTES = 24;
export const RECORD_HEADER_BYTES = 16;
/** Largest payload a record can frame (u32 length). */
export const RECORD_PAYLOAD_BYTES_MAX = 0xffffffff - RECORD_HEADER_BYTES;

const BATCH_MAGIC_BYTES = Buffer.from([0x5a, 0x42, 0x41, 0x54]);

/** `log.<16 hex digits>` names the segment whose first record has that zxid. */
export function segmentFileName(firstZxid: Zxid): string {
  return 'log.' + firstZxid.toString(16).padStart(16, '0');
}

/** Zxid named by a segment file name, or null when the name is not a segment's. */
export function parseSegmentFileName(name: string): Zxid | null {
  const match = /^log\.([0-9a-f]{16})$/.exec(name);
  return match ? BigInt('0x' + match[1]) : null;
}

export function writeSegmentHeader(into: Buffer, offset: number): void {
  into.writeUInt32BE(SEGMENT_MAGIC, offset);
  into.writeUInt32BE(SEGMENT_FORMAT_VERSION, offset + 4);
}

/** Writes one record at `offset` (the caller made room); returns the offset after it. */
export function writeRecord(into: Buffer, offset: number, zxid: Zxid, payload: Uint8Array) {
  into.writeUInt32BE(payload.length, offset);
  writeInt64BE(into, zxid, offset + 8);
  into.set(payload, offset + RECORD_HEADER_BYTES);
  const end = offset + RECORD_HEADER_BYTES + payload.length;
  into.writeUInt32BE(crc32(into.subarray(offset + 8, end)), offset + 4);
  return end;
}

/** Fills the batch header at `offset` for a body of `bodyBytes` that follows it. */
export function writeBatchHeader(
  into: Buffer,
  offset: number,
  bodyBytes: number,
  recordCount: number,
  lastZxid: Zxid,
): void {
  into.writeUInt32BE(BATCH_MAGIC, offset);
  into.writeUInt32BE(bodyBytes, offset + 4);
  into.writeUInt32BE(recordCount, offset + 8);
  writeInt64BE(into, lastZxid, offset + 12);
  into.writeUInt32BE(crc32(into.subarray(offset, offset + 20)), offset + 20);
}

export interface ParsedBatch {
  readonly offset: number;
  /** Offset just after the batch. */
  readonly end: number;
  readonly firstZxid: Zxid;
  readonly lastZxid: Zxid;
  readonly recordCount: number;
}

/** Why the bytes at an offset are not a complete valid batch (or the batch when they are). */
export type BatchParse = { ok: true; batch: ParsedBatch } | { ok: false; reason: string };

/**
 * Checks whether `data[offset..]` starts a complete valid batch. Calls `onRecord` for each
 * record only once the whole batch verified, so a caller never sees records of a bad batch.
 */
export function parseBatch(
  data: Buffer,
  offset: number,
  onRecord?: (zxid: Zxid, payloadStart: number, payloadEnd: number) => void,
): BatchParse {
  if (data.length - offset < BATCH_HEADER_BYTES) return { ok: false, reason: 'short header' };
  if (data.readUInt32BE(offset) !== BATCH_MAGIC) return { ok: false, reason: 'no batch magic' };
  if (crc32(data.subarray(offset, offset + 20)) !== data.readUInt32BE(offset + 20)) {
    return { ok: false, reason: 'batch header checksum mismatch' };
  }
  const bodyBytes = data.readUInt32BE(offset + 4);
  const recordCount = data.readUInt32BE(offset + 8);
  const lastZxid = readUint64BE(data, offset + 12);
  const bodyStart = offset + BATCH_HEADER_BYTES;
  const end = bodyStart + bodyBytes;
  if (end > data.length) return { ok: false, reason: 'batch body extends past end of file' };
  if (recordCount === 0) return { ok: false, reason: 'empty batch' };
  const checked = checkRecords(data, bodyStart, end, recordCount, lastZxid);
  if (typeof checked === 'string') return { ok: false, reason: checked };
  if (onRecord) {
    for (let at = bodyStart; at < end; ) {
      const payloadEnd = at + RECORD_HEADER_BYTES + data.readUInt32BE(at);
      onRecord(readUint64BE(data, at + 8), at + RECORD_HEADER_BYTES, payloadEnd);
      at = payloadEnd;
    }
  }
  return { ok: true, batch: { offset, end, firstZxid: checked, lastZxid, recordCount } };
}

/** Verifies the records of a batch body; returns the first zxid, or why they are bad. */
function checkRecords(
  data: Buffer,
  start: number,
  end: number,
  recordCount: number,
  lastZxid: Zxid,
): Zxid | string {
  let count = 0;
  let previous = -1n;
  let first = -1n;
  let at = start;
  while (at < end) {
    if (end - at < RECORD_HEADER_BYTES) return `short record at ${at}`;
    const payloadEnd = at + RECORD_HEADER_BYTES + data.readUInt32BE(at);
    if (payloadEnd > end) return `record at ${at} extends past its batch`;
    if (crc32(data.subarray(at + 8, payloadEnd)) !== data.readUInt32BE(at + 4)) {
      return `record checksum mismatch at ${at}`;
    }
    const zxid = readUint64BE(data, at + 8);
    if (zxid <= previous) return `zxid ${zxid} at ${at} does not increase`;
    if (first < 0n) first = zxid;
    previous = zxid;
    count += 1;
    at = payloadEnd;
  }
  if (count !== recordCount) return `batch holds ${count} records, header says ${recordCount}`;
  if (previous !== lastZxid) return `last zxid ${previous}, header says ${lastZxid}`;
  return first;
}

/** Offset of the first complete valid batch at or after `from`, or -1. */
export function findValidBatch(data: Buffer, from: number): number {
  for (let at = data.indexOf(BATCH_MAGIC_BYTES, from); at >= 0; ) {
    if (parseBatch(data, at).ok) return at;
    at = data.indexOf(BATCH_MAGIC_BYTES, at + 1);
  }
  return -1;
}

/** What recovery learned from one segment's bytes. */
export interface SegmentScan {
  /** Bytes from the start that hold the header and complete valid batches. */
  readonly validBytes: number;
  readonly recordCount: number;
  readonly firstZxid: Zxid | null;
  readonly lastZxid: Zxid | null;
  /** First byte that is not part of a complete valid batch (== validBytes), or null. */
  readonly invalidFrom: number | null;
  readonly invalidReason: string | null;
  /** True when a complete valid batch exists after `invalidFrom` (acknowledged data hurt). */
  readonly validBatchAfterInvalid: boolean;
}

/** Scans a whole segment; never throws on bad bytes, it reports them. */
export function scanSegment(data: Buffer): SegmentScan | { badHeader: string } {
  if (data.length >= SEGMENT_HEADER_BYTES && data.readUInt32BE(0) === SEGMENT_MAGIC) {
    const version = data.readUInt32BE(4);
    if (version !== SEGMENT_FORMAT_VERSION) return { badHeader: `format version ${version}` };
  }
  const headerOk = data.length >= SEGMENT_HEADER_BYTES && data.readUInt32BE(0) === SEGMENT_MAGIC;
  let at = headerOk ? SEGMENT_HEADER_BYTES : 0;
  let recordCount = 0;
  let firstZxid: Zxid | null = null;
  let lastZxid: Zxid | null = null;
  let invalidReason: string | null = headerOk ? null : 'missing or torn segment header';
  while (headerOk && at < data.length) {
    const parsed = parseBatch(data, at);
    if (!parsed.ok) {
      invalidReason = parsed.reason;
      break;
    }
    const batch = parsed.batch;
    if (lastZxid !== null && batch.firstZxid <= lastZxid) {
      invalidReason = `zxid ${batch.firstZxid} does not increase`;
      break;
    }
    firstZxid ??= batch.firstZxid;
    lastZxid = batch.lastZxid;
    recordCount += batch.recordCount;
    at = batch.end;
  }
  const invalid = at < data.length || !headerOk;
  return {
    validBytes: at,
    recordCount,
    firstZxid,
    lastZxid,
    invalidFrom: invalid ? at : null,
    invalidReason: invalid ? invalidReason : null,
    // From `at` itself: a verifying batch there means its zxids went backwards (corruption).
    validBatchAfterInvalid: invalid && findValidBatch(data, at) >= 0,
  };
}
