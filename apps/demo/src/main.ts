import { fork, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InstanceReport, InstanceSettings } from './instance/instance.settings.js';

/**
 * `npm run demo`: three local instances of one Nest app form their own ensemble (no ZooKeeper,
 * no Redis), then the tour shows a leader-only job, a locked endpoint with fencing tokens, a
 * live config change reaching every instance, membership and totally ordered events; then it
 * kills the instance running the job with SIGKILL and shows the job, the lock and the events
 * moving on. Data in ./.zab/demo/{1,2,3} (removed at start). Every wait is bounded.
 */
const INSTANCE_SCRIPT = fileURLToPath(new URL('./instance/instance.main.js', import.meta.url));
const DATA_ROOT = process.env.ZAB_DEMO_DATA_DIR ?? './.zab/demo';
const started = Date.now();
const say = (line = ''): void => { process.stdout.write(`${line}\n`); };
const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1)}s`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

class Instance {
  readonly reports: InstanceReport[] = [];
  private readonly waiters = new Set<() => void>();
  constructor(readonly settings: InstanceSettings, readonly child: ChildProcess) {
    child.on('message', (message: InstanceReport) => {
      this.reports.push(message);
      for (const wake of [...this.waiters]) wake();
    });
  }

  get id(): number { return this.settings.id; }
  get alive(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }

  /** Resolves with the first report (from now on, or already received when `past`) that matches. */
  waitFor<T extends InstanceReport>(match: (r: InstanceReport) => r is T, timeoutMs: number, what: string, past = true): Promise<T> {
    const from = past ? 0 : this.reports.length;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.reports.slice(from).find(match);
        if (found === undefined) return;
        cleanup();
        resolve(found);
      };
      const timer = setTimeout(() => { cleanup(); reject(new Error(`instance ${this.id}: no ${what} within ${timeoutMs} ms`)); }, timeoutMs);
      const cleanup = (): void => { clearTimeout(timer); this.waiters.delete(check); };
      this.waiters.add(check);
      check();
    });
  }

  async http<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const response = await fetch(`http://127.0.0.1:${this.settings.httpPort}${path}`, {
      method, headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    if (!response.ok) throw new Error(`instance ${this.id}: ${method} ${path} → HTTP ${response.status}`);
    return (await response.json()) as T;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.alive) process.kill(this.child.pid!, signal);
  }
}

const isJob = (r: InstanceReport): r is Extract<InstanceReport, { type: 'job' }> => r.type === 'job';

async function startInstances(): Promise<Instance[]> {
  // A fresh ensemble each run: only the three member directories are removed.
  for (const id of [1, 2, 3]) rmSync(join(DATA_ROOT, String(id)), { recursive: true, force: true });
  const peerPorts = [await freePort(), await freePort(), await freePort()];
  const ensemble = peerPorts.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
  const instances: Instance[] = [];
  for (const id of [1, 2, 3]) {
    const settings: InstanceSettings = { id, ensemble, dataDir: join(DATA_ROOT, String(id)), httpPort: await freePort() };
    instances.push(new Instance(settings, fork(INSTANCE_SCRIPT, [JSON.stringify(settings)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })));
  }
  await Promise.all(instances.map((i) => i.waitFor((r): r is Extract<InstanceReport, { type: 'ready' }> => r.type === 'ready', 30_000, 'start')));
  return instances;
}

/** Which instances ran the leader-only job during the next `ms` milliseconds. */
async function jobRunners(instances: Instance[], ms: number): Promise<Map<number, number>> {
  const before = instances.map((i) => i.reports.length);
  await new Promise((resolve) => setTimeout(resolve, ms));
  const runs = new Map<number, number>();
  instances.forEach((instance, k) => {
    const count = instance.reports.slice(before[k]).filter(isJob).length;
    if (count > 0) runs.set(instance.id, count);
  });
  return runs;
}

/** Every fire (HH:MM:SS) any instance ran, in order. */
function fireTimes(instances: Instance[]): string[] {
  return instances.flatMap((i) => i.reports.filter(isJob).map((r) => r.fire)).sort((a, b) => a - b)
    .map((t) => new Date(t).toISOString().slice(11, 19));
}

async function lockRound(instances: Instance[], account: string, perInstance: number): Promise<{ instance: number; token: string }[]> {
  const calls = instances.flatMap((instance) => Array.from({ length: perInstance },
    () => instance.http<{ instance: number; token: string }>('POST', `/pay/${account}`)));
  const results = await Promise.all(calls);
  return results.sort((a, b) => (BigInt(a.token) < BigInt(b.token) ? -1 : 1));
}

