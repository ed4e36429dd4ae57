/**
 * A durable, totally ordered event log over znodes, consumed by every instance with its own
 * committed offset (at-least-once delivery per consumer). Written only against
 * `CoordinationClient`, so it runs on the embedded replica and on a remote ensemble.
 *
 * Layout under `root` (default `/zab/events/<stream>`):
 *   log/e-0000000042     one event per persistent-sequential node; the counter (assigned by
 *                        the leader in commit order) is the event's place in the total order
 *   offsets/<consumer>   the sequence number of the last event the consumer finished, as text
 *
 * A consumer runs its handler on each event after its offset, one at a time and in order, and
 * moves its offset after the handler settles: a crash between the two delivers that event
 * again (at-least-once). Events every registered consumer has passed are deleted; so are the
 * oldest beyond `retainEventsMax` even if a consumer lags (that consumer then skips them, with
 * a warning) — a consumer that disappeared forever must not make the log grow without bound.
 * Sequence numbers are ZooKeeper's 10-digit sequential counter: at most 2^31 - 1 events per
 * stream over its lifetime.
 */
import type { CoordinationClient, Observation } from '../node/coordination-client.js';
import { ErrorCode } from '../state/error-code.js';
import { KeeperError } from '../state/keeper-error.js';
import { deleteQuietly, ensurePath, isKeeperCode, retryingLoss } from './recipe-support.js';

export interface EventLogOptions {
  /** Parent of the stream's nodes; default `/zab/events/<stream>`. */
  root?: string;
  /** Stream name (one path segment); default `default`. */
  stream?: string;
  /** Events kept at most, even for lagging consumers; default 10,000. */
  retainEventsMax?: number;
}

export interface LoggedEvent {
  /** Place in the stream's total order (strictly increasing). */
  sequence: number;
  payload: Buffer;
}

export interface ConsumeOptions {
  /** Where a consumer with no committed offset starts: all retained events, or new ones only. */
  startFrom?: 'earliest' | 'latest';
  /** Reports what a consumer skips or fails on; default: nothing. */
  warn?: (message: string) => void;
}

export interface EventConsumer {
  /** Resolves once the consumer has processed every event up to `sequence` (bounded wait). */
  caughtUp(sequence: number, timeoutMs: number): Promise<void>;
  /** Stops after the event in progress; the offset stays where it is. */
  stop(): Promise<void>;
}

const SEGMENT = /^[A-Za-z0-9._-]{1,200}$/;
const EVENT_PREFIX = 'e-';

function checkSegment(what: string, value: string): string {
  if (!SEGMENT.test(value)) {
    throw new KeeperError(ErrorCode.BadArguments, undefined,
      `${what} must be 1-200 letters, digits, '.', '_' or '-'; got ${JSON.stringify(value)}`);
  }
  return value;
}

function sequenceOf(name: string): number | undefined {
  if (!name.startsWith(EVENT_PREFIX)) return undefined;
  const value = Number(name.slice(EVENT_PREFIX.length));
  return Number.isSafeInteger(value) ? value : undefined;
}

export class EventLog {
  readonly root: string;
  private readonly retainEventsMax: number;
  private prepared: Promise<void> | undefined;

  constructor(private readonly client: CoordinationClient, options: EventLogOptions = {}) {
    const stream = checkSegment('stream', options.stream ?? 'default');
    this.root = options.root ?? `/zab/events/${stream}`;
    this.retainEventsMax = options.retainEventsMax ?? 10_000;
    if (!Number.isInteger(this.retainEventsMax) || this.retainEventsMax < 1) {
      throw new KeeperError(ErrorCode.BadArguments, undefined, 'retainEventsMax must be a positive integer');
    }
  }

  /** Appends one event; resolves with its sequence number once committed. */
  async append(payload: Buffer): Promise<number> {
    await this.prepare();
    const { path } = await this.client.create(`${this.root}/log/${EVENT_PREFIX}`, payload,
      { mode: 'persistent_sequential' });
    return sequenceOf(path.slice(path.lastIndexOf('/') + 1))!;
  }

  /**
   * Runs `handler` on every event after `consumerId`'s committed offset, in order, one at a
   * time, and commits the offset after each. A handler that throws is reported through
   * `warn` and the event counts as done (a poison event must not stop the stream).
   */
  async consume(
    consumerId: string,
    handler: (event: LoggedEvent) => Promise<void>,
    options: ConsumeOptions = {},
  ): Promise<EventConsumer> {
    checkSegment('consumer id', consumerId);
    await this.prepare();
    const offsetPath = `${this.root}/offsets/${consumerId}`;
    const offset = await this.readOrCreateOffset(offsetPath, options.startFrom ?? 'earliest');
    const consumer = new Consumer(this, this.client, offsetPath, offset, handler, options.warn ?? (() => undefined));
    await consumer.start();
    return consumer;
  }

  /** Deletes events every consumer has passed, and the oldest beyond `retainEventsMax`. */
  async prune(names: string[]): Promise<void> {
    const offsets = await this.client.getChildren(`${this.root}/offsets`);
    let minimum = Number.POSITIVE_INFINITY;
    for (const consumer of offsets.children) {
      try {
        const { data } = await this.client.getData(`${this.root}/offsets/${consumer}`);
        minimum = Math.min(minimum, Number(data.toString()));
      } catch (error) {
        if (!isKeeperCode(error, ErrorCode.NoNode)) throw error; // unregistered meanwhile
      }
    }
    const sequences = names.map(sequenceOf).filter((s): s is number => s !== undefined).sort((a, b) => a - b);
    const overCap = sequences.length - this.retainEventsMax;
    const doomed = sequences.filter((sequence, index) => sequence <= minimum || index < overCap);
    for (const sequence of doomed) {
      await deleteQuietly(this.client, this.eventPath(sequence));
    }
  }

