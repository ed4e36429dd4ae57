/**
 * Snapshots on disk: `snapshot.<16 hex digits of the zxid>` in one directory.
 *
 * Format (big-endian): header = magic "ZSNP" u32 | format version u32 | zxid u64; then the
 * body (opaque bytes, written in chunks); then a trailer = bodyBytes u64 | CRC32 of the body
 * u32 | magic "ZSNE" u32. A snapshot is valid when header, trailer, length and CRC verify and
 * the header's zxid matches the file name.
 *
 * Publication: the writer fills `snapshot.<zxid>.tmp`; `commit()` appends the trailer, fsyncs
 * the file, renames it to its final name and fsyncs the directory, so a snapshot is either
 * absent or complete. Leftover `.tmp` files (a crash while writing) are deleted at open.
 *
 * Fail-stop: a failed write, fsync, rename or delete puts the store in a failed state; that
 * call and every later one reject with `StorageFailedError`.
 */
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Zxid } from '../../core/ids.js';
import { zxidToHex } from '../../core/ids.js';
import { assert } from '../../util/assert.js';
import { errorCodeOf, makeDirectoryDurably, nodeFileSystem } from '../file-system.js';
import type { FileHandle, FileSystem } from '../file-system.js';
import { StorageFailedError } from '../storage-errors.js';
import type { SnapshotInfo, SnapshotStore, SnapshotWriter, StorageWarn } from '../storage.js';

const SNAPSHOT_MAGIC = 0x5a534e50; // "ZSNP"
const SNAPSHOT_END_MAGIC = 0x5a534e45; // "ZSNE"
const SNAPSHOT_FORMAT_VERSION = 1;
const HEADER_BYTES = 16;
const TRAILER_BYTES = 16;

export interface FileSnapshotStoreOptions {
  /** Receives notices (corrupt snapshot skipped). Default `console.warn`. */
  warn?: StorageWarn;
  fileSystem?: FileSystem;
}

export function snapshotFileName(zxid: Zxid): string {
  return 'snapshot.' + zxid.toString(16).padStart(16, '0');
}

function parseSnapshotFileName(name: string): Zxid | null {
  const match = /^snapshot\.([0-9a-f]{16})$/.exec(name);
  return match ? BigInt('0x' + match[1]) : null;
}

/** The body of a snapshot file image, or why the image does not verify. */
export function verifySnapshotImage(
  data: Buffer,
  zxid: Zxid,
): { ok: true; body: Buffer } | { ok: false; reason: string } {
  if (data.length < HEADER_BYTES + TRAILER_BYTES) return { ok: false, reason: 'file too short' };
  if (data.readUInt32BE(0) !== SNAPSHOT_MAGIC) return { ok: false, reason: 'bad header magic' };
  const version = data.readUInt32BE(4);
  if (version !== SNAPSHOT_FORMAT_VERSION) return { ok: false, reason: `version ${version}` };
  if (data.readBigUInt64BE(8) !== zxid) return { ok: false, reason: 'zxid differs from name' };
  const trailer = data.length - TRAILER_BYTES;
  if (data.readUInt32BE(trailer + 12) !== SNAPSHOT_END_MAGIC) {
    return { ok: false, reason: 'missing trailer (incomplete snapshot)' };
  }
  const bodyBytes = data.readBigUInt64BE(trailer);
  if (bodyBytes !== BigInt(trailer - HEADER_BYTES)) return { ok: false, reason: 'bad length' };
  const body = data.subarray(HEADER_BYTES, trailer);
  if (crc32(body) !== data.readUInt32BE(trailer + 8)) {
    return { ok: false, reason: 'body checksum mismatch' };
  }
  return { ok: true, body };
}

export class FileSnapshotStore implements SnapshotStore {
  private failure: StorageFailedError | null = null;
  /** Writers begun and not yet committed or aborted; `close()` aborts them. */
  private readonly openWriters = new Set<SnapshotWriter>();
  private closed = false;

