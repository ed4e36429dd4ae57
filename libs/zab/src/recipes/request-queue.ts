/**
 * Request/response through znodes, served by whichever instance currently serves a target
 * (the leader of a group, or a named instance). Written only against `CoordinationClient`.
 *
 * Layout under `<root>/<target>` (default root `/zab/rpc`):
 *   requests/<id>    the request, a TTL node (`requestTtlMs`) so that an abandoned one goes
 *   responses/<id>   the response, also a TTL node, deleted by the requester once read
 *
 * - A request waits in the tree until some server takes it, so requests issued while no one
 *   serves (e.g. during a leader change) are answered by the next server.
 * - Retries are de-duplicated by id: the requester may create its request again after a
 *   `ConnectionLoss` (NodeExists then means it is already queued), and a server answers with
 *   one multi — create the response, delete the request — so a request is answered at most
 *   once even if two servers (an old and a new leader) ran the handler.
 * - The handler may run more than once for one request (a server that dies mid-handler), so
 *   handlers should be idempotent, as with any at-least-once delivery.
 * - No ordering between requests is promised.
 */
import type { CoordinationClient } from '../node/coordination-client.js';
import { MultiError } from '../node/coordination-client.js';
import { ErrorCode } from '../state/error-code.js';
import { KeeperError } from '../state/keeper-error.js';
import { deleteQuietly, ensurePath, retryingLoss } from './recipe-support.js';

export interface RequestQueueOptions {
  /** Default `/zab/rpc`. */
  root?: string;
  /** The served target, one path segment, e.g. `group.default` or `instance.worker-2`. */
  target: string;
  /** How long an untaken request or an unread response is kept; default 10 minutes. */
  requestTtlMs?: number;
}

/** The request was not answered in time (it may still be answered later; the answer is dropped). */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
}

export interface RequestServer {
  stop(): Promise<void>;
}

const SEGMENT = /^[A-Za-z0-9._-]{1,200}$/;
const RETRY_DELAY_MS = 500;

export class RequestQueue {
  readonly base: string;
  private readonly ttlMs: number;
  private prepared: Promise<void> | undefined;

  constructor(private readonly client: CoordinationClient, options: RequestQueueOptions) {
    if (!SEGMENT.test(options.target)) {
      throw new KeeperError(ErrorCode.BadArguments, undefined,
        `target must be 1-200 letters, digits, '.', '_' or '-'; got ${JSON.stringify(options.target)}`);
    }
    this.base = `${options.root ?? '/zab/rpc'}/${options.target}`;
    this.ttlMs = options.requestTtlMs ?? 600_000;
  }

  /**
   * Queues `payload` under `id` (1-200 letters, digits, '.', '_', '-'; unique per request) and
   * resolves with the response payload. Rejects with `RequestTimeoutError` after `timeoutMs`.
   */
  async request(id: string, payload: Buffer, timeoutMs: number): Promise<Buffer> {
    if (!SEGMENT.test(id)) throw new KeeperError(ErrorCode.BadArguments, undefined, `bad request id ${JSON.stringify(id)}`);
    await this.prepare();
    const responsePath = `${this.base}/responses/${id}`;
    let settle: { resolve: (data: Buffer) => void; reject: (error: unknown) => void } | undefined;
    const answered = new Promise<Buffer>((resolve, reject) => { settle = { resolve, reject }; });
    // Watch first, then queue: the response cannot come before the watch is in place.
    const unobserve = await this.client.observe(responsePath, 'data', (observation) => {
      if (observation.kind === 'data' && observation.value !== null) settle!.resolve(observation.value.data);
    });
    const timer = setTimeout(() => settle!.reject(new RequestTimeoutError(
      `no response to request ${id} on ${this.base} within ${timeoutMs} ms`)), timeoutMs);
    try {
      await this.queue(`${this.base}/requests/${id}`, payload);
      return await answered;
    } finally {
      clearTimeout(timer);
      unobserve();
      await deleteQuietly(this.client, responsePath).catch(() => undefined);
    }
  }

