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
for (let seed = from; seed < from + count; seed++) {
  const result = runSeed(seed, { verbose: single !== undefined && process.argv.includes('--verbose') });
  if (!result.ok || single !== undefined) console.log(formatResult(result, true));
  if (!result.ok) failures++;
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(`sim: ${count} seeds from ${from}, ${failures} failed, ${seconds.toFixed(1)} s`);
process.exit(failures === 0 ? 0 : 1);