  private constructor(
    private readonly directory: string,
    private readonly fileSystem: FileSystem,
    private readonly warn: StorageWarn,
  ) {}

  static async open(directory: string, options: FileSnapshotStoreOptions = {}) {
    const fileSystem = options.fileSystem ?? nodeFileSystem;
    const warn = options.warn ?? ((message: string) => console.warn(message));
    await makeDirectoryDurably(fileSystem, directory);
    const leftovers = (await fileSystem.readdir(directory)).filter((name) =>
      /^snapshot\.[0-9a-f]{16}\.tmp$/.test(name),
    );
    for (const name of leftovers) await fileSystem.unlink(join(directory, name));
    if (leftovers.length > 0) await fileSystem.syncDirectory(directory);
    return new FileSnapshotStore(directory, fileSystem, warn);
  }

  async begin(zxid: Zxid): Promise<SnapshotWriter> {
    this.throwIfFailed();
    assert(!this.closed, 'begin on a closed snapshot store');
    const path = join(this.directory, snapshotFileName(zxid));
    const temporary = path + '.tmp';
    const handle = await this.io('create', temporary, () => this.fileSystem.open(temporary, 'w'));
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt32BE(SNAPSHOT_MAGIC, 0);
    header.writeUInt32BE(SNAPSHOT_FORMAT_VERSION, 4);
    header.writeBigUInt64BE(zxid, 8);
    await this.io('write', temporary, () => handle.write(header, 0));
    const writer = new FileSnapshotWriter(this, zxid, path, handle, (done) =>
      this.openWriters.delete(done),
    );
    this.openWriters.add(writer);
    return writer;
  }

  async loadLatest(): Promise<{ info: SnapshotInfo; body: Buffer } | null> {
    const snapshots = await this.list();
    for (const info of snapshots.reverse()) {
      const body = await this.load(info);
      if (body !== null) return { info, body };
    }
    return null;
  }

  async load(info: SnapshotInfo): Promise<Buffer | null> {
    const data = await this.io('read', info.name, (fs) => fs.readFile(info.name));
    const verified = verifySnapshotImage(data, info.zxid);
    if (verified.ok) return verified.body;
    this.warn(`snapshot ${info.name} is corrupt (${verified.reason}); skipping it`);
    return null;
  }

  async list(): Promise<SnapshotInfo[]> {
    this.throwIfFailed();
    const names = await this.io('readdir', this.directory, (fs) => fs.readdir(this.directory));
    return names
      .map((name) => ({ name, zxid: parseSnapshotFileName(name) }))
      .filter((entry): entry is { name: string; zxid: Zxid } => entry.zxid !== null)
      .sort((a, b) => (a.zxid < b.zxid ? -1 : a.zxid > b.zxid ? 1 : 0))
      .map((entry) => ({ zxid: entry.zxid, name: join(this.directory, entry.name) }));
  }

  /**
   * Keeps the newest `keep` snapshots that verify and deletes every snapshot older than the
   * oldest of them. Corrupt snapshots newer than that are left for the operator to inspect.
   * With no valid snapshot nothing is deleted (never the only good one: ZOOKEEPER-3231).
   */
  async purge(keep: number): Promise<SnapshotInfo | null> {
    assert(Number.isInteger(keep) && keep >= 1, `purge must keep at least one, got ${keep}`);
    const snapshots = await this.list();
    let kept = 0;
    let oldestKept: SnapshotInfo | null = null;
    for (let index = snapshots.length - 1; index >= 0 && kept < keep; index -= 1) {
      const info = snapshots[index]!;
      const data = await this.io('read', info.name, (fs) => fs.readFile(info.name));
      if (!verifySnapshotImage(data, info.zxid).ok) continue;
      kept += 1;
      oldestKept = info;
    }
    if (oldestKept === null) return null;
    const doomed = snapshots.filter((info) => info.zxid < oldestKept.zxid);
    for (const info of doomed) await this.io('unlink', info.name, (fs) => fs.unlink(info.name));
    if (doomed.length > 0) await this.syncDirectory();
    return oldestKept;
  }

