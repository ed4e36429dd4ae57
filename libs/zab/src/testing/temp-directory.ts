/**
 * Temporary directories for tests: each is created under the OS temp dir and removed after.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Wraps a test body: a fresh directory is made for it and removed when it ends. */
export function withTempDirectory(
  prefix: string,
  run: (directory: string) => Promise<void>,
): () => Promise<void> {
  return async () => {
    const directory = mkdtempSync(join(tmpdir(), `${prefix}-`));
    try {
      await run(directory);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  };
}
