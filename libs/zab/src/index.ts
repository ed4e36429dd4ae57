/**
 * Public API of nestjs-zab.
 *
 * Nest: `ZabModule`, `CoordinationService`, `@LeaderOnly`, `@WithLock`, `@Fence`,
 * `LeaderOnlyGuard`. Recipes: `Mutex`, `LeaderElection`. Library: the embedded `Replica`, its worker-thread
 * host (`WorkerReplicaHandle`), the coordination client interface with its in-process and
 * worker-backed implementations, typed errors with ZooKeeper's codes.
 */
export { ZabModule } from './nest/zab.module.js';
export { ZAB_MODULE_OPTIONS } from './nest/zab.module-definition.js';
export { ZAB_CLIENT, ZAB_REPLICA } from './nest/zab.constants.js';
export { ZabAdminEndpoint } from './nest/zab-admin.endpoint.js';
export { ZabClientPortEndpoint } from './nest/zab-client-port.endpoint.js';
export { ZabFeatureModule } from './nest/zab.module.js';
export {
  LiveConfig,
  defineLiveConfig,
  InjectLiveConfig,
  bridgeToConfigService,
  type LiveConfigDefinition,
  type ConfigSchema,
} from './nest/live-config.js';
export { treeCache$, members$, counter$ } from './nest/recipe-observables.js';
export type { ZabModuleOptions } from './nest/zab-module-options.interface.js';
export {
  CoordinationService,
  type ZnodeData,
  type ZnodeCreateOptions,
  type CoordinationOp,
  type ConfigOptions,
} from './nest/coordination.service.js';
export { LeaderOnly, type LeaderOnlyOptions } from './nest/leader-only.decorator.js';
export { WithLock, Fence, type WithLockOptions, type LockKeySpec } from './nest/with-lock.decorator.js';
export { LeaderOnlyGuard } from './nest/leader-only.guard.js';
export { CoordinationExplorer } from './nest/coordination.explorer.js';
export { ZabElections } from './nest/zab-elections.service.js';
export { ZabLocks } from './nest/zab-locks.service.js';
export {
  currentLock,
  currentLeadership,
  type LockContext,
  type LeadershipContext,
} from './nest/coordination-context.js';
export {
  Mutex,
  LOCKS_ROOT,
  type MutexOptions,
  type AcquireOptions,
  type LockLease,
} from './recipes/mutex.js';
export {
  LeaderElection,
  LEADER_ROOT,
  type LeaderElectionOptions,
  type LeadershipListener,
} from './recipes/leader-election.js';
export {
  LockTimeoutError,
  LockLostError,
  NotLeaderError,
  type LockLossReason,
  type SuspendedPolicy,
} from './recipes/lock-errors.js';

