/**
 * A 3-node Apache ZooKeeper 3.8 ensemble on loopback for compatibility tests, from the Debian
 * package (`/usr/share/java/zookeeper.jar`, whose manifest lists its dependency jars).
 *
 * Each server runs `QuorumPeerMain` in its own JVM with a `zoo.cfg` in a temp directory, on
 * ports the OS picked (listen on port 0, read it, close). `start()` waits (bounded) until
 * every server answers `srvr` with a mode (leader or follower), so a quorum is up. `kill(i)`
 * ends one server by its pid (SIGKILL) and `restart(i)` starts it again on the same ports
 * and data; `stop()` kills every server this harness started and removes the directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ZOOKEEPER_CLASSPATH = '/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar';
const QUORUM_PEER_MAIN = 'org.apache.zookeeper.server.quorum.QuorumPeerMain';

export interface ZooKeeperEnsembleOptions {
  /** ZooKeeper's tickTime; sessions negotiate into [2, 20] ticks. Default 200. */
  tickMs?: number;
  /** How long `start()` may take. Default 60000. */
  startTimeoutMs?: number;
  /** ZooKeeper's forceSync (fsync of the txn log before acking). Default false (tests). */
  forceSync?: boolean;
  /**
   * JVM options before the classpath. Default: a small heap, serial GC and C1 only, which
   * start fast for tests; benchmarks pass ZooKeeper's own defaults (full JIT) instead.
   */
  jvmOptions?: readonly string[];
}

const TEST_JVM_OPTIONS = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'];

interface ServerPorts {
  client: number;
  quorum: number;
  election: number;
}

/** Asks the OS for `count` distinct free loopback ports. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<import('node:net').Server>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port assigned');
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** Sends a four-letter word to 127.0.0.1:`port`; resolves to the reply, rejects on error. */
export function fourLetterWord(port: number, word: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`${word} timed out on ${port}`)));
    socket.on('connect', () => socket.end(word));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Every server JVM still running, killed by pid if the test process exits without `stop()`. */
const liveServers = new Set<ChildProcess>();
let exitHookInstalled = false;
function killLiveServersOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of liveServers) child.kill('SIGKILL');
  });
}

