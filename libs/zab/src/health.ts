/**
 * `nestjs-zab/health`: the `@nestjs/terminus` readiness indicator. A separate entry point so
 * that apps without `@nestjs/terminus` (an optional peer dependency) never load it.
 */
export { ZabHealthIndicator } from './nest/zab.health-indicator.js';
