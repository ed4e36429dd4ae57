/**
 * A held lease on a znode: what a lock or semaphore acquisition returns. The znode (ephemeral,
 * owned by the session) is the ownership; `signal` fires when the session is lost (or
 * suspended, under the default `'lost'` policy), and `release()` deletes the znode. A release
 * is idempotent and never throws for an already lost session.
 */
import type { CoordinationClient } from '../node/coordination-client.js';
import { deleteQuietly, Ownership, type SuspendedPolicy } from './recipe-support.js';

export interface Lease {
  /** The lease's znode. */
  readonly path: string;
  /**
   * The zxid that created the znode: strictly increasing across successive holders of the
   * same lock, so a resource can refuse writes carrying an older token (fencing).
   */
  readonly fencingToken: bigint;
  /** Fires when ownership is lost (see `SuspendedPolicy`); `signal.reason` says why. */
  readonly signal: AbortSignal;
  /** True until released or lost. */
  readonly isHeld: boolean;
  release(): Promise<void>;
}

export class HeldLease implements Lease {
  private released = false;
  private readonly ownership: Ownership;

  constructor(
    private readonly client: CoordinationClient,
    readonly path: string,
    readonly fencingToken: bigint,
    policy: SuspendedPolicy,
    private readonly onRelease: (lease: HeldLease) => void = () => undefined,
  ) {
    this.ownership = new Ownership(client, policy, path);
  }

  get signal(): AbortSignal {
    return this.ownership.signal;
  }

  get isHeld(): boolean {
    return !this.released && !this.ownership.isLost;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.ownership.end();
    this.onRelease(this);
    await deleteQuietly(this.client, this.path);
  }
}
