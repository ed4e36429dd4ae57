// Deterministic simulator entry (issue 3 item 13). Runs seeds against the compiled build:
//   npm run sim                      200 seeds from 1
//   npm run sim -- --seeds 5000      more seeds
//   npm run sim -- --seed 1234       replay one seed, printing its trace on failure
//   npm run sim -- --seed 1234 --verbose   ... with every message and disk effect
//   npm run sim -- --from 1000 --seeds 100
// Needs `npm run build:test` first (the `sim` script does it).
import { runSeed, formatResult } from '../build/libs/zab/src/testing/sim/run-seed.js';

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`sim: --${name} needs a non-negative integer`);
    process.exit(2);
  }
  return value;
}

const single = option('seed', undefined);
const from = single ?? option('from', 1);
const count = single === undefined ? option('seeds', 200) : 1;
const started = process.hrtime.bigint();
let failures = 0;
const totals = { committed: 0, diff: 0, trunc: 0, snap: 0, syncs: 0, elections: 0 };
for (let seed = from; seed < from + count; seed++) {
  const verbose = single !== undefined && process.argv.includes('--verbose');
  const result = runSeed(seed, { verbose });
  if (!result.ok || single !== undefined) console.log(formatResult(result, true));
  if (!result.ok) failures++;
  totals.committed += result.committed;
  for (const key of ['diff', 'trunc', 'snap', 'syncs', 'elections']) {
    totals[key] += result.stats[key];
  }
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(`sim: ${count} seeds from ${from}, ${failures} failed, ${seconds.toFixed(1)} s`);
console.log(`sim: exercised ${JSON.stringify(totals)}`);
process.exit(failures === 0 ? 0 : 1);
