/**
 * Time as the driver sees it: a monotonic clock for timeouts and leases (never goes back, not
 * affected by wall-clock steps) and the wall clock stamped into transaction headers.
 */
export interface Clock {
  /** Monotonic milliseconds (fractional), for deadlines. */
  monotonicMs(): number;
  /** Wall-clock milliseconds since the Unix epoch, for znode ctime/mtime. */
  wallMs(): bigint;
}

export const systemClock: Clock = {
  monotonicMs: () => performance.now(),
  wallMs: () => BigInt(Date.now()),
};
