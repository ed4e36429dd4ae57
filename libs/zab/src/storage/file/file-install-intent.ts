/**
 * The SNAP install intent on disk (see snapshot-install.ts): file `snapshotInstall` in the
 * data directory holding the zxid in hex, written as `snapshotInstall.tmp`, fsynced, renamed
 * over and the directory fsynced; cleared by unlink and a directory fsync. A leftover `.tmp`
 * (crash while writing it: the install had not started) is deleted at open.
 */
import { join } from 'node:path';
import type { Zxid } from '../../core/ids.js';
import { errorCodeOf } from '../file-system.js';
import type { FileSystem } from '../file-system.js';
import { StorageCorruptionError, StorageFailedError } from '../storage-errors.js';
import type { InstallIntent } from '../snapshot-install.js';

const INTENT_FILE = 'snapshotInstall';

export class FileInstallIntent implements InstallIntent {
  private constructor(private readonly directory: string,
    private readonly fileSystem: FileSystem) {}

  static async open(directory: string, fileSystem: FileSystem): Promise<FileInstallIntent> {
    const temporary = join(directory, INTENT_FILE + '.tmp');
    if ((await fileSystem.sizeBytes(temporary)) !== null) {
      await fileSystem.unlink(temporary);
      await fileSystem.syncDirectory(directory);
    }
    return new FileInstallIntent(directory, fileSystem);
  }

  private get path(): string {
    return join(this.directory, INTENT_FILE);
  }

  async read(): Promise<Zxid | null> {
    let text: string;
    try {
      text = (await this.fileSystem.readFile(this.path)).toString('ascii');
    } catch (error) {
      if (errorCodeOf(error) === 'ENOENT') return null;
      throw error;
    }
    const match = /^([0-9a-f]{1,16})\n$/.exec(text);
    if (match === null) {
      throw new StorageCorruptionError(this.path, 0,
        `not a snapshot install record: ${JSON.stringify(text.slice(0, 40))}`);
    }
    return BigInt('0x' + match[1]);
  }

  write(zxid: Zxid): Promise<void> {
    return this.io('write', async () => {
      const temporary = this.path + '.tmp';
      const handle = await this.fileSystem.open(temporary, 'w');
      try {
        await handle.write(Buffer.from(`${zxid.toString(16)}\n`, 'ascii'), 0);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.fileSystem.rename(temporary, this.path);
      await this.fileSystem.syncDirectory(this.directory);
    });
  }

  clear(): Promise<void> {
    return this.io('clear', async () => {
      if ((await this.fileSystem.sizeBytes(this.path)) === null) return;
      await this.fileSystem.unlink(this.path);
      await this.fileSystem.syncDirectory(this.directory);
    });
  }

  private async io(what: string, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (error) {
      const code = errorCodeOf(error);
      const detail = error instanceof Error ? error.message : String(error);
      throw new StorageFailedError(`${what} of ${this.path} failed` +
        `${code ? ` (${code})` : ''}: ${detail}`, { cause: error });
    }
  }
}
