/**
 * The Zab epochs on disk: files `acceptedEpoch` and `currentEpoch` holding ASCII decimal
 * numbers (as ZooKeeper writes them), read at open; a missing file means epoch 0.
 *
 * Each `set` is atomic and durable when it resolves: write `<name>.tmp`, fsync it, rename it
 * over `<name>`, fsync the directory. A crash leaves either the old or the new value; a
 * leftover `.tmp` is never read (it is deleted at open). Sets run one at a time in call order.
 * A failed write or fsync fail-stops the store (`StorageFailedError` from then on).
 */
import { join } from 'node:path';
import type { Epoch } from '../../core/ids.js';
import { assert } from '../../util/assert.js';
import { errorCodeOf, makeDirectoryDurably, nodeFileSystem } from '../file-system.js';
import type { FileSystem } from '../file-system.js';
import { StorageCorruptionError, StorageFailedError } from '../storage-errors.js';
import type { EpochStore } from '../storage.js';

const ACCEPTED_EPOCH_FILE = 'acceptedEpoch';
const CURRENT_EPOCH_FILE = 'currentEpoch';
const EPOCH_MAX = 0xffffffff;

export interface FileEpochStoreOptions {
  fileSystem?: FileSystem;
}

export class FileEpochStore implements EpochStore {
  private accepted: Epoch;
  private current: Epoch;
  private queue: Promise<void> = Promise.resolve();
  private failure: StorageFailedError | null = null;

  private constructor(
    private readonly directory: string,
    private readonly fileSystem: FileSystem,
    accepted: Epoch,
    current: Epoch,
  ) {
    this.accepted = accepted;
    this.current = current;
  }

  static async open(directory: string, options: FileEpochStoreOptions = {}) {
    const fileSystem = options.fileSystem ?? nodeFileSystem;
    await makeDirectoryDurably(fileSystem, directory);
    const names = await fileSystem.readdir(directory);
    const leftovers = [ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE]
      .map((name) => name + '.tmp')
      .filter((name) => names.includes(name));
    for (const name of leftovers) await fileSystem.unlink(join(directory, name));
    if (leftovers.length > 0) await fileSystem.syncDirectory(directory);
    const accepted = await readEpoch(fileSystem, join(directory, ACCEPTED_EPOCH_FILE));
    const current = await readEpoch(fileSystem, join(directory, CURRENT_EPOCH_FILE));
    return new FileEpochStore(directory, fileSystem, accepted, current);
  }

  get acceptedEpoch(): Epoch {
    return this.accepted;
  }

  get currentEpoch(): Epoch {
    return this.current;
  }

  /** The getter changes only once the new value is durable. */
  setAcceptedEpoch(epoch: Epoch): Promise<void> {
    return this.enqueue(ACCEPTED_EPOCH_FILE, epoch, () => (this.accepted = epoch));
  }

  setCurrentEpoch(epoch: Epoch): Promise<void> {
    return this.enqueue(CURRENT_EPOCH_FILE, epoch, () => (this.current = epoch));
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  private enqueue(name: string, epoch: Epoch, apply: () => void): Promise<void> {
    assert(Number.isInteger(epoch) && epoch >= 0 && epoch <= EPOCH_MAX, `bad epoch ${epoch}`);
    const run = async () => {
      if (this.failure) throw this.failure;
      try {
        await this.writeAtomically(name, `${epoch}\n`);
      } catch (error) {
        throw this.failStop(name, error);
      }
      apply();
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async writeAtomically(name: string, text: string): Promise<void> {
    const path = join(this.directory, name);
    const temporary = path + '.tmp';
    const handle = await this.fileSystem.open(temporary, 'w');
    try {
      await handle.write(Buffer.from(text, 'ascii'), 0);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await this.fileSystem.rename(temporary, path);
    await this.fileSystem.syncDirectory(this.directory);
  }

  private failStop(name: string, error: unknown): StorageFailedError {
    const code = errorCodeOf(error);
    const detail = error instanceof Error ? error.message : String(error);
    this.failure ??= new StorageFailedError(
      `writing ${join(this.directory, name)} failed${code ? ` (${code})` : ''}: ${detail}; ` +
        `the epoch store is fail-stopped and the replica stopped accepting writes`,
      { cause: error },
    );
    return this.failure;
  }
}

async function readEpoch(fileSystem: FileSystem, path: string): Promise<Epoch> {
  let text: string;
  try {
    text = (await fileSystem.readFile(path)).toString('ascii');
  } catch (error) {
    if (errorCodeOf(error) === 'ENOENT') return 0;
    throw error;
  }
  const match = /^(\d{1,10})\n?$/.exec(text);
  const epoch = match ? Number(match[1]) : NaN;
  if (!(epoch <= EPOCH_MAX)) {
    throw new StorageCorruptionError(path, 0, `not an epoch: ${JSON.stringify(text.slice(0, 20))}`);
  }
  return epoch;
}
