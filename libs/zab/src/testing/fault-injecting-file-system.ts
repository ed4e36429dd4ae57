/**
 * A `FileSystem` for tests that wraps a real one: counts every operation, fails chosen calls
 * with a chosen error code (EIO on the Nth fdatasync, ENOSPC on writes...), and simulates a
 * power loss with `crash()`.
 *
 * Crash model (enough for append-only logs and tmp+rename files): bytes written to a file
 * since its last `datasync`/`sync` are lost (the file is cut back to its synced length), and
 * files created since the last `syncDirectory` of their directory disappear. Truncations,
 * overwrites of synced bytes, unsynced unlinks and renames over an existing file are not
 * rolled back (for a rename either outcome is legal after a crash; the model keeps the new
 * file), so this double cannot catch a missing fsync after those operations.
 */
import { dirname } from 'node:path';
import { nodeFileSystem } from '../storage/file-system.js';
import type { FileHandle, FileSystem, OpenFlags } from '../storage/file-system.js';

export type FileOperation =
  | 'open'
  | 'write'
  | 'read'
  | 'datasync'
  | 'sync'
  | 'truncate'
  | 'readFile'
  | 'rename'
  | 'link'
  | 'readdir'
  | 'unlink'
  | 'mkdir'
  | 'syncDirectory';

export interface InjectedFault {
  operation: FileOperation;
  /** Fails the Nth call of `operation` counted from when the fault is injected (1 = next). */
  nth: number;
  /** Error code of the injected error, such as 'EIO' or 'ENOSPC'. */
  code: string;
  /** Keep failing every later call too (a full disk), not only the Nth. */
  persistent?: boolean;
  /** Only calls on paths containing this text count. */
  pathContains?: string;
}

interface ArmedFault extends InjectedFault {
  seen: number;
}

/** Durability bookkeeping for a file written through this file system. */
interface FileState {
  syncedBytes: number;
  writtenBytes: number;
}

export function injectedError(code: string, operation: string, path: string): Error {
  return Object.assign(new Error(`${code}: injected fault on ${operation} ${path}`), { code });
}

export class FaultInjectingFileSystem implements FileSystem {
  /** Calls per operation, including failed ones. */
  readonly counts = new Map<FileOperation, number>();
  private faults: ArmedFault[] = [];
  private readonly files = new Map<string, FileState>();
  /** Created files whose directory entry was not made durable yet. */
  private readonly unsyncedCreations = new Set<string>();
  private readonly openHandles = new Set<FileHandle>();

  constructor(private readonly inner: FileSystem = nodeFileSystem) {}

  count(operation: FileOperation): number {
    return this.counts.get(operation) ?? 0;
  }

