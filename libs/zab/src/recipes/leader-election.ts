/**
 * Leader election per group (Curator's LeaderLatch) over the coordination interface.
 *
 * Each participant joins the queue under `<root>/<group>` with a protected ephemeral
 * sequential node holding its participant id; the head of the queue leads. A follower watches
 * only its predecessor. Leadership ends:
 * - at `close()`: `isLeader` turns false first, then the node is deleted, which hands the
 *   leadership to the next participant (a graceful hand-over);
 * - at once when the connection is `suspended` (default `suspendedPolicy: 'lost'`), or only
 *   when it is `lost` (`'keep'`). On `reconnected` the participant looks at the queue again: its
 *   node survived with its session, so if it is still the head nobody else led meanwhile.
 *
 * Safety on the embedded ensemble: another participant can reach the head only once this
 * one's node is deleted, i.e. its session closed or expired. A replica that loses its leader
 * or quorum stops serving within syncLimit (5 Zab ticks, 250 ms) and its clients report
 * `suspended` then, while its session can expire only after the session timeout (seconds)
 * counted by the new leader; so the old leader has stepped down before anyone can step up.
 * (RELIABILITY.md, "Leadership and locks under failover".)
 */
import type { ConnectionState, CoordinationClient } from '../node/coordination-client.js';
import { ErrorCode } from '../state/error-code.js';
import { KeeperError } from '../state/keeper-error.js';
import { NotLeaderError, type SuspendedPolicy } from './lock-errors.js';
import { checkName, deleteQuietly, ensurePath, joinQueue, queueOrder } from './sequential-queue.js';

export const LEADER_ROOT = '/zab/leader';
const LATCH_PREFIX = 'latch-';
/** Delay before looking at the queue again after a failed look (e.g. no leader for a write). */
const RETRY_DELAY_MS = 100;

export interface LeaderElectionOptions {
  /** Parent of the per-group directories. Default `/zab/leader`. */
  root?: string;
  /** Stored in the node; what `leader()` reports. Default the session id in hex. */
  participantId?: string;
  /** 'lost' (default): leadership ends when the connection is suspended; 'keep': when lost. */
  suspendedPolicy?: SuspendedPolicy;
}

export type LeadershipListener = (isLeader: boolean) => void;

export class LeaderElection {
  readonly group: string;
  readonly participantId: string;
  private readonly dir: string;
  private readonly policy: SuspendedPolicy;
  private ownPath: string | undefined;
  private leading = false;
  private term: AbortController | undefined;
  private state: 'idle' | 'started' | 'closed' = 'idle';
  private checking: Promise<void> | undefined;
  private checkAgain = false;
  /** Set at `reconnected`: the next look first waits until this replica has caught up. */
  private syncFirst = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<LeadershipListener>();
  private offConnection: () => void = () => undefined;