  eventPath(sequence: number): string {
    return `${this.root}/log/${EVENT_PREFIX}${String(sequence).padStart(10, '0')}`;
  }

  /** The highest sequence appended so far, or -1. */
  async lastSequence(): Promise<number> {
    await this.prepare();
    const { children } = await this.client.getChildren(`${this.root}/log`);
    return children.reduce((max, name) => Math.max(max, sequenceOf(name) ?? -1), -1);
  }

  private prepare(): Promise<void> {
    this.prepared ??= (async () => {
      // Persistent, not containers: an empty log must not vanish under its consumers.
      await retryingLoss(this.client, () => ensurePath(this.client, `${this.root}/log`, 'persistent'));
      await retryingLoss(this.client, () => ensurePath(this.client, `${this.root}/offsets`, 'persistent'));
    })();
    const prepared = this.prepared;
    prepared.catch(() => { if (this.prepared === prepared) this.prepared = undefined; });
    return prepared;
  }

  private async readOrCreateOffset(path: string, startFrom: 'earliest' | 'latest'): Promise<number> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const { data } = await retryingLoss(this.client, () => this.client.getData(path));
        const value = Number(data.toString());
        if (!Number.isSafeInteger(value) || value < -1) {
          throw new KeeperError(ErrorCode.BadArguments, path, `offset node holds ${JSON.stringify(data.toString())}, not a sequence number`);
        }
        return value;
      } catch (error) {
        if (!(error instanceof KeeperError) || error.code !== ErrorCode.NoNode) throw error;
      }
      const start = startFrom === 'latest' ? await this.lastSequence() : -1;
      try {
        // A retried create that had committed meets NodeExists: read it on the next round.
        await retryingLoss(this.client, () => this.client.create(path, Buffer.from(String(start))));
        return start;
      } catch (error) {
        if (!(error instanceof KeeperError) || error.code !== ErrorCode.NodeExists) throw error;
      }
    }
    throw new KeeperError(ErrorCode.SystemError, path, 'the offset node kept appearing and disappearing');
  }
}

const PRUNE_EVERY = 64;
const RETRY_DELAY_MS = 500;

class Consumer implements EventConsumer {
  private latestNames: string[] = [];
  private pumping: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private unobserve: (() => void) | undefined;
  private sinceprune = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<{ sequence: number; resolve: () => void }>();

  constructor(
    private readonly log: EventLog,
    private readonly client: CoordinationClient,
    private readonly offsetPath: string,
    private offset: number,
    private readonly handler: (event: LoggedEvent) => Promise<void>,
    private readonly warn: (message: string) => void,
  ) {}

  async start(): Promise<void> {
    this.unobserve = await this.client.observe(`${this.log.root}/log`, 'children', (observation: Observation) => {
      if (observation.kind !== 'children' || observation.value === null) return;
      this.latestNames = observation.value.children;
      this.kick();
    });
  }

  caughtUp(sequence: number, timeoutMs: number): Promise<void> {
    if (this.offset >= sequence) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { sequence, resolve: () => { clearTimeout(timer); resolve(); } };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`consumer at ${this.offset} did not reach event ${sequence} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.unobserve?.();
    await this.pumping;
  }

  private kick(): void {
    if (this.pumping !== undefined) {
      this.again = true;
      return;
    }
    this.pumping = this.pump().catch((error: unknown) => {
      if (this.stopped) return;
      if (this.client.state !== 'connected') {
        this.warn(`event consumer stopped at ${this.offset}: the session ended (${(error as Error).message})`);
        this.stopped = true;
        return;
      }
      // A failure that outlasted the bounded retries (e.g. a long leader election): the
      // session lives, so try again shortly from the committed offset.
      this.warn(`event consumer at ${this.offset}: ${(error as Error).message}; retrying`);
      this.retryTimer = setTimeout(() => { this.retryTimer = undefined; if (!this.stopped) this.kick(); }, RETRY_DELAY_MS);
    }).finally(() => { this.pumping = undefined; });
  }

  private async pump(): Promise<void> {
    do {
      this.again = false;
      const pending = this.latestNames.map(sequenceOf)
        .filter((s): s is number => s !== undefined && s > this.offset)
        .sort((a, b) => a - b);
      for (const sequence of pending) {
        if (this.stopped) return;
        await this.deliver(sequence);
      }
    } while (this.again && !this.stopped);
  }

  private async deliver(sequence: number): Promise<void> {
    let payload: Buffer | undefined;
    try {
      payload = (await retryingLoss(this.client, () => this.client.getData(this.log.eventPath(sequence)))).data;
    } catch (error) {
      if (!(error instanceof KeeperError) || error.code !== ErrorCode.NoNode) throw error;
      this.warn(`event ${sequence} was pruned before this consumer reached it (retainEventsMax); skipped`);
    }
    if (payload !== undefined) {
      try {
        await this.handler({ sequence, payload });
      } catch (error) {
        this.warn(`event ${sequence}: handler failed (${(error as Error).message}); moving on`);
      }
    }
    if (this.stopped) return;
    // Idempotent (the same offset again), so safe to retry across a leader change.
    await retryingLoss(this.client, () => this.client.setData(this.offsetPath, Buffer.from(String(sequence))));
    this.offset = sequence;
    for (const waiter of [...this.waiters]) {
      if (waiter.sequence <= sequence) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
    if (++this.sinceprune >= PRUNE_EVERY) {
      this.sinceprune = 0;
      await this.log.prune(this.latestNames).catch((error: unknown) =>
        this.warn(`pruning events failed: ${(error as Error).message}`));
    }
  }
}