  inject(fault: InjectedFault): void {
    this.faults.push({ ...fault, seen: 0 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Counts the call and throws the injected error if a fault matches it. */
  check(operation: FileOperation, path: string): void {
    this.counts.set(operation, this.count(operation) + 1);
    for (const fault of this.faults) {
      if (fault.operation !== operation) continue;
      if (fault.pathContains !== undefined && !path.includes(fault.pathContains)) continue;
      fault.seen += 1;
      const hit = fault.persistent ? fault.seen >= fault.nth : fault.seen === fault.nth;
      if (hit) throw injectedError(fault.code, operation, path);
    }
  }

  /**
   * Simulated power loss: closes every handle opened through this file system, cuts files
   * back to their synced length and removes files whose creation was never made durable.
   * The stores using this file system must be abandoned (their handles are gone).
   */
  async crash(): Promise<void> {
    for (const handle of this.openHandles) await handle.close().catch(() => undefined);
    this.openHandles.clear();
    for (const [path, state] of this.files) {
      if (this.unsyncedCreations.has(path)) continue;
      if (state.writtenBytes > state.syncedBytes) {
        const handle = await this.inner.open(path, 'r+').catch(() => null);
        await handle?.truncate(state.syncedBytes);
        await handle?.close();
      }
    }
    for (const path of this.unsyncedCreations) await this.inner.unlink(path).catch(() => {});
    this.unsyncedCreations.clear();
    this.files.clear();
    this.faults = [];
  }

  async open(path: string, flags: OpenFlags): Promise<FileHandle> {
    this.check('open', path);
    const existed = (await this.inner.sizeBytes(path)) !== null;
    const handle = await this.inner.open(path, flags);
    if (!existed) this.unsyncedCreations.add(path);
    const size = flags === 'r' ? 0 : await handle.sizeBytes();
    if (flags !== 'r') this.files.set(path, { syncedBytes: size, writtenBytes: size });
    const wrapped = new FaultInjectingFileHandle(this, handle, this.files.get(path));
    this.openHandles.add(wrapped);
    return wrapped;
  }

  forget(handle: FileHandle): void {
    this.openHandles.delete(handle);
  }

  readFile(path: string): Promise<Buffer> {
    this.check('readFile', path);
    return this.inner.readFile(path);
  }

  async rename(fromPath: string, toPath: string): Promise<void> {
    this.check('rename', fromPath);
    const replacing = (await this.inner.sizeBytes(toPath)) !== null;
    await this.inner.rename(fromPath, toPath);
    const state = this.files.get(fromPath);
    this.files.delete(fromPath);
    if (state) this.files.set(toPath, state);
    // Replacing an existing file: a crash may legally keep either version; the model keeps
    // the new one (it cannot restore the old bytes). A rename to a new name stays unsynced.
    if (this.unsyncedCreations.delete(fromPath) && !replacing) this.unsyncedCreations.add(toPath);
  }

  async link(existingPath: string, newPath: string): Promise<void> {
    this.check('link', newPath);
    await this.inner.link(existingPath, newPath);
    this.unsyncedCreations.add(newPath);
  }

  readdir(path: string): Promise<string[]> {
    this.check('readdir', path);
    return this.inner.readdir(path);
  }

  async unlink(path: string): Promise<void> {
    this.check('unlink', path);
    await this.inner.unlink(path);
    this.files.delete(path);
    this.unsyncedCreations.delete(path);
  }

  mkdir(path: string): Promise<void> {
    this.check('mkdir', path);
    return this.inner.mkdir(path);
  }

  sizeBytes(path: string): Promise<number | null> {
    return this.inner.sizeBytes(path);
  }

  async syncDirectory(path: string): Promise<void> {
    this.check('syncDirectory', path);
    await this.inner.syncDirectory(path);
    for (const created of this.unsyncedCreations) {
      if (dirname(created) === path) this.unsyncedCreations.delete(created);
    }
  }
}

class FaultInjectingFileHandle implements FileHandle {
  constructor(
    private readonly fileSystem: FaultInjectingFileSystem,
    private readonly inner: FileHandle,
    private readonly state: FileState | undefined,
  ) {}

  get path(): string {
    return this.inner.path;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    this.fileSystem.check('write', this.path);
    await this.inner.write(data, position);
    if (this.state) {
      this.state.writtenBytes = Math.max(this.state.writtenBytes, position + data.length);
    }
  }

  read(into: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    this.fileSystem.check('read', this.path);
    return this.inner.read(into, offset, length, position);
  }

  async datasync(): Promise<void> {
    this.fileSystem.check('datasync', this.path);
    await this.inner.datasync();
    if (this.state) this.state.syncedBytes = this.state.writtenBytes;
  }

  async sync(): Promise<void> {
    this.fileSystem.check('sync', this.path);
    await this.inner.sync();
    if (this.state) this.state.syncedBytes = this.state.writtenBytes;
  }

  async truncate(lengthBytes: number): Promise<void> {
    this.fileSystem.check('truncate', this.path);
    await this.inner.truncate(lengthBytes);
    if (this.state) {
      this.state.writtenBytes = lengthBytes;
      this.state.syncedBytes = Math.min(this.state.syncedBytes, lengthBytes);
    }
  }

  sizeBytes(): Promise<number> {
    return this.inner.sizeBytes();
  }

  async close(): Promise<void> {
    this.fileSystem.forget(this);
    await this.inner.close();
  }
}
