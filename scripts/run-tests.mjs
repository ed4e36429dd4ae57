// Runs every compiled test file under build/ with Node's test runner.
// Node 20's `node --test` takes no globs, so the files are listed here:
// unit specs (`*.spec.js` beside their sources) and end-to-end tests (`test/**/*.e2e-spec.js`).
// Extra arguments are substrings that filter the file list (`npm test -- data-tree`).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir, out) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) collect(path, out);
    else if (/\.(e2e-)?spec\.js$/.test(entry.name)) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = collect('build', [])
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error('run-tests: no compiled test files matched under build/');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=120000', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
