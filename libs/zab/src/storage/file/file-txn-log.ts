/**
 * Transaction log on disk: segments `log.<16 hex digits of the first zxid>` in one directory.
 *
 * Format (details in `txn-log-format.ts`): each segment starts with a header (magic, format
 * version); then come *batches*. One `flush()` writes exactly one batch: a header with its own
 * CRC32 carrying the body length, record count and last zxid, then the records, each framed
 * with its length and a CRC32 over zxid+payload. Zxids strictly increase across the log.
 *
 * Write order: batch k+1's bytes are written only after batch k was fdatasynced, so at most
 * the last batch of the last segment can be partly on disk after a crash. A new segment is
 * created by one write of segment header + its first batch, fdatasync, then an fsync of the
 * directory. Segments roll on `roll()`, after `truncateAfter`, after open, and when a segment
 * reached `segmentBytesMax` (a batch is never split, so a segment may exceed it by one batch).
 *
 * Recovery rule (torn tail vs corruption), applied at open to every segment in zxid order:
 * - Bytes after the last complete valid batch of the LAST segment that contain no complete
 *   valid batch are an unacknowledged torn tail (partial write, zero fill, garbage, pages
 *   written out of order): they are truncated durably and reported through `warn` with the
 *   file, the offset and the byte count dropped. A last segment left without records (torn
 *   creation) is deleted, also with a warning.
 * - A complete valid batch after an invalid region, any invalid byte in a non-last segment,
 *   zxids that do not increase, or an unsupported format version mean acknowledged data was
 *   damaged: open throws `StorageCorruptionError` naming the file and offset. Acknowledged
 *   data is never dropped silently. (A payload that happens to embed a valid batch inside a
 *   torn tail makes open refuse rather than truncate: the safe side.)
 *
 * Group commit: `append` copies the record into a growing write buffer (no I/O, no promise).
 * `flush()` joins the next pending group; one job runner writes the buffer with one write and
 * one fdatasync per group, so concurrent callers share syncs. Maintenance (`roll`,
 * `truncateAfter`, `purgeThrough`) runs in the same serial job queue, so it never overlaps a
 * write.
 *
 * Fail-stop: any I/O error puts the log in a failed state; that call and every later one
 * reject with `StorageFailedError`; a failed fdatasync is never retried.
 */
import { join } from 'node:path';
import type { Zxid } from '../../core/ids.js';
import { zxidToHex } from '../../core/ids.js';
import { assert } from '../../util/assert.js';
import { errorCodeOf, makeDirectoryDurably, nodeFileSystem } from '../file-system.js';
import type { FileHandle, FileSystem } from '../file-system.js';
import { StorageCorruptionError, StorageFailedError } from '../storage-errors.js';
import type { LogRecord, StorageWarn, TxnLog } from '../storage.js';
import {
  BATCH_HEADER_BYTES,
  RECORD_HEADER_BYTES,
  RECORD_PAYLOAD_BYTES_MAX,
  SEGMENT_HEADER_BYTES,
  parseBatch,
  parseSegmentFileName,
  scanSegment,
  segmentFileName,
  writeBatchHeader,
  writeRecord,
  writeSegmentHeader,
} from './txn-log-format.js';

export const SEGMENT_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;
const BUFFER_BYTES_INITIAL = 64 * 1024;
/** A batch up to this size is written synchronously (`FileHandle.writeNow`), larger ones async. */
const SYNC_WRITE_BYTES_MAX = 1024 * 1024;
/** Where a batch starts in a write buffer: room for a segment header in front of it. */
const BATCH_START = SEGMENT_HEADER_BYTES;
const RECORDS_START = BATCH_START + BATCH_HEADER_BYTES;

export interface FileTxnLogOptions {
  /** A segment that reached this size is rolled before the next batch. Default 64 MiB. */
  segmentBytesMax?: number;
  /** Receives recovery notices (torn tail truncated). Default `console.warn`. */
  warn?: StorageWarn;
  /** File system port; tests inject faults through it. Default: the real one. */
  fileSystem?: FileSystem;
}

