/**
 * The benchmarks' load shape: `inFlight` concurrent loops issue `operation` until
 * `durationMs` passes or `countMax` operations were issued (bounded in both), recording each
 * operation's latency.
 */
export interface LoopResult {
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  count: number;
}

export function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

export async function closedLoop(
  operation: (i: number) => Promise<unknown>,
  durationMs: number,
  countMax: number,
  inFlight = 256,
): Promise<LoopResult> {
  const latencies = new Float64Array(countMax);
  let issued = 0;
  let completed = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const loop = async (): Promise<void> => {
    while (issued < countMax && performance.now() < deadline) {
      const i = issued++;
      const t0 = performance.now();
      await operation(i);
      latencies[completed++] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  const elapsedMs = performance.now() - started;
  const sorted = latencies.subarray(0, completed).sort();
  return {
    opsPerSecond: (completed / elapsedMs) * 1000,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    count: completed,
  };
}
