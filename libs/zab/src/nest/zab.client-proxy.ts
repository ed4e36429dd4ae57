/**
 * The client side of the ensemble transport (`ZabTransportStrategy`):
 * `emit(pattern, data)` appends the event to the durable, totally ordered event log and
 * completes (with the event's sequence number) once it is committed; `send(pattern, data)`
 * queues a request for the target (the leader of a group by default) and emits the handler's
 * values. A request queued while no one serves the target waits for the next server, up to
 * `timeoutMs`.
 */
import { randomUUID } from 'node:crypto';
import { ClientProxy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import type { CoordinationClient } from '../node/coordination-client.js';
import { EventLog } from '../recipes/event-log.js';
import { RequestQueue } from '../recipes/request-queue.js';
import type { CoordinationService } from './coordination.service.js';
import { clientOf, targetSegment, type ZabResponse, type ZabTarget } from './zab-transport.strategy.js';

export interface ZabClientProxyOptions {
  /** Event stream `emit` appends to; default `default`. */
  stream?: string;
  /** Where `send` goes; default the leader of group `default`. */
  target?: ZabTarget;
  /** How long `send` waits for its answer; default 30 s. */
  timeoutMs?: number;
  /** Must match the strategy's; default 10 minutes. */
  requestTtlMs?: number;
}

export class ZabClientProxy extends ClientProxy {
  private readonly client: CoordinationClient;
  private readonly events: EventLog;
  private readonly queue: RequestQueue;
  private readonly timeoutMs: number;

  constructor(source: CoordinationService | CoordinationClient, options: ZabClientProxyOptions = {}) {
    super();
    this.client = clientOf(source);
    this.events = new EventLog(this.client, options.stream === undefined ? {} : { stream: options.stream });
    this.queue = new RequestQueue(this.client, {
      target: targetSegment(options.target ?? { leaderOf: 'default' }),
      ...(options.requestTtlMs === undefined ? {} : { requestTtlMs: options.requestTtlMs }),
    });
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** A proxy for another target, sharing this one's session. */
  to(target: ZabTarget): ZabClientProxy {
    return new ZabClientProxy(this.client, { target, timeoutMs: this.timeoutMs });
  }

  async connect(): Promise<void> {
    if (this.client.state !== 'connected') throw new Error(`the coordination session is ${this.client.state}`);
  }

  close(): void {
    // The session belongs to ZabModule; nothing to release here.
  }

  unwrap<T>(): T {
    return this.client as T;
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    let cancelled = false;
    const id = `${this.client.sessionId.toString(16)}-${randomUUID()}`;
    const body = Buffer.from(JSON.stringify({ pattern: this.normalizePattern(packet.pattern), data: packet.data }));
    this.queue.request(id, body, this.timeoutMs).then((payload) => {
      if (cancelled) return;
      const response = JSON.parse(payload.toString('utf8')) as ZabResponse;
      if (response.err !== undefined) {
        callback({ err: response.err });
        return;
      }
      for (const value of response.responses ?? []) callback({ response: value });
      callback({ isDisposed: true });
    }, (error: unknown) => {
      if (!cancelled) callback({ err: error });
    });
    return () => { cancelled = true; };
  }

  protected async dispatchEvent<T = number>(packet: ReadPacket): Promise<T> {
    const body = Buffer.from(JSON.stringify({ pattern: this.normalizePattern(packet.pattern), data: packet.data }));
    return (await this.events.append(body)) as T;
  }
}
