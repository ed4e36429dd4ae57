/**
 * Test support for the request preparer: a naive tree, a preparer over it, and a driver-like
 * loop that stamps headers (increasing zxids, a settable clock) and can apply prepared txns
 * either at once (`run`) or later (`prepare` ... `applyPending`), as the pipelining driver does.
 */
import type { SessionId, Zxid } from '../core/ids.js';
import { NaiveTree } from './naive-tree.test-support.js';
import type { RequestPreparerOptions } from './request-preparer.js';
import { RequestPreparer } from './request-preparer.js';
import type { CreateRequest, WriteRequest } from './request.js';
import type { CreateModeName } from './create-mode.js';
import { OPEN_ACL_UNSAFE } from './stat.js';
import type { Txn } from './txn.js';
import type { AuthId } from './acl.js';
import type { TreeView } from './tree-view.js';

export const SESSION_A: SessionId = 0x100n;
export const SESSION_B: SessionId = 0x200n;

/** A tree the harness can prepare against and apply to: the naive one or the real DataTree. */
export type HarnessTree = TreeView & { apply(txn: Txn): unknown };

export class PreparerHarness<T extends HarnessTree = NaiveTree> {
  readonly preparer: RequestPreparer;
  readonly pending: Txn[] = [];
  zxid: Zxid = 0n;
  timeMs = 1_000_000n;

  constructor(
    options?: RequestPreparerOptions,
    readonly tree: T = new NaiveTree() as unknown as T,
  ) {
    this.preparer = new RequestPreparer(this.tree, options);
  }

  /** Prepares without applying (the txn joins `pending`), as `identities` (addAuth ids). */
  prepare(request: WriteRequest, sessionId: SessionId = SESSION_A, cxid = 1,
    identities: readonly AuthId[] = []): Txn {
    this.zxid += 1n;
    const txn = this.preparer.prepare(request, {
      sessionId, cxid, zxid: this.zxid, time: this.timeMs,
    }, identities);
    this.pending.push(txn);
    return txn;
  }

  /** Applies the oldest `count` pending txns (default all) and reports them committed. */
  applyPending(count = this.pending.length): void {
    for (const txn of this.pending.splice(0, count)) {
      this.tree.apply(txn);
      this.preparer.committed(txn.header.zxid);
    }
  }

  /** Prepares and applies at once (nothing outstanding afterwards). */
  run(request: WriteRequest, sessionId: SessionId = SESSION_A,
    identities: readonly AuthId[] = []): Txn {
    const txn = this.prepare(request, sessionId, 1, identities);
    this.applyPending();
    return txn;
  }

  /** Runs each request in turn; throws if any of them failed. */
  setup(...requests: WriteRequest[]): void {
    for (const request of requests) {
      const txn = this.run(request);
      const body = txn.body;
      const failed = body.type === 'error' ||
        (body.type === 'multi' && body.txns.some((op) => op.type === 'error'));
      if (failed) throw new Error(`setup request failed: ${JSON.stringify(request)}`);
    }
  }

  /** A harness with SESSION_A and SESSION_B open. */
  static withSessions<T extends HarnessTree = NaiveTree>(
    options?: RequestPreparerOptions,
    tree?: T,
  ): PreparerHarness<T> {
    const harness = new PreparerHarness<T>(options, tree);
    harness.run({ op: 'createSession', timeoutMs: 10_000 }, SESSION_A);
    harness.run({ op: 'createSession', timeoutMs: 10_000 }, SESSION_B);
    return harness;
  }
}

export function create(
  path: string,
  mode: CreateModeName = 'persistent',
  extra: Partial<CreateRequest> = {},
): CreateRequest {
  return {
    op: 'create', path, data: Buffer.from(path), acl: [...OPEN_ACL_UNSAFE], mode, ...extra,
  };
}

/** The result code of a txn: its error code, the failing op's code for a multi, else 0. */
export function codeOf(txn: Txn): number {
  const body = txn.body;
  if (body.type === 'error') return body.code;
  if (body.type === 'multi') {
    for (const op of body.txns) if (op.type === 'error' && op.code !== 0) return op.code;
  }
  return 0;
}
