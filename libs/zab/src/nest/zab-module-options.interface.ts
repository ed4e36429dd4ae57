import type { ZabOptionsInput } from '../node/connect-options.js';

/**
 * Options of `ZabModule.forRoot()` / `forRootAsync()`. Every field is optional; with none the
 * module runs a durable single-replica ensemble in `./.zab/1` (see README, Configuration).
 * With `connect` it runs no replica and is a client of that ensemble (nestjs-zab replicas or
 * Apache ZooKeeper); then only `sessionTimeoutMs`, `auth` and `connectTimeoutMs` go with it.
 */
export type ZabModuleOptions = ZabOptionsInput;

/** Module-level extras (not replica options). */
export interface ZabModuleExtras {
  /** Register the module globally (default true), so feature modules need not import it. */
  isGlobal: boolean;
}
