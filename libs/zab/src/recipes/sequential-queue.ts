/**
 * The queue both the mutex and the leader election stand in (ZooKeeper's lock recipe): each
 * contender creates an ephemeral sequential child of one directory; the lowest sequence number
 * is at the head; every other contender watches only its predecessor (no herd effect), so a
 * deletion wakes exactly one waiter.
 *
 * Creation is "protected" (Curator's protection mode): the name carries a random id, so after a
 * ConnectionLoss (the write may or may not have committed, e.g. the leader changed) the
 * contender finds its own node instead of leaving an orphan that would block the queue until
 * its session ends.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../state/error-code.js';
import { KeeperError, keeperError } from '../state/keeper-error.js';
import type { Stat } from '../state/stat.js';
import type { ConnectionState, CoordinationClient } from '../node/coordination-client.js';

/** ZooKeeper appends a 10-digit counter to sequential names. */
const SEQUENCE_DIGITS = 10;
/** Attempts of one write that keeps failing with ConnectionLoss (each waits for a leader). */
export const WRITE_ATTEMPTS_MAX = 5;

/** A znode name usable as a lock key or election group: no '/', not '.' or '..', not empty. */
export function checkName(kind: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 512 || name.includes('/') ||
    name.includes('\u0000') || name === '.' || name === '..') {
    throw keeperError(ErrorCode.BadArguments, undefined,
      `${kind} must be a non-empty znode name without '/' (at most 512 characters); got ${JSON.stringify(name)}`);
  }
  return name;
}

export function sequenceOf(name: string): number {
  return Number(name.slice(-SEQUENCE_DIGITS));
}

/** Children that are queue entries (`<anything>-<prefix><10 digits>`), head first. */
export function queueOrder(children: readonly string[], prefix: string): string[] {
  const pattern = new RegExp(`${prefix}\\d{${SEQUENCE_DIGITS}}$`);
  return children.filter((name) => pattern.test(name)).sort((a, b) => sequenceOf(a) - sequenceOf(b));
}

function isCode(error: unknown, code: number): boolean {
  return error instanceof KeeperError && error.code === code;
}

/** Creates `path` and its missing ancestors as persistent nodes (existing ones are fine). */
export async function ensurePath(client: CoordinationClient, path: string): Promise<void> {
  if (await client.exists(path) !== null) return;
  let prefix = '';
  for (const part of path.split('/').slice(1)) {
    prefix += `/${part}`;
    try {
      await retryConnectionLoss(client, () => client.create(prefix, Buffer.alloc(0)));
    } catch (error) {
      if (!isCode(error, ErrorCode.NodeExists)) throw error;
    }
  }
}

/** Runs a write again while it fails with ConnectionLoss and the session lives (bounded). */
export async function retryConnectionLoss<T>(client: CoordinationClient, write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await write();
    } catch (error) {
      // A leader change fails the writes in flight; each new attempt waits for the next
      // leader (bounded by the replica's request timeout), at most WRITE_ATTEMPTS_MAX times.
      if (!isCode(error, ErrorCode.ConnectionLoss) || attempt >= WRITE_ATTEMPTS_MAX ||
        client.state !== 'connected') throw error;
    }
  }
}

/**
 * Joins the queue in `dir` with a protected ephemeral sequential node; resolves to its path and
 * stat (the stat's czxid is the fencing token of a lock).
 */
export async function joinQueue(client: CoordinationClient, dir: string, prefix: string, data: Buffer):
  Promise<{ path: string; stat: Stat }> {
  const protectedPrefix = `_c_${randomUUID()}-`;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await client.create(`${dir}/${protectedPrefix}${prefix}`, data, { mode: 'ephemeral_sequential' });
    } catch (error) {
      if (attempt >= WRITE_ATTEMPTS_MAX || client.state !== 'connected') throw error;
      if (isCode(error, ErrorCode.NoNode)) {
        await ensurePath(client, dir);
      } else if (isCode(error, ErrorCode.ConnectionLoss)) {
        const found = await findProtected(client, dir, protectedPrefix);
        if (found !== undefined) return found;
      } else {
        throw error;
      }
    }
  }
}

async function findProtected(client: CoordinationClient, dir: string, protectedPrefix: string):
  Promise<{ path: string; stat: Stat } | undefined> {
  await client.sync(dir).catch(() => undefined);
  let children: string[];
  try {
    ({ children } = await client.getChildren(dir));
  } catch (error) {
    // No directory yet (the lost create was the first in it): the create did not commit.
    if (isCode(error, ErrorCode.NoNode)) return undefined;
    throw error;
  }
  const name = children.find((child) => child.startsWith(protectedPrefix));
  if (name === undefined) return undefined;
  const stat = await client.exists(`${dir}/${name}`);
  return stat === null ? undefined : { path: `${dir}/${name}`, stat };
}

/** Deletes `path` if it still exists; a missing node or an ended session is success. */
export async function deleteQuietly(client: CoordinationClient, path: string): Promise<void> {
  if (client.state !== 'connected') return;
  try {
    await retryConnectionLoss(client, () => client.delete(path));
  } catch (error) {
    if (isCode(error, ErrorCode.NoNode) || client.state !== 'connected') return;
    throw error;
  }
}

export type WaitOutcome = 'changed' | 'timeout' | 'aborted' | 'lost';

/**
 * Waits until `path` changes (typically: the predecessor is deleted), `deadlineMs` (a
 * `Date.now()` value; Infinity for none) passes, `signal` aborts or the session is lost.
 * A node that is already gone is 'changed' at once.
 */
export async function waitForChange(client: CoordinationClient, path: string,
  deadlineMs: number, signal: AbortSignal | undefined): Promise<WaitOutcome> {
  let wake!: (outcome: WaitOutcome) => void;
  const woken = new Promise<WaitOutcome>((resolve) => {
    wake = resolve;
  });
  const watcher = (): void => wake('changed');
  const stat = await client.exists(path, watcher);
  if (stat === null) return 'changed';
  const remainingMs = deadlineMs - Date.now();
  const timer = Number.isFinite(remainingMs) ? setTimeout(() => wake('timeout'), Math.max(0, remainingMs)) : undefined;
  const onAbort = (): void => wake('aborted');
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted === true) wake('aborted');
  const offConnection = client.onConnectionStateChange((state: ConnectionState) => {
    if (state === 'lost') wake('lost');
  });
  if (client.connectionState === 'lost') wake('lost');
  try {
    return await woken;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    offConnection();
    // A watch left behind would fire into nothing; remove it (it may have fired already).
    await client.removeWatches(path, watcher, 'data').catch(() => undefined);
  }
}
