/**
 * Goal: no acknowledged write is lost when the process dies abruptly, with or without a
 * snapshot being written at that moment, and the replica restarts from what is on disk.
 * Method: a child process pipelines durable creates and prints each acknowledgement; the test
 * SIGKILLs it mid-stream (after a number of acks, not after a sleep), reopens the data
 * directory and checks that every acknowledged node is there with its data.
 * (Cutting the log at every byte offset is covered by the storage layer's crash test.)
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Replica } from '../libs/zab/src/node/replica.js';
import { withTimeout } from '../libs/zab/src/testing/with-timeout.js';

const here = dirname(fileURLToPath(import.meta.url));
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function killAfterAcks(
  dataDir: string,
  acksBeforeKill: number,
  snapshotEveryTxns: number,
  prefix: string,
): Promise<Set<string>> {
  const child = spawn(process.execPath, [join(here, 'fixtures', 'crash-writer.js'), dataDir, '50000', String(snapshotEveryTxns), prefix], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acked = new Set<string>();
  let buffered = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith('ack ')) acked.add(line.slice(4));
      if (acked.size >= acksBeforeKill && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    }
  });
  await withTimeout(exited, 60_000, 'the writer to be killed');
  assert.ok(acked.size >= acksBeforeKill, `writer acknowledged only ${acked.size} writes`);
  return acked;
}

for (const [name, snapshotEveryTxns] of [['log only', 1_000_000], ['with snapshots in flight', 700]] as const) {
  test(`SIGKILL mid-stream loses no acknowledged write (${name})`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'zab-crash-'));
    dirs.push(dataDir);
    for (let round = 1; round <= 2; round++) {
      const acked = await killAfterAcks(dataDir, 3000 * round, snapshotEveryTxns, `r${round}`);
      const replica = await Replica.open({ dataDir });
      try {
        const missing = [...acked].filter((path) => replica.tree.stat(path) === undefined);
        assert.deepEqual(missing.slice(0, 5), [], `${missing.length} acknowledged nodes lost`);
        for (const path of [...acked].slice(0, 50)) {
          const i = Number(path.slice(path.lastIndexOf('-') + 1));
          assert.deepEqual(replica.tree.getData(path)!.data, Buffer.alloc(100, i % 256));
        }
      } finally {
        await replica.close();
      }
    }
  });
}
