/**
 * Reconnect delays: exponential from `reconnectDelayMsMin`, capped at `reconnectDelayMsMax`,
 * with "equal jitter" (a uniform draw in the upper half of the capped delay), so replicas
 * that lost a peer at the same moment do not redial in lockstep, and no delay is shorter
 * than half the nominal one. `random` is injectable (a seeded PRNG in tests): [0, 1).
 */
const EXPONENT_MAX = 30;

export function reconnectDelayMs(
  attempt: number,
  bounds: { reconnectDelayMsMin: number; reconnectDelayMsMax: number },
  random: () => number,
): number {
  const exponent = Math.min(Math.max(attempt, 0), EXPONENT_MAX);
  const nominal = Math.min(bounds.reconnectDelayMsMax, bounds.reconnectDelayMsMin * 2 ** exponent);
  const draw = Math.min(Math.max(random(), 0), 1);
  return Math.round(nominal / 2 + (nominal / 2) * draw);
}