  /** Aborts writers still open (their `.tmp` files are deleted). Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const writer of [...this.openWriters]) await writer.abort().catch(() => undefined);
  }

  /** @internal for the writer */
  syncDirectory(): Promise<void> {
    return this.io('fsync', this.directory, (fs) => fs.syncDirectory(this.directory));
  }

  /** @internal for the writer: one I/O step; an error fail-stops the store. */
  async io<T>(what: string, path: string, run: (fs: FileSystem) => Promise<T>): Promise<T> {
    this.throwIfFailed();
    try {
      return await run(this.fileSystem);
    } catch (error) {
      throw this.failStop(what, path, error);
    }
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  private failStop(what: string, path: string, error: unknown): StorageFailedError {
    if (error instanceof StorageFailedError) return error;
    const code = errorCodeOf(error);
    const detail = error instanceof Error ? error.message : String(error);
    this.failure ??= new StorageFailedError(
      `${what} of ${path} failed${code ? ` (${code})` : ''}: ${detail}; the snapshot store ` +
        `is fail-stopped and the replica stopped accepting writes`,
      { cause: error },
    );
    return this.failure;
  }
}

class FileSnapshotWriter implements SnapshotWriter {
  private positionBytes = HEADER_BYTES;
  private bodyCrc = 0;
  private state: 'writing' | 'committed' | 'aborted' = 'writing';
  private readonly temporary: string;

  constructor(
    private readonly store: FileSnapshotStore,
    readonly zxid: Zxid,
    private readonly path: string,
    private readonly handle: FileHandle,
    private readonly finished: (writer: SnapshotWriter) => void,
  ) {
    this.temporary = path + '.tmp';
  }

  /** Writes the chunk before resolving; the caller may reuse the chunk afterwards. */
  async write(chunk: Uint8Array): Promise<void> {
    assert(this.state === 'writing', `write on a ${this.state} snapshot ${zxidToHex(this.zxid)}`);
    const position = this.positionBytes;
    this.positionBytes += chunk.length;
    this.bodyCrc = crc32(chunk, this.bodyCrc);
    try {
      await this.store.io('write', this.temporary, () => this.handle.write(chunk, position));
    } catch (error) {
      this.state = 'aborted';
      this.finished(this);
      await this.handle.close().catch(() => undefined);
      throw error;
    }
  }

  async commit(): Promise<SnapshotInfo> {
    assert(this.state === 'writing', `commit of a ${this.state} snapshot`);
    this.state = 'committed';
    this.finished(this);
    const trailer = Buffer.alloc(TRAILER_BYTES);
    trailer.writeBigUInt64BE(BigInt(this.positionBytes - HEADER_BYTES), 0);
    trailer.writeUInt32BE(this.bodyCrc, 8);
    trailer.writeUInt32BE(SNAPSHOT_END_MAGIC, 12);
    const temporary = this.temporary;
    try {
      await this.store.io('write', temporary, () => this.handle.write(trailer, this.positionBytes));
      await this.store.io('fsync', temporary, () => this.handle.sync());
    } catch (error) {
      await this.handle.close().catch(() => undefined);
      throw error;
    }
    await this.store.io('close', temporary, () => this.handle.close());
    await this.store.io('rename', temporary, (fs) => fs.rename(temporary, this.path));
    await this.store.syncDirectory();
    return { zxid: this.zxid, name: this.path };
  }

  async abort(): Promise<void> {
    if (this.state !== 'writing') return;
    this.state = 'aborted';
    this.finished(this);
    await this.store.io('close', this.temporary, () => this.handle.close());
    await this.store.io('unlink', this.temporary, (fs) => fs.unlink(this.temporary));
  }
}
