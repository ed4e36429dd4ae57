/**
 * Test support for the compatibility tests: runs a foreign program (python3, java) to its end
 * with a bounded time, collecting stdout and stderr; a run still alive when `killAll` is
 * called (the spec's `after` hook) is killed by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { withTimeout } from '../../libs/zab/src/testing/with-timeout.js';

export interface ProgramRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class ForeignPrograms {
  private readonly running = new Set<ChildProcess>();

  /** Starts `command args`; `onLine` sees each stdout line as it arrives (for handshakes). */
  start(command: string, args: string[], onLine?: (line: string, child: ChildProcess) => void): {
    child: ChildProcess;
    finished: Promise<ProgramRun>;
  } {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.running.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let pending = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out.push(chunk);
      if (onLine === undefined) return;
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) onLine(line, child);
    });
    child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
    const finished = new Promise<ProgramRun>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        this.running.delete(child);
        resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
      });
    });
    return { child, finished };
  }

  /** Runs `command args` to its end within `timeoutMs`; rejects on timeout or a non-zero exit. */
  async run(command: string, args: string[], timeoutMs: number, onLine?: (line: string, child: ChildProcess) => void): Promise<ProgramRun> {
    const { finished } = this.start(command, args, onLine);
    const run = await withTimeout(finished, timeoutMs, `${command} ${args.join(' ')}`);
    if (run.code !== 0) {
      throw new Error(`${command} exited with ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
    }
    return run;
  }

  /** The last stdout line parsed as JSON (the programs print their result last). */
  static lastJson<T>(run: ProgramRun): T {
    const lines = run.stdout.trim().split('\n');
    return JSON.parse(lines[lines.length - 1]!) as T;
  }

  killAll(): void {
    for (const child of this.running) if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    this.running.clear();
  }
}

/**
 * Replica timing for the compatibility files. They run three replicas in one Node process
 * next to JVM and Python launches on a shared CI machine; with the default `zabTickMs` (50 ms:
 * a 250 ms election timeout, a leader stepping down after a 125 ms loop stall) a second of CPU
 * starvation (measured on a 2-core machine under load) reads as a dead leader, the ensemble
 * re-elects and a batch-mode zkCli, which does not retry, reports ConnectionLoss. A 200 ms tick
 * (10 ticks: 2 s election timeout, 1 s stall limit) keeps that out of tests that are about client
 * compatibility, not failover speed (the Curator failover closes a follower: no election).
 */
export const SHARED_MACHINE_TIMING = { zabTickMs: 200 } as const;
