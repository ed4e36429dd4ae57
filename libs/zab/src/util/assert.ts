/**
 * Invariant checks that stay on in production (TigerBeetle style).
 *
 * A broken invariant means the replica's state can no longer be trusted: the driver catches
 * `InvariantViolation` and fail-stops the replica. Never use `assert` for bad client input or
 * environment failures; those get ZooKeeper result codes or typed errors instead.
 */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
}

export function assert(condition: unknown, why: string): asserts condition {
  if (!condition) throw new InvariantViolation(why);
}

/**
 * Throws `InvariantViolation`. For checks on hot paths whose message is a template: write
 * `if (!ok) invariantFailed(message)` so the message is built only when the check fails
 * (`assert(ok, message)` formats a template message, BigInts included, on every call).
 */
export function invariantFailed(why: string): never {
  throw new InvariantViolation(why);
}

/** Exhaustiveness check for discriminated unions: `default: return assertNever(x)`. */
export function assertNever(value: never, what = 'value'): never {
  throw new InvariantViolation(`unexpected ${what}: ${JSON.stringify(value)}`);
}
