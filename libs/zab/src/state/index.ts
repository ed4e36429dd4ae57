/**
 * The replicated state machine's public surface (barrel). Files of other owners
 * (request-preparer, session-tracker, watch-registry) are added here when they merge.
 */
export * from './create-mode.js';
export * from './error-code.js';
export * from './keeper-error.js';
export * from './path.js';
export type * from './request.js';
export * from './stat.js';
export type * from './tree-view.js';
export type * from './txn.js';
export * from './watch-event.js';
export * from './acl-cache.js';
export * from './slab-arena.js';
export * from './snapshot-error.js';
export * from './data-tree.js';
export * from './txn-codec.js';