  constructor(
    private readonly client: CoordinationClient,
    group: string,
    options: LeaderElectionOptions = {},
  ) {
    this.group = checkName('election group', group);
    this.dir = `${options.root ?? LEADER_ROOT}/${this.group}`;
    this.policy = options.suspendedPolicy ?? 'lost';
    this.participantId = options.participantId ?? `0x${client.sessionId.toString(16)}`;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Aborts (with `NotLeaderError`) when the current term of leadership ends; undefined if none. */
  get signal(): AbortSignal | undefined {
    return this.leading ? this.term?.signal : undefined;
  }

  /** Throws `NotLeaderError` unless this participant leads now. */
  assertLeader(): void {
    if (!this.leading) throw new NotLeaderError(this.group);
  }

  /** Called on every change of `isLeader`, synchronously with it. Returns unsubscribe. */
  onLeadershipChange(listener: LeadershipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Joins the election; resolves once the first look at the queue is done. */
  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    this.state = 'started';
    this.offConnection = this.client.onConnectionStateChange((state) => this.onConnection(state));
    await this.check();
  }

  /** The participant id of the current leader of the group, as seen by this replica. */
  leader(): Promise<string | undefined> {
    return currentLeader(this.client, this.dir);
  }

  /** Leaves the election: stops leading at once, then deletes the node (hand-over). */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.retryTimer);
    this.offConnection();
    this.setLeader(false);
    await this.checking?.catch(() => undefined);
    const path = this.ownPath;
    this.ownPath = undefined;
    if (path !== undefined) await deleteQuietly(this.client, path).catch(() => undefined);
  }

  /**
   * Reports the leader's participant id of `group` now and after every change (undefined while
   * nobody leads), until the returned function is called. Any instance may watch, participant
   * or not.
   */
  static async watchLeader(client: CoordinationClient, group: string,
    listener: (leaderId: string | undefined) => void, root = LEADER_ROOT): Promise<() => void> {
    const dir = `${root}/${checkName('election group', group)}`;
    await ensurePath(client, dir);
    let last: string | undefined | null = null;
    let stopped = false;
    let chain = Promise.resolve();
    const report = (): void => {
      chain = chain.then(async () => {
        const id = await currentLeader(client, dir).catch(() => undefined);
        if (stopped || id === last) return;
        last = id;
        listener(id);
      });
    };
    const stop = await client.observe(dir, 'children', () => report());
    return () => {
      stopped = true;
      stop();
    };
  }

  private onConnection(state: ConnectionState): void {
    if (state === 'lost') {
      this.setLeader(false);
      this.state = 'closed';
      this.offConnection();
    } else if (state === 'suspended') {
      if (this.policy === 'lost') this.setLeader(false);
    } else if (state === 'reconnected') {
      this.syncFirst = true;
      this.scheduleCheck();
    }
  }

  private scheduleCheck(): void {
    if (this.state !== 'started') return;
    if (this.checking !== undefined) {
      this.checkAgain = true;
      return;
    }
    void this.check();
  }

  /** One look at the queue at a time; a look asked for meanwhile runs after it. */
  private check(): Promise<void> {
    this.checking = (async () => {
      do {
        this.checkAgain = false;
        try {
          await this.lookAtQueue();
        } catch (error) {
          this.retryLater(error);
        }
      } while (this.checkAgain && this.state === 'started');
    })().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async lookAtQueue(): Promise<void> {
    if (this.state !== 'started') return;
    if (this.syncFirst) {
      // Back in a quorum: see every write committed meanwhile (an expiry of our own session
      // included, which ends it as `lost`) before trusting our place at the head.
      await this.client.sync(this.dir);
      this.syncFirst = false;
      if (this.state !== 'started') return;
    }
    if (this.ownPath === undefined) {
      const data = Buffer.from(this.participantId, 'utf8');
      this.ownPath = (await joinQueue(this.client, this.dir, LATCH_PREFIX, data)).path;
      if (this.state !== 'started') return; // closed meanwhile: close() deletes it
    }
    const order = queueOrder((await this.client.getChildren(this.dir)).children, LATCH_PREFIX);
    const index = order.indexOf(this.ownPath.slice(this.dir.length + 1));
    if (index < 0) {
      // Our node is gone (deleted by an operator): join again at the back.
      this.setLeader(false);
      this.ownPath = undefined;
      this.checkAgain = true;
      return;
    }
    if (index === 0) {
      // Watch our own node too: deleted by anyone but us, the leadership ends at once.
      const own = await this.client.exists(this.ownPath, () => this.scheduleCheck());
      if (own === null) {
        this.checkAgain = true;
        return;
      }
      this.setLeader(this.connectionAllowsLeading());
      return;
    }
    this.setLeader(false);
    const predecessor = `${this.dir}/${order[index - 1]}`;
    const stat = await this.client.exists(predecessor, () => this.scheduleCheck());
    if (stat === null) this.checkAgain = true;
  }

  private connectionAllowsLeading(): boolean {
    const state = this.client.connectionState;
    return state !== 'lost' && (state !== 'suspended' || this.policy === 'keep');
  }

  private retryLater(error: unknown): void {
    const sessionGone = error instanceof KeeperError && error.code === ErrorCode.SessionExpired;
    if (this.state !== 'started' || sessionGone || this.client.state !== 'connected') return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.scheduleCheck(), RETRY_DELAY_MS);
  }

  private setLeader(value: boolean): void {
    if (value === this.leading) return;
    this.leading = value;
    if (value) {
      this.term = new AbortController();
    } else {
      this.term?.abort(new NotLeaderError(this.group, 'leadership ended'));
    }
    for (const listener of [...this.listeners]) {
      try {
        listener(value);
      } catch {
        // A listener's failure must not stop the others or the election.
      }
    }
  }
}

/** The participant id in the head node of the queue in `dir`; undefined when empty. */
async function currentLeader(client: CoordinationClient, dir: string): Promise<string | undefined> {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    let children: string[];
    try {
      children = (await client.getChildren(dir)).children;
    } catch (error) {
      if (error instanceof KeeperError && error.code === ErrorCode.NoNode) return undefined;
      throw error;
    }
    const head = queueOrder(children, LATCH_PREFIX)[0];
    if (head === undefined) return undefined;
    try {
      return (await client.getData(`${dir}/${head}`)).data.toString('utf8');
    } catch (error) {
      // The head left between the two reads: look again.
      if (!(error instanceof KeeperError && error.code === ErrorCode.NoNode)) throw error;
    }
  }
  return undefined;
}
