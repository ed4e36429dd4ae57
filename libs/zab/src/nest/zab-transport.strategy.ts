/**
 * A `@nestjs/microservices` transport over the ensemble (import from `nestjs-zab/microservices`):
 *
 * - events: `ZabClientProxy.emit(pattern, data)` appends to a durable event log (an
 *   `EventLog` stream); every instance running this strategy delivers each event to its
 *   `@EventPattern` handlers in ONE total order (the log's order), at least once, committing
 *   its offset after each handler settles — a restarted instance goes on where it stopped;
 * - requests: `ZabClientProxy.send(pattern, data)` queues a request (`RequestQueue`) for a
 *   target — the leader of a group, or a named instance — and the strategy of the instance
 *   serving that target runs the `@MessagePattern` handler; requests wait in the tree across
 *   a leader change and retries are de-duplicated.
 *
 * Packets are JSON: patterns and data must be JSON-serialisable.
 */
import { Logger } from '@nestjs/common';
import {
  BaseRpcContext,
  Server,
  type CustomTransportStrategy,
  type ReadPacket,
} from '@nestjs/microservices';
import { distinctUntilChanged, lastValueFrom, toArray } from 'rxjs';
import type { CoordinationClient } from '../node/coordination-client.js';
import { EventLog, type EventConsumer } from '../recipes/event-log.js';
import { RequestQueue, type RequestServer } from '../recipes/request-queue.js';
import { CoordinationService } from './coordination.service.js';

/** Where `send()` goes: the leader of a group, or one named instance. */
export type ZabTarget = { leaderOf: string } | { instance: string };

export interface ZabTransportOptions {
  /** This instance's durable consumer name (stable across restarts; one path segment). */
  consumerId: string;
  /** Event stream; default `default`. */
  stream?: string;
  /** Where a new consumer starts: every retained event, or only new ones. Default `earliest`. */
  startFrom?: 'earliest' | 'latest';
  /** Events retained for lagging consumers; default 10,000. */
  retainEventsMax?: number;
  /** Serve requests sent to this instance by name (`{ instance: name }`). */
  instance?: string;
  /**
   * Serve requests sent to the leader of these groups while this instance leads them: the
   * same elections as `@LeaderOnly` (`CoordinationService.leadership$`), so the instance
   * running a group's leader-only jobs also answers its requests.
   */
  leaderOf?: string[];
  /** How long queued requests and unread responses are kept; default 10 minutes. */
  requestTtlMs?: number;
}

/** Tells the transport when this instance leads `group` (true) and when it stops (false). */
export type LeadershipWatcher = (group: string, listener: (isLeader: boolean) => void) => () => void;

/** What handlers receive as context: `[stream, sequence]` for events, `[target, id]` for requests. */
export class ZabContext extends BaseRpcContext<[string, number | string]> {}

/** The wire form of a request's outcome (JSON). */
export interface ZabResponse {
  responses?: unknown[];
  err?: unknown;
}

/** Target to its path segment: `leader.<group>` or `instance.<name>`. */
export function targetSegment(target: ZabTarget): string {
  return 'leaderOf' in target ? `leader.${target.leaderOf}` : `instance.${target.instance}`;
}

/** The module's elections as a `LeadershipWatcher`: `leadership$(group)`, each change once. */
function watchLeadershipOf(coordination: CoordinationService): LeadershipWatcher {
  return (group, listener) => {
    const subscription = coordination.leadership$(group).pipe(distinctUntilChanged()).subscribe({
      next: (isLeader) => listener(isLeader),
      error: () => listener(false),
    });
    return () => subscription.unsubscribe();
  };
}

export function clientOf(source: CoordinationService | CoordinationClient): CoordinationClient {
  return source instanceof CoordinationService ? source.coordinationClient() : source;
}

export class ZabTransportStrategy extends Server implements CustomTransportStrategy {
  protected override readonly logger = new Logger('ZabTransport');
  private readonly client: CoordinationClient;
  private consumer: EventConsumer | undefined;
  private readonly servers = new Map<string, Promise<RequestServer>>();
  private readonly unwatch: (() => void)[] = [];
  readonly events: EventLog;

  private readonly leadership: LeadershipWatcher | undefined;