interface Segment {
  readonly path: string;
  /** Zxid of its first record (also its name). */
  readonly firstZxid: Zxid;
  lastZxid: Zxid;
  /** Bytes of header and complete batches on disk. */
  sizeBytes: number;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  return { promise, resolve, reject };
}

/** A flush group (callers that share one write+sync) or a maintenance task. */
type Job =
  | { kind: 'flush'; done: Deferred<Zxid> }
  | { kind: 'task'; what: string; run: () => Promise<void>; done: Deferred<void> };

/** A batch taken out of the append buffer, being written. */
interface PendingBatch {
  buffer: Buffer;
  end: number;
  firstZxid: Zxid;
  lastZxid: Zxid;
}

export class FileTxnLog implements TxnLog {
  private segments: Segment[];
  /** Open segment that receives batches; null means the next batch starts a new segment. */
  private current: { segment: Segment; handle: FileHandle } | null = null;
  private lastAppendedZxid: Zxid;
  private durable: Zxid;
  /** Append buffer: [segment header room][batch header room][records...]. */
  private buffer: Buffer = Buffer.allocUnsafe(BUFFER_BYTES_INITIAL);
  /** The other buffer, reused while `buffer` is being written. */
  private spare: Buffer = Buffer.allocUnsafe(BUFFER_BYTES_INITIAL);
  private bufferEnd = RECORDS_START;
  private bufferRecords = 0;
  private bufferFirstZxid: Zxid = 0n;
  private readonly jobs: Job[] = [];
  private running = false;
  private failure: StorageFailedError | null = null;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly directory: string,
    private readonly fileSystem: FileSystem,
    private readonly segmentBytesMax: number,
    segments: Segment[],
  ) {
    this.segments = segments;
    const last = segments[segments.length - 1];
    this.lastAppendedZxid = last ? last.lastZxid : 0n;
    this.durable = this.lastAppendedZxid;
  }

  /** Opens (creating if needed) the log in `directory`, recovering as the file header says. */
  static async open(directory: string, options: FileTxnLogOptions = {}): Promise<FileTxnLog> {
    const fileSystem = options.fileSystem ?? nodeFileSystem;
    const warn = options.warn ?? ((message: string) => console.warn(message));
    const segmentBytesMax = options.segmentBytesMax ?? SEGMENT_BYTES_MAX_DEFAULT;
    assert(segmentBytesMax > 0, `segmentBytesMax must be positive, got ${segmentBytesMax}`);
    await makeDirectoryDurably(fileSystem, directory);
    const segments = await recoverSegments(directory, fileSystem, warn);
    return new FileTxnLog(directory, fileSystem, segmentBytesMax, segments);
  }

  get lastZxid(): Zxid {
    return this.lastAppendedZxid;
  }

  get durableZxid(): Zxid {
    return this.durable;
  }

  append(zxid: Zxid, payload: Uint8Array): void {
    if (this.failure) throw this.failure;
    assert(this.closing === null, 'append on a closed transaction log');
    // Messages built only on failure: this is the per-record hot path.
    if (zxid <= this.lastAppendedZxid) {
      assert(false, `zxid ${zxidToHex(zxid)} does not increase past ${zxidToHex(this.lastZxid)}`);
    }
    if (payload.length > RECORD_PAYLOAD_BYTES_MAX) {
      assert(false, `payload of ${payload.length} bytes is too large for a record`);
    }
    const end = this.bufferEnd + RECORD_HEADER_BYTES + payload.length;
    if (end > this.buffer.length) this.buffer = grow(this.buffer, this.bufferEnd, end);
    if (this.bufferRecords === 0) this.bufferFirstZxid = zxid;
    this.bufferEnd = writeRecord(this.buffer, this.bufferEnd, zxid, payload);
    this.bufferRecords += 1;
    this.lastAppendedZxid = zxid;
  }

  flush(): Promise<Zxid> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.running && this.bufferRecords === 0) return Promise.resolve(this.durable);
    const tail = this.jobs[this.jobs.length - 1];
    // A group not started yet: its write will include everything appended so far.
    if (tail?.kind === 'flush') return tail.done.promise;
    const job: Job = { kind: 'flush', done: deferred<Zxid>() };
    this.jobs.push(job);
    this.startJobs();
    return job.done.promise;
  }

  /**
   * Records with zxid > `afterZxid`, in order. Flushes first, so it includes every record
   * appended before the call. Must not overlap `truncateAfter` or `purgeThrough` (the driver
   * never does that); a record that fails its checksum throws `StorageCorruptionError`.
   */
  async *read(afterZxid: Zxid): AsyncIterable<LogRecord> {
    await this.flush();
    const segments = this.segments.map((segment) => ({ ...segment }));
    let start = 0;
    for (let index = 0; index < segments.length; index += 1) {
      if (segments[index]!.firstZxid <= afterZxid + 1n) start = index;
    }
    for (const segment of segments.slice(start)) {
      if (segment.lastZxid <= afterZxid) continue;
      const data = await this.readSegment(segment);
      yield* recordsOf(segment.path, data, afterZxid);
    }
  }

  /** See `TxnLog.truncateAfter`; no `append` may happen until it resolves. */
  truncateAfter(zxid: Zxid): Promise<void> {
    return this.enqueueTask(`truncate after ${zxidToHex(zxid)}`, () => this.truncateNow(zxid));
  }

  roll(): Promise<void> {
    return this.enqueueTask('roll', async () => {
      await this.writeBuffered();
      await this.closeCurrent();
    });
  }

  purgeThrough(zxid: Zxid): Promise<void> {
    return this.enqueueTask(`purge through ${zxidToHex(zxid)}`, async () => {
      let deleted = 0;
      // Keep the last segment always: nothing after it proves its records are all <= zxid.
      while (deleted + 1 < this.segments.length) {
        if (this.segments[deleted + 1]!.firstZxid > zxid + 1n) break;
        await this.io('unlink', this.segments[deleted]!.path, (fs, path) => fs.unlink(path));
        deleted += 1;
      }
      if (deleted === 0) return;
      this.segments = this.segments.slice(deleted);
      await this.io('fsync', this.directory, (fs, path) => fs.syncDirectory(path));
    });
  }

  /**
   * Flushes what is buffered, then releases the open segment. Idempotent. When the log has
   * already failed it only releases files and resolves; when the final flush fails it
   * releases files and rejects with that failure.
   */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    try {
      if (!this.failure) await this.flush();
    } finally {
      const current = this.current;
      this.current = null;
      await current?.handle.close().catch(() => undefined);
    }
  }

  private enqueueTask(what: string, run: () => Promise<void>): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const job: Job = { kind: 'task', what, run, done: deferred<void>() };
    this.jobs.push(job);
    this.startJobs();
    return job.done.promise;
  }

  private startJobs(): void {
    if (!this.running) void this.runJobs();
  }

  /** The single writer: runs queued jobs one at a time until the queue is empty. */
  private async runJobs(): Promise<void> {
    this.running = true;
    for (let job = this.jobs.shift(); job !== undefined; job = this.jobs.shift()) {
      if (this.failure) {
        job.done.reject(this.failure);
        continue;
      }
      try {
        if (job.kind === 'flush') job.done.resolve(await this.writeBuffered());
        else job.done.resolve(await job.run());
      } catch (error) {
        job.done.reject(this.failStop(job.kind === 'flush' ? 'flush' : job.what, '', error));
      }
    }
    this.running = false;
  }

  /** Writes the append buffer as one batch with one write and one fdatasync. */
  private async writeBuffered(): Promise<Zxid> {
    if (this.bufferRecords === 0) return this.durable;
    const batch = this.takeBatch();
    try {
      const created = this.needsNewSegment();
      if (created) await this.startSegment(batch);
      const target = this.current!;
      const from = created ? 0 : BATCH_START;
      const bytes = batch.buffer.subarray(from, batch.end);
      const position = created ? 0 : target.segment.sizeBytes;
      const handle = target.handle;
      if (handle.writeNow !== undefined && bytes.length <= SYNC_WRITE_BYTES_MAX) {
        // Into the page cache at once; only the fdatasync below goes to the thread pool.
        await this.io('write', target.segment.path, async () => handle.writeNow!(bytes, position));
      } else {
        await this.io('write', target.segment.path, () => handle.write(bytes, position));
      }
      await this.io('fdatasync', target.segment.path, () => target.handle.datasync());
      if (created) {
        await this.io('fsync', this.directory, (fs, path) => fs.syncDirectory(path));
      }
      target.segment.sizeBytes = position + bytes.length;
      target.segment.lastZxid = batch.lastZxid;
      this.durable = batch.lastZxid;
      return this.durable;
    } finally {
      this.spare = batch.buffer;
    }
  }

  /** Moves the buffered records out as a batch and gives appends the spare buffer. */
  private takeBatch(): PendingBatch {
    const buffer = this.buffer;
    const end = this.bufferEnd;
    const lastZxid = this.lastAppendedZxid;
    writeBatchHeader(buffer, BATCH_START, end - RECORDS_START, this.bufferRecords, lastZxid);
    const batch = { buffer, end, firstZxid: this.bufferFirstZxid, lastZxid };
    this.buffer = this.spare;
    this.bufferEnd = RECORDS_START;
    this.bufferRecords = 0;
    return batch;
  }

  private needsNewSegment(): boolean {
    return this.current === null || this.current.segment.sizeBytes >= this.segmentBytesMax;
  }

  /** Creates the segment that `batch` starts; its header goes out in the batch's write. */
  private async startSegment(batch: PendingBatch): Promise<void> {
    await this.closeCurrent();
    const path = join(this.directory, segmentFileName(batch.firstZxid));
    const handle = await this.io('create', path, (fs) => fs.open(path, 'wx'));
    writeSegmentHeader(batch.buffer, 0);
    const segment: Segment = { path, firstZxid: batch.firstZxid, lastZxid: 0n, sizeBytes: 0 };
    this.segments.push(segment);
    this.current = { segment, handle };
  }

  private async closeCurrent(): Promise<void> {
    const current = this.current;
    if (current === null) return;
    this.current = null;
    await this.io('close', current.segment.path, () => current.handle.close());
  }

  /** Removes every record > zxid, keeping the on-disk log a prefix of itself at every step. */
  private async truncateNow(zxid: Zxid): Promise<void> {
    await this.writeBuffered();
    await this.closeCurrent();
    // Newest first, each unlink made durable before the next, so a crash leaves a prefix.
    while (this.segments.length > 0 && this.segments[this.segments.length - 1]!.firstZxid > zxid) {
      const segment = this.segments.pop()!;
      await this.io('unlink', segment.path, (fs, path) => fs.unlink(path));
      await this.io('fsync', this.directory, (fs, path) => fs.syncDirectory(path));
    }
    const last = this.segments[this.segments.length - 1];
    if (last !== undefined && last.lastZxid > zxid) await this.truncateSegment(last, zxid);
    // Zab TRUNC happens during sync, before the follower logs anything new.
    assert(this.bufferRecords === 0, 'records appended while truncateAfter was running');
    this.lastAppendedZxid = last === undefined ? 0n : last.lastZxid;
    this.durable = this.lastAppendedZxid;
  }

  /**
   * Cuts `segment` after the record `zxid`. At a batch boundary a durable ftruncate suffices.
   * Inside a batch the kept records need a new batch header, so the segment is rewritten to
   * `<name>.tmp` (prefix + one new batch), fdatasynced and renamed over the old one.
   */
  private async truncateSegment(segment: Segment, zxid: Zxid): Promise<void> {
    const data = await this.readSegment(segment);
    let at = SEGMENT_HEADER_BYTES;
    for (;;) {
      const parsed = parseBatch(data, at);
      if (!parsed.ok) throw new StorageCorruptionError(segment.path, at, parsed.reason);
      if (parsed.batch.lastZxid > zxid) break;
      at = parsed.batch.end;
    }
    const kept: { zxid: Zxid; payload: Buffer }[] = [];
    parseBatch(data, at, (recordZxid, start, end) => {
      if (recordZxid <= zxid) kept.push({ zxid: recordZxid, payload: data.subarray(start, end) });
    });
    const path = segment.path;
    if (kept.length === 0) {
      await this.withHandle(path, 'r+', async (handle) => {
        await this.io('truncate', path, () => handle.truncate(at));
        // fsync, not fdatasync: a shrink is a metadata change that must be durable.
        await this.io('fsync', path, () => handle.sync());
      });
    } else {
      await this.rewriteSegment(segment, data.subarray(0, at), kept);
    }
    segment.sizeBytes = kept.length === 0 ? at : segment.sizeBytes;
    segment.lastZxid = kept.length === 0 ? lastZxidBefore(data, at) : kept[kept.length - 1]!.zxid;
  }

  private async rewriteSegment(
    segment: Segment,
    prefix: Buffer,
    kept: { zxid: Zxid; payload: Buffer }[],
  ): Promise<void> {
    let bytes = prefix.length + BATCH_HEADER_BYTES;
    for (const record of kept) bytes += RECORD_HEADER_BYTES + record.payload.length;
    const image = Buffer.allocUnsafe(bytes);
    prefix.copy(image, 0);
    let at = prefix.length + BATCH_HEADER_BYTES;
    for (const record of kept) at = writeRecord(image, at, record.zxid, record.payload);
    const lastKept = kept[kept.length - 1]!.zxid;
    const bodyBytes = bytes - prefix.length - BATCH_HEADER_BYTES;
    writeBatchHeader(image, prefix.length, bodyBytes, kept.length, lastKept);
    const temporary = segment.path + '.tmp';
    await this.withHandle(temporary, 'w', async (handle) => {
      await this.io('write', temporary, () => handle.write(image, 0));
      await this.io('fdatasync', temporary, () => handle.datasync());
    });
    await this.io('rename', temporary, (fs) => fs.rename(temporary, segment.path));
    await this.io('fsync', this.directory, (fs, path) => fs.syncDirectory(path));
    segment.sizeBytes = bytes;
  }

  private async withHandle(
    path: string,
    flags: 'r+' | 'w',
    use: (handle: FileHandle) => Promise<void>,
  ): Promise<void> {
    const handle = await this.io('open', path, (fs) => fs.open(path, flags));
    try {
      await use(handle);
    } finally {
      await this.io('close', path, () => handle.close());
    }
  }

  private async readSegment(segment: Segment): Promise<Buffer> {
    const data = await this.io('read', segment.path, (fs, path) => fs.readFile(path));
    return data.subarray(0, segment.sizeBytes);
  }

  /** Runs one I/O step; on error fail-stops the log with a message naming step and file. */
  private async io<T>(
    what: string,
    path: string,
    operation: (fileSystem: FileSystem, path: string) => Promise<T>,
  ): Promise<T> {
    try {
      return await operation(this.fileSystem, path);
    } catch (error) {
      if (error instanceof StorageCorruptionError) throw error;
      throw this.failStop(what, path, error);
    }
  }

  private failStop(what: string, path: string, error: unknown): StorageFailedError {
    if (this.failure) return this.failure;
    if (error instanceof StorageFailedError) {
      this.failure = error;
      return error;
    }
    const code = errorCodeOf(error);
    const detail = error instanceof Error ? error.message : String(error);
    const target = path === '' ? `transaction log ${this.directory}` : path;
    this.failure = new StorageFailedError(
      `${what} of ${target} failed${code ? ` (${code})` : ''}: ${detail}; the transaction ` +
        `log is fail-stopped and the replica stopped accepting writes`,
      { cause: error },
    );
    return this.failure;
  }
}