async function orderedEvents(instances: Instance[], round: number): Promise<string[][]> {
  const marks = instances.map((i) => i.reports.length);
  const sent = await Promise.all(instances.flatMap((instance) =>
    [0, 1].map((k) => instance.http<{ sequence: number }>('POST', '/emit', { n: round * 10 + k }))));
  const expected = sent.length;
  const seen = await Promise.all(instances.map(async (instance, k) => {
    const events = (): string[] => instance.reports.slice(marks[k]).flatMap((r) => (r.type === 'event' ? [r.event] : []));
    await instance.waitFor((r): r is InstanceReport => events().length >= expected && r !== undefined, 15_000, `${expected} events`, false)
      .catch(() => undefined);
    return events();
  }));
  return seen;
}

async function main(): Promise<void> {
  say('\nnestjs-zab demo: three instances of one Nest app form their own ensemble (Zab, no external server)\n');
  const instances = await startInstances();
  try {
    say(`[${elapsed()}] 3 instances up (HTTP ports ${instances.map((i) => i.settings.httpPort).join(', ')}); data in ${DATA_ROOT}`);

    say('\n1. A leader-only cron job: every instance schedules @Cron(\'* * * * * *\') + @LeaderOnly(\'reports\', { oncePerFire: true })');
    const runners = await jobRunners(instances, 3_200);
    say(`   ran on: ${[...runners].map(([id, n]) => `instance ${id} (${n}×)`).join(', ') || 'nobody yet'} — one leader, the others skip`);
    say(`   fires: ${fireTimes(instances).slice(-3).join(', ')} (each scheduled second once)`);

    say('\n2. A locked endpoint: 3 concurrent POST /pay/acme on each instance, @WithLock(\'account-acme\')');
    const holders = await lockRound(instances, 'acme', 3);
    say(`   fencing tokens, strictly increasing in grant order: ${holders.map((h) => `${h.token}@${h.instance}`).join(' < ')}`);

    say('\n3. Live config: instance 1 sets /demo/config/greeting; every instance gets the new value');
    const configSeen = instances.map((i) => i.waitFor((r): r is Extract<InstanceReport, { type: 'config' }> =>
      r.type === 'config' && r.text === 'bonjour', 10_000, 'the new greeting'));
    await instances[0]!.http('POST', '/config', { text: 'bonjour' });
    for (const seen of await Promise.all(configSeen)) say(`   instance ${seen.id}: greeting = "${seen.text}"`);

    say('\n4. Membership: each instance registered an ephemeral member node');
    say(`   instance 2 sees members: ${(await instances[1]!.http<string[]>('GET', '/members')).join(', ')}`);

    say('\n5. Ordered events: each instance emits 2 events at once (ClientProxy.emit over the ensemble)');
    const orders = await orderedEvents(instances, 1);
    orders.forEach((order, k) => say(`   instance ${instances[k]!.id} handled: ${order.join(' ')}`));
    say(`   the same total order everywhere: ${orders.every((o) => o.join() === orders[0]!.join()) ? 'yes' : 'NO'}`);

    const leaderId = [...runners.keys()][0] ?? 1;
    const victim = instances.find((i) => i.id === leaderId)!;
    const survivors = instances.filter((i) => i !== victim);
    say(`\n6. kill -9 of instance ${victim.id} (it runs the job) at ${elapsed()}`);
    victim.kill('SIGKILL');
    const takeover = await Promise.race(survivors.map((s) => s.waitFor(isJob, 20_000, 'the job after the kill', false)));
    say(`   [${elapsed()}] the job moved to instance ${takeover.id} (after the dead instance's session expired), fire ${new Date(takeover.fire).toISOString().slice(11, 19)}`);
    const allFires = fireTimes(instances);
    say(`   no fire ran twice: ${new Set(allFires).size === allFires.length ? 'yes' : 'NO'}`);
    const after = await lockRound(survivors, 'acme', 2);
    say(`   the lock goes on: ${after.map((h) => `${h.token}@${h.instance}`).join(' < ')} (all above ${holders.at(-1)!.token})`);
    const orders2 = await orderedEvents(survivors, 2);
    orders2.forEach((order, k) => say(`   instance ${survivors[k]!.id} handled: ${order.join(' ')}`));
    say(`   the same total order on the survivors: ${orders2.every((o) => o.join() === orders2[0]!.join()) ? 'yes' : 'NO'}`);
  } finally {
    for (const instance of instances) instance.kill('SIGTERM');
    await Promise.all(instances.map((i) => new Promise<void>((resolve) => {
      if (!i.alive) return resolve();
      const timer = setTimeout(() => { i.kill('SIGKILL'); resolve(); }, 10_000);
      i.child.once('exit', () => { clearTimeout(timer); resolve(); });
    })));
  }
  say(`\nDone in ${elapsed()}.`);
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
