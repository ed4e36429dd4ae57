/** Metadata keys of the coordination decorators (strings, as @nestjs/schedule's are). */
export const LEADER_ONLY_METADATA = 'zab:leader-only';
export const WITH_LOCK_METADATA = 'zab:with-lock';
export const FENCE_PARAM_METADATA = 'zab:fence-param';
