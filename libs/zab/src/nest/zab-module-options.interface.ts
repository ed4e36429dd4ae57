import type { ReplicaOptionsInput } from '../node/replica-options.js';

/**
 * Options of `ZabModule.forRoot()` / `forRootAsync()`. Every field is optional; with none the
 * module runs a durable single-replica ensemble in `./.zab/1` (see README, Configuration).
 */
export type ZabModuleOptions = ReplicaOptionsInput;

/** Module-level extras (not replica options). */
export interface ZabModuleExtras {
  /** Register the module globally (default true), so feature modules need not import it. */
  isGlobal: boolean;
}
