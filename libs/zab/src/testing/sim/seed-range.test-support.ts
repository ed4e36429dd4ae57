/**
 * Runs a range of simulator seeds for a spec and reports every failure with its replay command.
 */
import assert from 'node:assert/strict';
import { formatResult, runSeed } from './run-seed.js';

export function assertSeedsPass(from: number, count: number): void {
  const failures: string[] = [];
  for (let seed = from; seed < from + count; seed++) {
    const result = runSeed(seed);
    if (!result.ok) failures.push(formatResult(result, false));
  }
  assert.deepEqual(failures, [], failures.join('\n'));
}
