/** Public API of nestjs-zab. */
export * from './state/error-code.js';
export * from './state/keeper-error.js';
export type { Stat, Acl } from './state/stat.js';
export { Perms, OPEN_ACL_UNSAFE } from './state/stat.js';
export type { CreateModeName } from './state/create-mode.js';
