/**
 * `nestjs-zab/microservices`: the `@nestjs/microservices` transport over the ensemble. A
 * separate entry point so that apps without `@nestjs/microservices` (an optional peer
 * dependency) never load it.
 */
export {
  ZabTransportStrategy,
  ZabContext,
  type ZabTarget,
  type ZabTransportOptions,
  type LeadershipWatcher,
  type ZabResponse,
} from './nest/zab-transport.strategy.js';
export { ZabClientProxy, type ZabClientProxyOptions } from './nest/zab.client-proxy.js';
