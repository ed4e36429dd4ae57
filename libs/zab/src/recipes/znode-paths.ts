/** Small helpers the recipes share: creating parent paths, tolerating expected result codes. */
import type { CoordinationClient } from '../node/coordination-client.js';
import { KeeperError } from '../state/keeper-error.js';
import { ErrorCode } from '../state/error-code.js';

/** Creates `path` and its missing ancestors as empty persistent nodes (existing ones are fine). */
export async function ensurePath(client: CoordinationClient, path: string): Promise<void> {
  const segments = path.split('/').filter((segment) => segment.length > 0);
  let current = '';
  for (const segment of segments) {
    current += `/${segment}`;
    try {
      await client.create(current, Buffer.alloc(0));
    } catch (error) {
      if (!(error instanceof KeeperError) || error.code !== ErrorCode.NodeExists) throw error;
    }
  }
}

/** A `catch` handler: resolves to `fallback` for the listed ZooKeeper codes, rethrows anything else. */
export function ignoreCodes<T>(codes: readonly number[], fallback: T): (error: unknown) => T {
  return (error) => {
    if (error instanceof KeeperError && codes.includes(error.code)) return fallback;
    throw error;
  };
}
