/**
 * File system port of the storage layer: the few operations the file stores need, so tests can
 * count calls and inject faults (failed fdatasync, ENOSPC, crashes) without a real bad disk.
 *
 * Contracts every implementation keeps:
 * - `FileHandle.write` writes all of `data` at `position` or rejects (no short writes).
 * - `datasync` makes the file's data (and the size needed to read it) durable; `sync` makes
 *   data and all metadata durable. Neither makes the file's directory entry durable: after a
 *   create, rename or unlink, call `syncDirectory` on the containing directory.
 * - Errors are the node `SystemError`s (`code` such as EIO, ENOSPC, ENOENT, EEXIST).
 */
import { open, readFile, rename, readdir, unlink, mkdir, link, stat } from 'node:fs/promises';
import type { FileHandle as NodeFileHandle } from 'node:fs/promises';
import { writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * `wx`: create write-only, fail if it exists; `w`: create or truncate, write-only; `r`: read
 * only; `r+`: read and write an existing file.
 */
export type OpenFlags = 'r' | 'r+' | 'w' | 'wx';

export interface FileHandle {
  readonly path: string;
  write(data: Uint8Array, position: number): Promise<void>;
  /**
   * Optional: writes all of `data` at `position` synchronously, or throws (the same contract
   * as `write`). For small writes on the hot path (a group commit's batch goes to the page
   * cache in microseconds, cheaper than a thread-pool round trip); never for large ones,
   * which would stall the event loop.
   */
  writeNow?(data: Uint8Array, position: number): void;
  /** Reads up to `length` bytes at `position` into `into` at `offset`; resolves bytes read. */
  read(into: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  datasync(): Promise<void>;
  sync(): Promise<void>;
  truncate(lengthBytes: number): Promise<void>;
  sizeBytes(): Promise<number>;
  close(): Promise<void>;
}

export interface FileSystem {
  open(path: string, flags: OpenFlags): Promise<FileHandle>;
  readFile(path: string): Promise<Buffer>;
  rename(fromPath: string, toPath: string): Promise<void>;
  /** Creates `newPath` as a hard link to `existingPath`; rejects EEXIST if it exists. */
  link(existingPath: string, newPath: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  unlink(path: string): Promise<void>;
  /** Creates the directory and its parents; no error if it exists. */
  mkdir(path: string): Promise<void>;
  /** Size of a file, or null when it does not exist. */
  sizeBytes(path: string): Promise<number | null>;
  /** fsyncs a directory so creates, renames and unlinks inside it are durable. */
  syncDirectory(path: string): Promise<void>;
}

/** Error code of a node `SystemError` (`'EIO'`...), or undefined. */
export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

class NodeFileHandleAdapter implements FileHandle {
  constructor(
    readonly path: string,
    private readonly handle: NodeFileHandle,
  ) {}

  async write(data: Uint8Array, position: number): Promise<void> {
    let written = 0;
    while (written < data.length) {
      const result = await this.handle.write(
        data,
        written,
        data.length - written,
        position + written,
      );
      // A zero-byte write would loop forever; the kernel only returns 0 for length 0.
      if (result.bytesWritten === 0) throw new Error(`write to ${this.path} made no progress`);
      written += result.bytesWritten;
    }
  }

  writeNow(data: Uint8Array, position: number): void {
    for (let written = 0; written < data.length;) {
      const bytes = writeSync(this.handle.fd, data, written, data.length - written,
        position + written);
      if (bytes === 0) throw new Error(`write to ${this.path} made no progress`);
      written += bytes;
    }
  }

  async read(into: Uint8Array, offset: number, length: number, position: number) {
    const result = await this.handle.read(into, offset, length, position);
    return result.bytesRead;
  }

  datasync(): Promise<void> {
    return this.handle.datasync();
  }

  sync(): Promise<void> {
    return this.handle.sync();
  }

  truncate(lengthBytes: number): Promise<void> {
    return this.handle.truncate(lengthBytes);
  }

  async sizeBytes(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** The real file system over `node:fs/promises`. */
export class NodeFileSystem implements FileSystem {
  async open(path: string, flags: OpenFlags): Promise<FileHandle> {
    return new NodeFileHandleAdapter(path, await open(path, flags));
  }

  readFile(path: string): Promise<Buffer> {
    return readFile(path);
  }

  rename(fromPath: string, toPath: string): Promise<void> {
    return rename(fromPath, toPath);
  }

  link(existingPath: string, newPath: string): Promise<void> {
    return link(existingPath, newPath);
  }

  readdir(path: string): Promise<string[]> {
    return readdir(path);
  }

  unlink(path: string): Promise<void> {
    return unlink(path);
  }

  async mkdir(path: string): Promise<void> {
    await mkdir(path, { recursive: true });
  }

  async sizeBytes(path: string): Promise<number | null> {
    try {
      return (await stat(path)).size;
    } catch (error) {
      if (errorCodeOf(error) === 'ENOENT') return null;
      throw error;
    }
  }

  async syncDirectory(path: string): Promise<void> {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

/**
 * Creates `path` (and missing parents) so that it survives a crash: a new directory's entry
 * lives in its parent, so each parent of a created level is fsynced. No-op when it exists.
 */
export async function makeDirectoryDurably(fileSystem: FileSystem, path: string): Promise<void> {
  const missing: string[] = [];
  for (let level = path; (await fileSystem.sizeBytes(level)) === null; level = dirname(level)) {
    missing.push(level);
    if (dirname(level) === level) break;
  }
  if (missing.length === 0) return;
  await fileSystem.mkdir(path);
  for (const created of missing.reverse()) await fileSystem.syncDirectory(dirname(created));
}

/** Shared default instance (stateless). */
export const nodeFileSystem: FileSystem = new NodeFileSystem();