export {
  Replica,
  type ReplicaLogger,
  type ReplicaPorts,
  type ReplicaState,
} from './node/replica.js';
export {
  type ReplicaOptions,
  type ReplicaOptionsInput,
  type ReplicaIsolation,
  type EnsembleState,
  REPLICA_DEFAULTS,
  ReplicaConfigurationError,
  resolveReplicaOptions,
  replicaOptionWarnings,
} from './node/replica-options.js';
export {
  parseEnsemble,
  formatEnsemble,
  quorumSize,
  type EnsembleMember,
  type EnsembleMemberSpec,
  type EnsembleSpec,
  type ReplicaRole,
} from './node/ensemble-config.js';
export {
  type ReplicaStatus,
  type ServerMode,
  type LatencySummary,
  ZAB_VERSION,
} from './node/replica-status.js';
export { AdminServer, adminResponse, type AdminServerOptions } from './node/admin-server.js';
export {
  ClientPortServer,
  startClientPort,
  type ClientPortServerOptions,
} from './node/client-port-server.js';
export {
  FOUR_LETTER_WORDS,
  FOUR_LETTER_WORDS_DEFAULT,
  type FourLetterWord,
} from './node/client-four-letter-words.js';
export {
  parseReplicaCommandLine,
  REPLICA_USAGE,
  type ReplicaCommandLine,
} from './node/replica-command-line.js';
export { ReplicaStoppedError, RecoveryError } from './node/replica-errors.js';
export { LocalCoordinationClient } from './node/local-client.js';
export type { ClientReplica } from './node/client-replica.js';
export {
  EnsembleReplica,
  type EnsembleReplicaPorts,
  type EnsembleReplicaState,
  type EnsembleReplicaStats,
} from './node/ensemble-replica.js';
export { WorkerReplicaHandle, type WorkerTraffic } from './node/worker-host.js';
export { WorkerCoordinationClient } from './node/worker-client.js';
export {
  RemoteCoordinationClient,
  type RemoteClientOptions,
  type AuthInfo,
} from './node/remote-client.js';
export {
  parseConnectString,
  ConnectStringError,
  type ConnectString,
  type ServerAddress,
} from './node/connect-string.js';
export {
  resolveZabOptions,
  type ConnectOptions,
  type ConnectOptionsInput,
  type ResolvedZabOptions,
  type ZabOptionsInput,
} from './node/connect-options.js';
export { ReplicaWorkerExitedError, type RecordedEvent } from './node/worker-protocol.js';
export {
  MultiError,
  type CoordinationClient,
  type CreateOptions,
  type MultiOp,
  type WatchListener,
  type Observation,
  type ObserveKind,
  type SessionState,
  type ConnectionState,
} from './node/coordination-client.js';

export * from './state/error-code.js';
export * from './state/keeper-error.js';
export type { Stat, Acl } from './state/stat.js';
export { Perms, OPEN_ACL_UNSAFE } from './state/stat.js';
export { isPermitted, fixupAcl, redactDigests, SUPER_ID, type AuthId } from './state/acl.js';
export { generateDigest, SessionAuth, SESSION_IDENTITIES_MAX } from './node/session-auth.js';
export type { CreateModeName } from './state/create-mode.js';
export type { WatchEvent, WatchEventType } from './state/watch-event.js';
export type { OpResult } from './state/tree-view.js';
export { StorageFailedError, StorageCorruptionError } from './storage/storage-errors.js';
export type { Zxid, SessionId } from './core/ids.js';

export {
  EventLog,
  type EventLogOptions,
  type LoggedEvent,
  type ConsumeOptions,
  type EventConsumer,
} from './recipes/event-log.js';
export {
  RequestQueue,
  RequestTimeoutError,
  type RequestQueueOptions,
  type RequestServer,
} from './recipes/request-queue.js';
// Coordination recipes (Curator counterparts), written against CoordinationClient only.
export {
  RecipeTimeoutError,
  RecipeStateError,
  CasRetriesExhaustedError,
} from './recipes/recipe-errors.js';
export type { WaitOptions } from './recipes/recipe-support.js';
export type { Lease } from './recipes/lease.js';
export {
  ReadWriteLock,
  type ReadWriteLockOptions,
  type LockSide,
  type LockKind,
  type LockParticipant,
} from './recipes/read-write-lock.js';
export { Semaphore, type SemaphoreOptions } from './recipes/semaphore.js';
export { Barrier } from './recipes/barrier.js';
export { DoubleBarrier, type DoubleBarrierOptions } from './recipes/double-barrier.js';
export {
  SharedCounter,
  type SharedCounterOptions,
  type VersionedValue,
  type CasResult,
} from './recipes/shared-counter.js';
export {
  DistributedQueue,
  type DistributedQueueOptions,
  type QueueItem,
} from './recipes/distributed-queue.js';
export { GroupMember, type GroupMemberOptions, type MemberMap } from './recipes/group-member.js';
export {
  TreeCache,
  type TreeCacheOptions,
  type TreeCacheEvent,
  type CachedNode,
} from './recipes/tree-cache.js';
