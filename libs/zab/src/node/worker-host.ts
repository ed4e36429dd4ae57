/**
 * Runs a replica in a `worker_threads` worker and hands out sessions on it: the standalone
 * `Replica`, or for several members the ensemble driver `EnsembleReplica` (peer transport,
 * elections and the lag guard included). App code that blocks the main thread then cannot
 * stall the replica's timers, fsyncs, heartbeats or session expiry: those run on the worker's
 * own event loop. `ZabModule` uses this by default
 * (`isolation: 'worker'`).
 *
 * Contracts:
 * - Options are validated on the main thread before the worker starts, so configuration
 *   errors are thrown here, with their message, as `ReplicaConfigurationError`.
 * - The worker entry is found next to this compiled module (`./worker-entry.js`), which holds
 *   in `dist/zab`, in `build/` and in an installed package alike.
 * - The worker keeps the process alive only while a request is outstanding (as a socket with
 *   a pending request would); an idle replica does not, like the unref'd timers of a replica
 *   on the main thread.
 * - If the worker dies, every pending call rejects with `ReplicaWorkerExitedError`, every
 *   session is reported as ended (`'expired'`), `state` becomes `'failed'`, and the logger
 *   says so. Nothing is restarted: a new instance recovers from the data directory.
 */
import { Worker } from 'node:worker_threads';
import type { SessionId } from '../core/ids.js';
import { ErrorCode } from '../state/error-code.js';
import { BadArgumentsError } from '../state/keeper-error.js';
import type { ReplicaStatus } from './replica-status.js';
import type { ReplicaLogger, ReplicaState } from './replica.js';
import { ReplicaStoppedError } from './replica-errors.js';
import { resolveReplicaOptions, type ReplicaOptions } from './replica-options.js';
import { WorkerCoordinationClient, type WorkerSessionLink } from './worker-client.js';
import {
  Outbox,
  reviveError,
  ReplicaWorkerExitedError,
  type Batch,
  type HostRequest,
  type Probe,
  type RecordedEvent,
  type WorkerItem,
  type WorkerStartData,
} from './worker-protocol.js';

const WORKER_ENTRY = new URL('./worker-entry.js', import.meta.url);

/**
 * Node options a worker accepts and that matter to the replica's code (loaders, conditions,
 * source maps, warnings). Everything else is left out: Node refuses V8 options (heap limits,
 * `--expose-gc`, `--stack-trace-limit`) and process-wide options in a worker's `execArgv`, and
 * main-only ones (`--eval`, `--input-type`) break it, so passing the process's flags through
 * blindly would stop an app started with `--max-old-space-size` from starting at all.
 */
const WORKER_FLAGS_WITH_VALUE = new Set([
  '--import', '--require', '-r', '--loader', '--experimental-loader', '--conditions', '-C',
]);
const WORKER_FLAGS = new Set([
  '--enable-source-maps', '--no-warnings', '--trace-warnings', '--trace-uncaught',
  '--no-deprecation', '--trace-deprecation', '--throw-deprecation', '--pending-deprecation',
  '--preserve-symlinks', '--preserve-symlinks-main', '--unhandled-rejections',
]);

/** The worker's flags, and its heap limit taken from the process's `--max-old-space-size`. */
export function workerExecArgv(execArgv: readonly string[]): {
  execArgv: string[];
  maxOldGenerationSizeMb: number | undefined;
} {
  const kept: string[] = [];
  let maxOldGenerationSizeMb: number | undefined;
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i]!;
    const [name = '', inlineValue] = flag.split(/=(.*)/s, 2);
    const takesValue = WORKER_FLAGS_WITH_VALUE.has(name) ||
      ['--eval', '-e', '--print', '-p', '--input-type', '--max-old-space-size'].includes(name);
    const value = inlineValue ?? (takesValue ? execArgv[++i] : undefined);
    if (name === '--max-old-space-size' && value !== undefined && /^\d+$/.test(value)) {
      maxOldGenerationSizeMb = Number(value);
    } else if (WORKER_FLAGS_WITH_VALUE.has(name) && value !== undefined) {
      // Two entries: Node refuses the `-r=x` / `-C=x` forms of the short flags in a worker.
      kept.push(name, value);
    } else if (WORKER_FLAGS.has(name) || name.startsWith('--experimental-')) {
      kept.push(flag);
    }
  }
  return { execArgv: kept, maxOldGenerationSizeMb };
}

const SILENT_LOGGER: ReplicaLogger = { log() {}, warn() {}, error() {} };

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/** Message counts across the thread boundary (diagnostics: how well batching coalesces). */
export interface WorkerTraffic {
  messagesSent: number;
  requestsSent: number;
  messagesReceived: number;
  itemsReceived: number;
}