function grow(buffer: Buffer, used: number, needed: number): Buffer {
  let size = buffer.length * 2;
  while (size < needed) size *= 2;
  const bigger = Buffer.allocUnsafe(size);
  buffer.copy(bigger, 0, 0, used);
  return bigger;
}

/** Zxid of the last record of the batches before `offset` (0n when there is none). */
function lastZxidBefore(data: Buffer, offset: number): Zxid {
  let last = 0n;
  for (let at = SEGMENT_HEADER_BYTES; at < offset; ) {
    const parsed = parseBatch(data, at);
    assert(parsed.ok, 'batch verified a moment ago no longer parses');
    last = parsed.batch.lastZxid;
    at = parsed.batch.end;
  }
  return last;
}

/** Verified records of one segment image with zxid > afterZxid; the payloads are copies. */
function recordsOf(path: string, data: Buffer, afterZxid: Zxid): LogRecord[] {
  const records: LogRecord[] = [];
  for (let at = SEGMENT_HEADER_BYTES; at < data.length; ) {
    const parsed = parseBatch(data, at, (zxid, start, end) => {
      if (zxid > afterZxid) records.push({ zxid, payload: Buffer.from(data.subarray(start, end)) });
    });
    if (!parsed.ok) throw new StorageCorruptionError(path, at, parsed.reason);
    at = parsed.batch.end;
  }
  return records;
}