/** A thread's state letter from /proc/<pid>/task/<tid>/stat (undefined if it has exited). */
function threadState(statPath: string): string | undefined {
  try {
    const stat = readFileSync(statPath, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

export class ZooKeeperEnsemble {
  private readonly processes: Array<ChildProcess | undefined> = [];
  private readonly logs: string[][] = [];

  private constructor(
    readonly directory: string,
    private readonly ports: ServerPorts[],
    readonly tickMs: number,
    private readonly forceSync: boolean,
    private readonly jvmOptions: readonly string[],
  ) {}

  /** Starts three servers and waits for a quorum (leader plus followers). */
  static async start(options: ZooKeeperEnsembleOptions = {}): Promise<ZooKeeperEnsemble> {
    const tickMs = options.tickMs ?? 200;
    const flat = await freePorts(9);
    const ports = [0, 1, 2].map((i) => ({
      client: flat[3 * i]!,
      quorum: flat[3 * i + 1]!,
      election: flat[3 * i + 2]!,
    }));
    const directory = mkdtempSync(join(tmpdir(), 'zookeeper-ensemble-'));
    const ensemble = new ZooKeeperEnsemble(directory, ports, tickMs, options.forceSync ?? false,
      options.jvmOptions ?? TEST_JVM_OPTIONS);
    try {
      ensemble.writeConfigs();
      for (let i = 0; i < 3; i++) ensemble.spawnServer(i);
      await ensemble.waitForQuorum(options.startTimeoutMs ?? 60_000);
    } catch (error) {
      await ensemble.stop();
      throw error;
    }
    return ensemble;
  }

  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` (plus `chroot` when given). */
  connectString(chroot = ''): string {
    return this.ports.map((p) => `127.0.0.1:${p.client}`).join(',') + chroot;
  }

  clientPort(index: number): number {
    return this.ports[index]!.client;
  }

  /** Index of the server whose client port is `port`, or -1. */
  indexOfClientPort(port: number): number {
    return this.ports.findIndex((p) => p.client === port);
  }

  /** Process ids of the running server JVMs (for CPU accounting; end them only via stop). */
  get pids(): number[] {
    return this.processes.flatMap((child) => (child?.pid === undefined ? [] : [child.pid]));
  }

  /** The running servers' indexes. */
  get running(): number[] {
    return [0, 1, 2].filter((i) => this.processes[i] !== undefined);
  }

  /** The last log lines of server `index` (stdout and stderr), for failure messages. */
  logTail(index: number): string {
    return (this.logs[index] ?? []).slice(-20).join('');
  }

  /**
   * Freezes server `index` (SIGSTOP by pid): it holds its connections but answers nothing.
   * Resolves once every thread of the JVM is stopped (Linux /proc; bounded), so nothing sent
   * afterwards can be processed.
   */
  async pause(index: number, timeoutMs = 5000): Promise<void> {
    const child = this.processes[index];
    if (child?.pid === undefined) return;
    child.kill('SIGSTOP');
    const tasks = `/proc/${child.pid}/task`;
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; attempt < 1000; attempt++) {
      const states = readdirSync(tasks).map((task) => threadState(join(tasks, task, 'stat')));
      if (states.every((state) => state === 'T' || state === 't' || state === undefined)) return;
      if (Date.now() > deadline) break;
      await new Promise<void>((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`server ${index + 1} (pid ${child.pid}) did not stop within ${timeoutMs} ms`);
  }

  /** SIGKILLs server `index` (by pid) and waits until its process has exited. */
  async kill(index: number): Promise<void> {
    const child = this.processes[index];
    if (child === undefined) return;
    this.processes[index] = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts server `index` again (same ports and data) and waits until it serves in the quorum. */
  async restart(index: number, timeoutMs = 30_000): Promise<void> {
    if (this.processes[index] !== undefined) return;
    this.spawnServer(index);
    await this.waitForModes([index], timeoutMs);
  }

  async stop(): Promise<void> {
    for (let i = 0; i < 3; i++) await this.kill(i);
    rmSync(this.directory, { recursive: true, force: true });
  }

  private writeConfigs(): void {
    const servers = this.ports.map(
      (p, i) => `server.${i + 1}=127.0.0.1:${p.quorum}:${p.election}`,
    );
    this.ports.forEach((p, i) => {
      const dataDir = join(this.directory, `server-${i + 1}`);
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(join(dataDir, 'myid'), `${i + 1}\n`);
      const config = [
        `tickTime=${this.tickMs}`,
        'initLimit=50',
        'syncLimit=10',
        `dataDir=${dataDir}`,
        `clientPort=${p.client}`,
        'clientPortAddress=127.0.0.1',
        '4lw.commands.whitelist=*',
        'extendedTypesEnabled=true',
        'admin.enableServer=false',
        'standaloneEnabled=false',
        'reconfigEnabled=false',
        'maxClientCnxns=200',
        `forceSync=${this.forceSync ? 'yes' : 'no'}`,
        ...servers,
      ];
      writeFileSync(join(dataDir, 'zoo.cfg'), `${config.join('\n')}\n`);
    });
  }

  private spawnServer(index: number): void {
    const config = join(this.directory, `server-${index + 1}`, 'zoo.cfg');
    const child = spawn(
      'java',
      [...this.jvmOptions, '-cp', ZOOKEEPER_CLASSPATH,
        '-Dzookeeper.jmx.log4j.disable=true', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', QUORUM_PEER_MAIN, config],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const log: string[] = [];
    this.logs[index] = log;
    const keep = (chunk: Buffer): void => {
      log.push(chunk.toString('utf8'));
      if (log.length > 200) log.splice(0, log.length - 200);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.processes[index] = child;
    liveServers.add(child);
    child.once('exit', () => liveServers.delete(child));
    killLiveServersOnExit();
  }

  private waitForQuorum(timeoutMs: number): Promise<void> {
    return this.waitForModes([0, 1, 2], timeoutMs);
  }

  /** Polls `srvr` on each server (bounded by `timeoutMs`) until it reports a quorum mode. */
  private async waitForModes(indexes: number[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const pending = new Set(indexes);
    for (let attempt = 0; attempt < 10_000 && pending.size > 0; attempt++) {
      for (const index of [...pending]) {
        const reply = await fourLetterWord(this.clientPort(index), 'srvr', 1000).catch(() => '');
        if (/Mode: (leader|follower)/.test(reply)) pending.delete(index);
      }
      if (pending.size === 0) return;
      if (Date.now() > deadline) break;
      await new Promise<void>((resolve) => setTimeout(resolve, 100));
    }
    if (pending.size > 0) {
      const tails = [...pending].map((i) => `server ${i + 1}:\n${this.logTail(i)}`).join('\n');
      throw new Error(`ZooKeeper servers ${[...pending].map((i) => i + 1).join(', ')} did not join a quorum within ${timeoutMs} ms\n${tails}`);
    }
  }
}