export class WorkerReplicaHandle implements WorkerSessionLink {
  readonly traffic: WorkerTraffic = {
    messagesSent: 0,
    requestsSent: 0,
    messagesReceived: 0,
    itemsReceived: 0,
  };
  private nextId = 1;
  private nextSession = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly clients = new Map<number, WorkerCoordinationClient>();
  private readonly failureListeners = new Set<(error: Error) => void>();
  private readonly outbox: Outbox<HostRequest>;
  private stateValue: ReplicaState = 'serving';
  private failure: Error | undefined;
  /** Set once the worker is gone (exit or terminate): later requests reject with it. */
  private gone: Error | undefined;
  private lastWorkerError: Error | undefined;
  private deliberateExit = false;
  private referenced = true;
  private closePromise: Promise<void> | undefined;
  private readonly opened: Promise<void>;
  private settleOpen: Pending | undefined;
  private clientPortValue: number | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly options: ReplicaOptions,
    private readonly logger: ReplicaLogger,
  ) {
    this.outbox = new Outbox((message, transfer) => this.post(message, transfer));
    this.opened = new Promise<void>((resolve, reject) => {
      this.settleOpen = { resolve: () => resolve(), reject };
    });
    worker.on('message', (message: Batch<WorkerItem>) => {
      this.traffic.messagesReceived += 1;
      this.traffic.itemsReceived += message.batch.length;
      for (const item of message.batch) this.dispatch(item);
    });
    worker.on('error', (error: Error) => {
      this.lastWorkerError = error;
    });
    worker.on('exit', (code: number) => this.exited(code));
  }

  /**
   * Starts the worker and resolves once its replica serves (recovered from `dataDir`).
   * Rejects with the same typed errors as `Replica.open` (configuration, recovery, storage).
   */
  static async open(
    input?: Partial<ReplicaOptions>,
    ports: { logger?: ReplicaLogger } = {},
  ): Promise<WorkerReplicaHandle> {
    const options = resolveReplicaOptions(input);
    const start: WorkerStartData = { options };
    const flags = workerExecArgv(process.execArgv);
    const worker = new Worker(WORKER_ENTRY, {
      workerData: start,
      execArgv: flags.execArgv,
      ...(flags.maxOldGenerationSizeMb === undefined
        ? {}
        : { resourceLimits: { maxOldGenerationSizeMb: flags.maxOldGenerationSizeMb } }),
    });
    const handle = new WorkerReplicaHandle(worker, options, ports.logger ?? SILENT_LOGGER);
    await handle.opened;
    handle.updateReference();
    return handle;
  }

  /** Port of the client port the worker serves (option `clientPort`), or undefined. */
  get clientPort(): number | undefined {
    return this.clientPortValue;
  }

  /** `'serving'`, `'closing'`, `'closed'`, or `'failed'` (replica fail-stop or worker death). */
  get state(): ReplicaState {
    return this.stateValue;
  }

  /** Why the replica stopped, once it has failed. */
  get failureCause(): Error | undefined {
    return this.failure;
  }

  /**
   * Opens a session in the worker. A `local` session (the default) is kept alive by the
   * replica itself for as long as the worker lives, whatever the main thread does.
   */
  connect(
    sessionTimeoutMs: number,
    options: { local?: boolean } = {},
  ): Promise<WorkerCoordinationClient> {
    const session = this.nextSession++;
    return this.requestWith(
      (id) => ({ kind: 'connect', id, session, sessionTimeoutMs, local: options.local ?? true }),
      [],
      // Registered while the reply is dispatched, so items after it in the batch find it.
      (value) => {
        const reply = value as { sessionId: SessionId; sessionTimeoutMs: number };
        const { sessionId, sessionTimeoutMs: timeoutMs } = reply;
        const client = new WorkerCoordinationClient(this, session, sessionId, timeoutMs);
        this.clients.set(session, client);
        return client;
      },
    );
  }

  onFailure(listener: (error: Error) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  /** Logs an error thrown by an application callback (watch, observer, session end). */
  reportListenerError(error: unknown): void {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.logger.error(`a watch or session listener threw (ignored): ${message}`);
  }

  /** Ids of the sessions the replica's tree holds (diagnostics, tests). */
  sessionIds(): Promise<SessionId[]> {
    return this.probe({ op: 'sessions' });
  }

  /** The replica's operator status, answered inside the worker (admin endpoint). */
  status(): Promise<ReplicaStatus> {
    return this.probe({ op: 'status' });
  }

  /** Watches registered on the replica, all sessions (diagnostics, tests). */
  watchCount(): Promise<number> {
    return this.probe({ op: 'watchCount' });
  }

  /** Test support: record every watch event under `path` with the worker's wall time. */
  recordEvents(path: string): Promise<void> {
    return this.probe({ op: 'record', path });
  }

  /** Test support: the events recorded since `recordEvents`. */
  recordedEvents(): Promise<RecordedEvent[]> {
    return this.probe({ op: 'recorded' });
  }

  /** Test support: the worker dies of an uncaught error; this call rejects like any pending. */
  crashForTest(): Promise<void> {
    return this.probe({ op: 'crash' });
  }

  /** Closes the replica in the worker (waits for in-flight writes), then ends the worker. */
  close(): Promise<void> {
    this.closePromise ??= this.closeOnce();
    return this.closePromise;
  }

  request<T>(build: (id: number) => HostRequest, transfer: ArrayBuffer[] = []): Promise<T> {
    return this.requestWith(build, transfer, (value) => value as T);
  }

  send(request: HostRequest): void {
    if (this.gone === undefined) this.outbox.push(request);
  }

  private probe<T>(probe: Probe): Promise<T> {
    return this.request((id) => ({ kind: 'probe', id, probe }));
  }

  private async closeOnce(): Promise<void> {
    if (this.gone !== undefined) return;
    if (this.stateValue === 'serving') this.stateValue = 'closing';
    try {
      await this.request((id) => ({ kind: 'shutdown', id }));
    } catch (error) {
      // A worker that died meanwhile has nothing left to close (its death is reported).
      if (!(error instanceof ReplicaWorkerExitedError)) throw error;
    } finally {
      this.deliberateExit = true;
      await this.worker.terminate();
      if (this.stateValue !== 'failed') this.stateValue = 'closed';
    }
  }

  /** `adopt` runs synchronously when the reply is dispatched, before later items. */
  private requestWith<T>(
    build: (id: number) => HostRequest,
    transfer: ArrayBuffer[],
    adopt: (value: unknown) => T,
  ): Promise<T> {
    if (this.gone !== undefined) return Promise.reject(this.gone);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: (value) => resolve(adopt(value)), reject });
      this.outbox.push(build(id), transfer);
      this.updateReference();
    });
  }

  /** Posts a batch; a value that cannot be cloned fails only its own request. */
  private post(message: Batch<HostRequest>, transfer: ArrayBuffer[]): void {
    if (this.gone !== undefined) return;
    this.traffic.messagesSent += 1;
    this.traffic.requestsSent += message.batch.length;
    try {
      this.worker.postMessage(message, transfer);
      return;
    } catch {
      // Serialization failed before anything was transferred: retry one by one (copying).
    }
    for (const request of message.batch) {
      try {
        this.worker.postMessage({ batch: [request] });
      } catch (error) {
        const id = Array.isArray(request) ? request[0] : 'id' in request ? request.id : undefined;
        if (id === undefined) continue;
        const detail = `cannot send the request to the replica worker: ${(error as Error).message}`;
        const refused = new BadArgumentsError(ErrorCode.BadArguments, undefined, detail);
        this.settle(id, undefined, refused);
      }
    }
  }

  private dispatch(item: WorkerItem): void {
    if (Array.isArray(item)) {
      this.settle(item[0], item[1], undefined);
      return;
    }
    switch (item.kind) {
      case 'opened':
        this.clientPortValue = item.clientPort;
        this.settleOpen?.resolve(undefined);
        return;
      case 'openFailed':
        this.deliberateExit = true;
        this.settleOpen?.reject(reviveError(item.error));
        void this.worker.terminate();
        return;
      case 'fail':
        this.settle(item.id, undefined, reviveError(item.error));
        return;
      case 'watch':
        this.clients.get(item.session)?.deliverWatch(item.watchId, item.event);
        return;
      case 'watchReleased':
        this.clients.get(item.session)?.releaseWatch(item.watchId, item.uses);
        return;
      case 'observation':
        this.clients.get(item.session)?.deliverObservation(item.observerId, item.observation);
        return;
      case 'connectionState':
        this.clients.get(item.session)?.deliverConnectionState(item.state);
        return;
      case 'sessionEnd':
        this.clients.get(item.session)?.deliverEnd(item.state);
        this.clients.delete(item.session);
        return;
      case 'replicaFailed':
        this.failed(reviveError(item.error));
        return;
      case 'log':
        this.logger[item.level](item.message);
        return;
    }
  }

  private settle(id: number, value: unknown, error: Error | undefined): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    if (error === undefined) pending.resolve(value);
    else pending.reject(error);
    this.updateReference();
  }

  /** The worker thread ended: expected after `close()`, a crash otherwise. */
  private exited(code: number): void {
    if (this.deliberateExit) {
      this.gone = new ReplicaStoppedError(undefined, 'replica is closed');
      this.rejectAll(this.gone);
      return;
    }
    const cause = this.lastWorkerError;
    const error = new ReplicaWorkerExitedError(
      `the replica worker exited unexpectedly (exit code ${code}` +
        `${cause === undefined ? '' : `: ${cause.message}`}); pending calls failed and this ` +
        `instance's session is lost; restart the instance (it recovers from its data directory)`,
      cause,
    );
    this.gone = error;
    this.logger.error(error.message);
    this.settleOpen?.reject(error);
    this.rejectAll(error);
    for (const client of this.clients.values()) client.deliverEnd('expired');
    this.clients.clear();
    this.failed(error);
  }

  private rejectAll(error: Error): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const { reject } of pending) reject(error);
    this.updateReference();
  }

  private failed(error: Error): void {
    if (this.stateValue === 'failed') return;
    this.stateValue = 'failed';
    this.failure = error;
    for (const listener of this.failureListeners) listener(error);
  }

  /** Keeps the process alive while a reply is awaited, and only then. */
  private updateReference(): void {
    const wanted = this.pending.size > 0 && this.gone === undefined;
    if (wanted === this.referenced) return;
    this.referenced = wanted;
    if (wanted) this.worker.ref();
    else this.worker.unref();
  }
}
