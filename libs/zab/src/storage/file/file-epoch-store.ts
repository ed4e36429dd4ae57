/**
 * The Zab epochs on disk: files `acceptedEpoch` and `currentEpoch` holding ASCII decimal
 * numbers (as ZooKeeper writes them), read at open; a missing file means epoch 0.
 *
 * Each `set` is atomic and durable when it resolves: write `<name>.tmp`, fsync it, rename it
 * over `<name>`, fsync the directory. A crash leaves either the old or the new value; a
 * leftover `.tmp` is never read (it is deleted at open). Sets run one at a time in call order.
 * A failed write or fsync fail-stops the store (`StorageFailedError` from then on).
 *
 * Ensemble members write the whole record at once (`setEpochs`): file `epochs` holding
 * `accepted current hasData` (hasData 1 or 0), replaced the same way, so acceptedEpoch and
 * currentEpoch can never be torn apart by a crash. Once `epochs` exists it wins over the two
 * single files, and the single setters rewrite the record (keeping its other fields).
 */
import { join } from 'node:path';
import type { Epoch } from '../../core/ids.js';
import { assert } from '../../util/assert.js';
import { errorCodeOf, makeDirectoryDurably, nodeFileSystem } from '../file-system.js';
import type { FileSystem } from '../file-system.js';
import { StorageCorruptionError, StorageFailedError } from '../storage-errors.js';
import type { EpochRecord, EpochStore } from '../storage.js';

const ACCEPTED_EPOCH_FILE = 'acceptedEpoch';
const CURRENT_EPOCH_FILE = 'currentEpoch';
const RECORD_FILE = 'epochs';
const EPOCH_MAX = 0xffffffff;

export interface FileEpochStoreOptions {
  fileSystem?: FileSystem;
}

export class FileEpochStore implements EpochStore {
  private accepted: Epoch;
  private current: Epoch;
  private queue: Promise<void> = Promise.resolve();
  private failure: StorageFailedError | null = null;
  private data: boolean;
  /** True once the `epochs` record file exists: every set then rewrites the whole record. */
  private recordMode: boolean;

  private constructor(
    private readonly directory: string,
    private readonly fileSystem: FileSystem,
    accepted: Epoch,
    current: Epoch,
    record: EpochRecord | undefined,
  ) {
    this.accepted = record?.acceptedEpoch ?? accepted;
    this.current = record?.currentEpoch ?? current;
    this.data = record?.hasData ?? true;
    this.recordMode = record !== undefined;
  }

  static async open(directory: string, options: FileEpochStoreOptions = {}) {
    const fileSystem = options.fileSystem ?? nodeFileSystem;
    await makeDirectoryDurably(fileSystem, directory);
    const names = await fileSystem.readdir(directory);
    const leftovers = [ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE, RECORD_FILE]
      .map((name) => name + '.tmp')
      .filter((name) => names.includes(name));
    for (const name of leftovers) await fileSystem.unlink(join(directory, name));
    if (leftovers.length > 0) await fileSystem.syncDirectory(directory);
    const accepted = await readEpoch(fileSystem, join(directory, ACCEPTED_EPOCH_FILE));
    const current = await readEpoch(fileSystem, join(directory, CURRENT_EPOCH_FILE));
    const record = await readRecord(fileSystem, join(directory, RECORD_FILE));
    return new FileEpochStore(directory, fileSystem, accepted, current, record);
  }

  get hasData(): boolean {
    return this.data;
  }

  get acceptedEpoch(): Epoch {
    return this.accepted;
  }

  get currentEpoch(): Epoch {
    return this.current;
  }

  /** The getter changes only once the new value is durable. */
  setAcceptedEpoch(epoch: Epoch): Promise<void> {
    if (this.recordMode) return this.setEpochs({ ...this.record(), acceptedEpoch: epoch });
    return this.enqueue(ACCEPTED_EPOCH_FILE, `${checked(epoch)}\n`, () => (this.accepted = epoch));
  }

  setCurrentEpoch(epoch: Epoch): Promise<void> {
    if (this.recordMode) return this.setEpochs({ ...this.record(), currentEpoch: epoch });
    return this.enqueue(CURRENT_EPOCH_FILE, `${checked(epoch)}\n`, () => (this.current = epoch));
  }

  setEpochs(record: EpochRecord): Promise<void> {
    const { acceptedEpoch, currentEpoch, hasData } = record;
    const text = `${checked(acceptedEpoch)} ${checked(currentEpoch)} ${hasData ? 1 : 0}\n`;
    this.recordMode = true;
    return this.enqueue(RECORD_FILE, text, () => {
      this.accepted = acceptedEpoch;
      this.current = currentEpoch;
      this.data = hasData;
    });
  }

  private record(): EpochRecord {
    return { acceptedEpoch: this.accepted, currentEpoch: this.current, hasData: this.data };
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  private enqueue(name: string, text: string, apply: () => void): Promise<void> {
    const run = async () => {
      if (this.failure) throw this.failure;
      try {
        await this.writeAtomically(name, text);
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

function checked(epoch: Epoch): Epoch {
  assert(Number.isInteger(epoch) && epoch >= 0 && epoch <= EPOCH_MAX, `bad epoch ${epoch}`);
  return epoch;
}

async function readRecord(fileSystem: FileSystem, path: string): Promise<EpochRecord | undefined> {
  let text: string;
  try {
    text = (await fileSystem.readFile(path)).toString('ascii');
  } catch (error) {
    if (errorCodeOf(error) === 'ENOENT') return undefined;
    throw error;
  }
  const match = /^(\d{1,10}) (\d{1,10}) ([01])\n?$/.exec(text);
  const accepted = match ? Number(match[1]) : NaN;
  const current = match ? Number(match[2]) : NaN;
  if (!(accepted <= EPOCH_MAX && current <= EPOCH_MAX)) {
    const shown = JSON.stringify(text.slice(0, 40));
    throw new StorageCorruptionError(path, 0, `not an epoch record: ${shown}`);
  }
  return { acceptedEpoch: accepted, currentEpoch: current, hasData: match![3] === '1' };
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
