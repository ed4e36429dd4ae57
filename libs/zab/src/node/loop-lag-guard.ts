/**
 * Event-loop-lag guard of the ensemble driver. The replica's own periodic timer (its tick)
 * notes when it fires; how much later than its interval it fired is the lag of the loop the
 * replica runs on. A leader whose loop stalled past `stallLimitMs` steps down
 * (`ZabPeer.stepDown`): while stalled it could neither ping its followers nor see its lease
 * run out, so what it believes about its quorum is stale; going back to election is what it
 * would do had it noticed the lost quorum in time.
 *
 * Pure bookkeeping (times are passed in), so the rule is unit-tested without timers.
 */

/** Share of the election timeout (syncLimit ticks) a leader's loop may stall for. */
export const STALL_LIMIT_FRACTION = 0.5;

export class LoopLagGuard {
  private lastFiredMs: number | undefined;
  private maxLagValue = 0;

  /**
   * `intervalMs`: the period of the timer that calls `note`; `stallLimitMs`: lag beyond which
   * the loop counts as stalled (default `STALL_LIMIT_FRACTION` of the election timeout).
   */
  constructor(readonly intervalMs: number, readonly stallLimitMs: number) {
    if (!(intervalMs > 0) || !(stallLimitMs > 0)) {
      throw new RangeError(`LoopLagGuard needs positive times; got ${intervalMs}, ${stallLimitMs}`);
    }
  }

  /** The limit for a tick of `tickMs` and an election timeout of `syncLimitTicks` ticks. */
  static forTiming(tickMs: number, syncLimitTicks: number): LoopLagGuard {
    return new LoopLagGuard(tickMs, STALL_LIMIT_FRACTION * syncLimitTicks * tickMs);
  }

  /**
   * Called when the timer fires, with the monotonic time; returns how late it fired (ms, ≥ 0;
   * 0 on the first call, which has nothing to compare with).
   */
  note(nowMs: number): number {
    const last = this.lastFiredMs;
    this.lastFiredMs = nowMs;
    if (last === undefined) return 0;
    const lagMs = Math.max(0, nowMs - last - this.intervalMs);
    this.maxLagValue = Math.max(this.maxLagValue, lagMs);
    return lagMs;
  }

  /** Whether a lag returned by `note` means the loop stalled past the limit. */
  stalled(lagMs: number): boolean {
    return lagMs > this.stallLimitMs;
  }

  /** The largest lag noted so far (diagnostics). */
  get maxLagMs(): number {
    return this.maxLagValue;
  }
}
