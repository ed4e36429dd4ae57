/**
 * Test support for the recipe specs: a standalone in-memory `Replica` with several sessions,
 * sessions that expire on demand (non-local sessions kept alive by pings until
 * `letExpire()`), and a probe that counts overlapping critical sections.
 */
import { afterEach } from 'node:test';
import type { ClientReplica } from '../node/client-replica.js';
import { LocalCoordinationClient } from '../node/local-client.js';
import { Replica } from '../node/replica.js';
import { retryingLoss } from './recipe-support.js';

/** Session tick of the test replica: sessions can expire within a few ticks. */
export const TICK_MS = 50;
const PING_MS = TICK_MS;
const EXPIRING_SESSION_MS = 1_000;

/** A session the test can let expire: pinged until `letExpire()`. */
export interface ExpiringClient {
  client: LocalCoordinationClient;
  letExpire(): void;
}

export class RecipeHarness {
  private readonly clients: LocalCoordinationClient[] = [];
  private readonly pingers = new Set<NodeJS.Timeout>();

  private constructor(readonly replica: Replica) {}

  static async open(): Promise<RecipeHarness> {
    return new RecipeHarness(await Replica.open({ dataDir: ':memory:', tickMs: TICK_MS }));
  }

  async client(): Promise<LocalCoordinationClient> {
    const client = await LocalCoordinationClient.connect(this.replica, 10_000);
    this.clients.push(client);
    return client;
  }

  async clientsOf(count: number): Promise<LocalCoordinationClient[]> {
    return Promise.all(Array.from({ length: count }, () => this.client()));
  }

  expiringClient(replica: ClientReplica = this.replica): Promise<ExpiringClient> {
    return connectExpiring(replica, this.clients, this.pingers);
  }

  async close(): Promise<void> {
    for (const pinger of this.pingers) clearInterval(pinger);
    await Promise.allSettled(this.clients.map((client) => client.close()));
    await this.replica.close();
  }
}

/** Opens a non-local session pinged every tick until `letExpire()`. */
export async function connectExpiring(
  replica: ClientReplica,
  clients: LocalCoordinationClient[],
  pingers: Set<NodeJS.Timeout>,
): Promise<ExpiringClient> {
  const client = await LocalCoordinationClient.connect(replica, EXPIRING_SESSION_MS, { local: false });
  clients.push(client);
  const pinger = setInterval(() => client.touch(), PING_MS);
  pingers.add(pinger);
  return {
    client,
    letExpire: () => {
      clearInterval(pinger);
      pingers.delete(pinger);
    },
  };
}

/**
 * Counts critical sections that overlap when they must not: `exclusive` sections admit
 * nobody else, `shared` ones admit other shared ones only.
 */
export class OverlapProbe {
  private shared = 0;
  private exclusive = 0;
  overlaps = 0;
  maxShared = 0;
  entries = 0;

  async section(kind: 'shared' | 'exclusive', body: () => Promise<void>): Promise<void> {
    this.enter(kind);
    try {
      await body();
    } finally {
      if (kind === 'shared') this.shared--;
      else this.exclusive--;
    }
  }

  private enter(kind: 'shared' | 'exclusive'): void {
    this.entries++;
    if (this.exclusive > 0 || (kind === 'exclusive' && this.shared > 0)) this.overlaps++;
    if (kind === 'shared') this.maxShared = Math.max(this.maxShared, ++this.shared);
    else this.exclusive++;
  }
}

/**
 * A few committed writes to `path` (which must exist): a critical section spanning several
 * replica round trips, long enough for an unprotected contender to barge in. A leader change
 * during a write is retried (bounded), as an application would.
 */
export async function roundTrips(client: LocalCoordinationClient, path: string, count = 2): Promise<void> {
  for (let i = 0; i < count; i++) await retryingLoss(client, () => client.setData(path, Buffer.from([i])));
}

/** Resolves once `path` has exactly `count` children (observed, not polled). */
export async function childCount(client: LocalCoordinationClient, path: string, count: number): Promise<void> {
  let reached!: () => void;
  const condition = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const subscribed = client.observe(path, 'children', (observation) => {
    if (observation.kind === 'children' && (observation.value?.children.length ?? 0) === count) reached();
  });
  const unsubscribe = await subscribed;
  try {
    await condition;
  } finally {
    unsubscribe();
  }
}

/**
 * For a spec file: registers an `afterEach` that closes every harness opened during the test,
 * and returns the function that opens one.
 */
export function recipeHarnesses(): () => Promise<RecipeHarness> {
  const opened: RecipeHarness[] = [];
  afterEach(async () => {
    for (const harness of opened.splice(0)) await harness.close();
  });
  return async () => {
    const harness = await RecipeHarness.open();
    opened.push(harness);
    return harness;
  };
}