/** Lists, scans and repairs the segments at open (the recovery rule at the top). */
async function recoverSegments(
  directory: string,
  fileSystem: FileSystem,
  warn: StorageWarn,
): Promise<Segment[]> {
  const names = await fileSystem.readdir(directory);
  let removedTemporary = false;
  for (const name of names.filter((entry) => /^log\.[0-9a-f]{16}\.tmp$/.test(entry))) {
    // A rewrite by truncateAfter that never got renamed: the original is still in place.
    await fileSystem.unlink(join(directory, name));
    removedTemporary = true;
  }
  if (removedTemporary) await fileSystem.syncDirectory(directory);
  const found = names
    .map((name) => ({ name, zxid: parseSegmentFileName(name) }))
    .filter((entry): entry is { name: string; zxid: Zxid } => entry.zxid !== null)
    .sort((a, b) => (a.zxid < b.zxid ? -1 : a.zxid > b.zxid ? 1 : 0));
  const segments: Segment[] = [];
  for (let index = 0; index < found.length; index += 1) {
    const path = join(directory, found[index]!.name);
    const isLast = index === found.length - 1;
    const segment = await recoverSegment(path, found[index]!.zxid, isLast, fileSystem, warn);
    if (segment === null) continue;
    const previous = segments[segments.length - 1];
    if (previous !== undefined && segment.firstZxid <= previous.lastZxid) {
      throw new StorageCorruptionError(path, SEGMENT_HEADER_BYTES, 'zxids do not increase');
    }
    segments.push(segment);
  }
  return segments;
}