  /**
   * `leadership` tells when this instance leads a group; by default (given a
   * `CoordinationService`) the module's elections, through `leadership$(group)`.
   */
  constructor(
    source: CoordinationService | CoordinationClient,
    private readonly options: ZabTransportOptions,
    leadership?: LeadershipWatcher,
  ) {
    super();
    this.client = clientOf(source);
    this.leadership = leadership ?? (source instanceof CoordinationService ? watchLeadershipOf(source) : undefined);
    this.events = new EventLog(this.client, {
      ...(options.stream === undefined ? {} : { stream: options.stream }),
      ...(options.retainEventsMax === undefined ? {} : { retainEventsMax: options.retainEventsMax }),
    });
    if ((options.leaderOf?.length ?? 0) > 0 && this.leadership === undefined) {
      throw new Error('ZabTransportStrategy: `leaderOf` needs the CoordinationService (not a bare client) or a leadership watcher (the third argument)');
    }
  }

  on(): never {
    throw new Error('ZabTransportStrategy has no events to listen to');
  }

  unwrap<T>(): T {
    return this.client as T;
  }

  listen(callback: (error?: unknown) => void): void {
    this.start().then(() => callback(), (error: unknown) => callback(error));
  }

  async close(): Promise<void> {
    for (const stop of this.unwatch.splice(0)) stop();
    await this.consumer?.stop();
    this.consumer = undefined;
    await Promise.allSettled([...this.servers.keys()].map((key) => this.stopServing(key)));
  }

  /** Resolves once this instance has handled every event up to `sequence` (tests, demos). */
  async caughtUp(sequence: number, timeoutMs: number): Promise<void> {
    if (this.consumer === undefined) throw new Error('the transport is not listening');
    await this.consumer.caughtUp(sequence, timeoutMs);
  }

  private async start(): Promise<void> {
    this.consumer = await this.events.consume(this.options.consumerId, (event) => this.deliverEvent(event.sequence, event.payload), {
      startFrom: this.options.startFrom ?? 'earliest',
      warn: (message) => this.logger.warn(message),
    });
    if (this.options.instance !== undefined) this.startServing(targetSegment({ instance: this.options.instance }));
    for (const group of this.options.leaderOf ?? []) {
      const key = targetSegment({ leaderOf: group });
      this.unwatch.push(this.leadership!(group, (isLeader) => {
        if (isLeader) this.startServing(key);
        else void this.stopServing(key);
      }));
    }
  }

  private async deliverEvent(sequence: number, payload: Buffer): Promise<void> {
    const packet = parsePacket(payload);
    if (packet === undefined) {
      this.logger.warn(`event ${sequence} is not a JSON packet; skipped`);
      return;
    }
    if (this.getHandlerByPattern(packet.pattern) === null) return; // not for this instance
    await this.handleEvent(packet.pattern, packet, new ZabContext([this.events.root, sequence]));
  }

  private startServing(key: string): void {
    if (this.servers.has(key)) return;
    const queue = new RequestQueue(this.client, {
      target: key,
      ...(this.options.requestTtlMs === undefined ? {} : { requestTtlMs: this.options.requestTtlMs }),
    });
    const server = queue.serve(
      (payload, id) => this.answer(key, id, payload),
      (error) => Buffer.from(JSON.stringify({ err: describeError(error) } satisfies ZabResponse)),
      { warn: (message) => this.logger.warn(message) },
    );
    server.catch((error: unknown) => {
      this.logger.error(`serving ${key} failed: ${(error as Error).message}`);
      this.servers.delete(key);
    });
    this.servers.set(key, server);
  }

  private async stopServing(key: string): Promise<void> {
    const server = this.servers.get(key);
    this.servers.delete(key);
    await (await server?.catch(() => undefined))?.stop();
  }

  private async answer(key: string, id: string, payload: Buffer): Promise<Buffer> {
    const packet = parsePacket(payload);
    if (packet === undefined) return encode({ err: 'the request is not a JSON packet' });
    const handler = this.getHandlerByPattern(packet.pattern);
    if (handler === null) {
      return encode({ err: `There is no matching message handler for ${packet.pattern} on ${key}.` });
    }
    try {
      const stream$ = this.transformToObservable(await handler(packet.data, new ZabContext([key, id])));
      return encode({ responses: await lastValueFrom(stream$.pipe(toArray())) });
    } catch (error) {
      return encode({ err: describeError(error) });
    }
  }
}

function encode(response: ZabResponse): Buffer {
  return Buffer.from(JSON.stringify(response));
}

function describeError(error: unknown): unknown {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return error;
}

export function parsePacket(payload: Buffer): (ReadPacket & { pattern: string }) | undefined {
  try {
    const value = JSON.parse(payload.toString('utf8')) as { pattern?: unknown; data?: unknown };
    if (typeof value !== 'object' || value === null || typeof value.pattern !== 'string') return undefined;
    return { pattern: value.pattern, data: value.data };
  } catch {
    return undefined;
  }
}