  /**
   * Serves requests until stopped: `handler` turns a request payload into a response payload;
   * at most `concurrencyMax` run at once. A handler that throws is answered by `onError`'s
   * payload (the requester decides what an error looks like).
   */
  async serve(
    handler: (payload: Buffer, id: string) => Promise<Buffer>,
    onError: (error: unknown, id: string) => Buffer,
    options: { concurrencyMax?: number; warn?: (message: string) => void } = {},
  ): Promise<RequestServer> {
    await this.prepare();
    const server = new Server(this, this.client, handler, onError, options.concurrencyMax ?? 64,
      options.warn ?? (() => undefined));
    await server.start();
    return server;
  }

  responseMode(): { mode: 'ttl'; ttlMs: number } {
    return { mode: 'ttl', ttlMs: this.ttlMs };
  }

  private async queue(path: string, payload: Buffer): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.create(path, payload, this.responseMode());
        return;
      } catch (error) {
        if (error instanceof KeeperError && error.code === ErrorCode.NodeExists) return; // a retry
        const retriable = error instanceof KeeperError && error.code === ErrorCode.ConnectionLoss;
        if (!retriable || attempt >= 3) throw error;
      }
    }
  }

  private prepare(): Promise<void> {
    this.prepared ??= (async () => {
      // Persistent, not containers: an empty queue must not vanish under its server.
      await retryingLoss(this.client, () => ensurePath(this.client, `${this.base}/requests`, 'persistent'));
      await retryingLoss(this.client, () => ensurePath(this.client, `${this.base}/responses`, 'persistent'));
    })();
    const prepared = this.prepared;
    prepared.catch(() => { if (this.prepared === prepared) this.prepared = undefined; });
    return prepared;
  }
}

class Server implements RequestServer {
  private readonly running = new Map<string, Promise<void>>();
  /** Requests whose answer failed, waiting out a delay before the next attempt. */
  private readonly resting = new Set<string>();
  private waitingNames: string[] = [];
  private stopped = false;
  private unobserve: (() => void) | undefined;

  constructor(
    private readonly queue: RequestQueue,
    private readonly client: CoordinationClient,
    private readonly handler: (payload: Buffer, id: string) => Promise<Buffer>,
    private readonly onError: (error: unknown, id: string) => Buffer,
    private readonly concurrencyMax: number,
    private readonly warn: (message: string) => void,
  ) {}

  async start(): Promise<void> {
    this.unobserve = await this.client.observe(`${this.queue.base}/requests`, 'children', (observation) => {
      if (observation.kind !== 'children' || observation.value === null) return;
      this.waitingNames = observation.value.children;
      this.fill();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unobserve?.();
    await Promise.allSettled([...this.running.values()]);
  }

  private fill(): void {
    for (const id of this.waitingNames) {
      if (this.stopped || this.running.size >= this.concurrencyMax) return;
      if (this.running.has(id) || this.resting.has(id)) continue;
      const done = this.answer(id)
        .catch((error: unknown) => {
          this.warn(`request ${id}: ${(error as Error).message}; retrying in ${RETRY_DELAY_MS} ms`);
          // Still queued (the answer did not commit): try it again later, not at once.
          this.resting.add(id);
          const timer = setTimeout(() => {
            this.resting.delete(id);
            if (!this.stopped && this.client.state === 'connected') this.fill();
          }, RETRY_DELAY_MS);
          timer.unref();
        })
        .finally(() => {
          this.running.delete(id);
          this.fill();
        });
      this.running.set(id, done);
    }
  }

  private async answer(id: string): Promise<void> {
    const requestPath = `${this.queue.base}/requests/${id}`;
    let payload: Buffer;
    try {
      payload = (await retryingLoss(this.client, () => this.client.getData(requestPath))).data;
    } catch (error) {
      if (error instanceof KeeperError && error.code === ErrorCode.NoNode) return; // taken already
      throw error;
    }
    let response: Buffer;
    try {
      response = await this.handler(payload, id);
    } catch (error) {
      response = this.onError(error, id);
    }
    if (this.stopped) return; // leadership may be gone: leave the request to the next server
    try {
      await this.client.multi([
        { op: 'create', path: `${this.queue.base}/responses/${id}`, data: response, ...this.queue.responseMode() },
        { op: 'delete', path: requestPath },
      ]);
    } catch (error) {
      if (!(error instanceof MultiError)) throw error;
      // NodeExists: another server answered first; NoNode: the requester gave up. Either way
      // the request is done with; make sure it does not linger.
      await deleteQuietly(this.client, requestPath);
    }
  }
}