/** Scans one segment; repairs a torn tail of the last one; null when it was deleted. */
async function recoverSegment(
  path: string,
  namedZxid: Zxid,
  isLast: boolean,
  fileSystem: FileSystem,
  warn: StorageWarn,
): Promise<Segment | null> {
  const data = await fileSystem.readFile(path);
  const scan = scanSegment(data);
  if ('badHeader' in scan) throw new StorageCorruptionError(path, 0, scan.badHeader);
  if (scan.invalidFrom !== null) {
    const at = scan.invalidFrom;
    if (!isLast || scan.validBatchAfterInvalid) {
      const why = isLast ? 'a complete batch follows the damaged region' : 'not the last segment';
      throw new StorageCorruptionError(path, at, `${scan.invalidReason} (${why})`);
    }
    const dropped = data.length - at;
    if (scan.recordCount === 0) {
      await fileSystem.unlink(path);
      await fileSystem.syncDirectory(join(path, '..'));
      warn(`transaction log: deleted ${path}, a segment whose creation was torn ` +
        `(${dropped} bytes from offset ${at}: ${scan.invalidReason})`);
      return null;
    }
    await truncateDurably(fileSystem, path, at);
    warn(`transaction log: truncated torn tail of ${path} at offset ${at}, ` +
      `dropped ${dropped} bytes of an unacknowledged batch (${scan.invalidReason})`);
  }
  if (scan.recordCount === 0 || scan.firstZxid !== namedZxid) {
    const why = scan.recordCount === 0 ? 'segment holds no records' : 'first zxid is not its name';
    throw new StorageCorruptionError(path, SEGMENT_HEADER_BYTES, why);
  }
  return { path, firstZxid: namedZxid, lastZxid: scan.lastZxid!, sizeBytes: scan.validBytes };
}

async function truncateDurably(fileSystem: FileSystem, path: string, lengthBytes: number) {
  const handle = await fileSystem.open(path, 'r+');
  try {
    await handle.truncate(lengthBytes);
    await handle.sync(); // a shrink is a metadata change: fsync, not fdatasync
  } finally {
    await handle.close();
  }
}
