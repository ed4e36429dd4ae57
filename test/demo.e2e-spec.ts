/**
 * Goal: `npm run demo` keeps telling the truth: the three-instance demo runs to the end and
 * shows what it claims — one instance runs the leader-only cron job (each fire once), fencing tokens increase in
 * grant order, every instance sees the config change, three members, one total order of
 * events on every instance, and after kill -9 of the job's instance the job moves, the lock
 * goes on with larger tokens and the survivors keep one order.
 * Method: the compiled demo (build/apps/demo, `nestjs-zab` resolved to the library source by
 * the source-package hook, which its forked instances inherit) as a child process with its data
 * in a temp dir; its output is parsed. Bounded by a timeout; the child is killed by pid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const HOOK = join(here, 'fixtures', 'source-package.js');
const MAIN = join(here, '..', 'apps', 'demo', 'src', 'main.js');

function runDemo(dataDir: string, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', HOOK, MAIN], {
      env: { ...process.env, ZAB_DEMO_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const timer = setTimeout(() => {
      process.kill(child.pid!, 'SIGKILL');
      reject(new Error(`the demo did not finish within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('the three-instance demo runs to the end and shows what it claims', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'zab-demo-'));
  try {
    const { code, output } = await runDemo(dataDir, 110_000);
    assert.equal(code, 0, output);
    assert.match(output, /ran on: instance \d \(\d+×\) — one leader/, output);
    const tokens = /strictly increasing in grant order: (.*)/.exec(output)![1]!.split(' < ').map((t) => BigInt(t.split('@')[0]!));
    assert.equal(tokens.length, 9);
    for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!, output);
    assert.equal(output.match(/greeting = "bonjour"/g)?.length, 3, output);
    assert.match(output, /sees members: instance-1, instance-2, instance-3/);
    assert.match(output, /the same total order everywhere: yes/);
    assert.match(output, /the job moved to instance \d/);
    assert.match(output, /no fire ran twice: yes/);
    const after = /the lock goes on: (.*) \(all above \d+\)/.exec(output)![1]!.split(' < ').map((t) => BigInt(t.split('@')[0]!));
    assert.equal(after.length, 4);
    for (const token of after) assert.ok(token > tokens.at(-1)!, 'tokens after the kill are above every earlier one');
    assert.match(output, /the same total order on the survivors: yes/);
    assert.match(output, /Done in/);
    assert.doesNotMatch(output, /ERROR/, 'no error logged by any instance');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
