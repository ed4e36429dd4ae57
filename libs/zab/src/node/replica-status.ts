/**
 * A read-only picture of a replica for operators: what ZooKeeper's `srvr` and `mntr` report.
 * Built on demand by `Replica.status()` from counters the driver keeps; reading it never
 * changes the replica. Numbers are plain numbers (counts, milliseconds); the zxid is a bigint.
 */
import type { Zxid } from '../core/ids.js';
import type { ReplicaRole } from './ensemble-config.js';

/**
 * ZooKeeper's server states. Only `standalone` occurs today; `leader`, `follower`, `observer`
 * and `looking` belong to the ensemble (issue 3).
 */
export type ServerMode = 'standalone' | 'leader' | 'follower' | 'observer' | 'looking';

/** Write latency from submit to reply (durable and applied), milliseconds. */
export interface LatencySummary {
  minMs: number;
  avgMs: number;
  maxMs: number;
  /** Writes measured. */
  count: number;
}

export interface ReplicaStatus {
  /** Package version of nestjs-zab. */
  version: string;
  serverId: number;
  role: ReplicaRole;
  mode: ServerMode;
  /** Driver state: `serving`, `closing`, `closed` or `failed` (stopped accepting writes). */
  state: 'serving' | 'closing' | 'closed' | 'failed';
  /** Why the replica failed, when it did. */
  failure: string | undefined;
  /**
   * In a working quorum: a standalone replica that serves, an established leader, or a
   * learner up to date with an established leader. Readiness checks use it.
   */
  established: boolean;
  /** The server id of the leader this replica follows or is; undefined while looking. */
  leaderId: number | undefined;
  /**
   * Transactions logged here but not yet applied (a learner waiting for their commit): how far
   * reads here trail the writes this replica already holds.
   */
  commitLagTxns: number;
  /** The epoch this replica proposes in (ZooKeeper's currentEpoch). */
  epoch: number;
  lastZxid: Zxid;
  /** The tree's incremental digest: equal on replicas that applied the same transactions. */
  digest: bigint;
  znodeCount: number;
  /** Sessions known to the replicated state (ZooKeeper's `global_sessions`). */
  sessionCount: number;
  watchCount: number;
  ephemeralsCount: number;
  /** Writes submitted and not yet answered. */
  outstandingRequests: number;
  /** Transactions proposed (prepared and appended to the log) since start. */
  proposalCount: number;
  /** Transactions committed and applied since start. */
  commitCount: number;
  snapshotsTaken: number;
  latency: LatencySummary;
  /** Followers connected / synced; 0 for a standalone replica. */
  followers: number;
  syncedFollowers: number;
  /** sync() requests the leader holds until a quorum confirms them; 0 elsewhere. */
  pendingSyncs: number;
  /** Members of the ensemble; 1 for a standalone replica. */
  ensembleSize: number;
  uptimeMs: number;
}

/** Version reported as `version`; a test keeps it equal to package.json's. */
export const ZAB_VERSION = '0.1.0';

/** ZooKeeper prints zxids as `0x` + hex. */
export function zxidHex(zxid: Zxid): string {
  return '0x' + zxid.toString(16);
}

/**
 * Running min/avg/max of write latencies (ZooKeeper's `srvr` Latency min/avg/max). Adding is
 * a few arithmetic operations, cheap enough for the write path.
 */
export class LatencyCounter {
  private minMs = Number.POSITIVE_INFINITY;
  private maxMs = 0;
  private totalMs = 0;
  private count = 0;

  add(ms: number): void {
    if (ms < this.minMs) this.minMs = ms;
    if (ms > this.maxMs) this.maxMs = ms;
    this.totalMs += ms;
    this.count += 1;
  }

  summary(): LatencySummary {
    if (this.count === 0) return { minMs: 0, avgMs: 0, maxMs: 0, count: 0 };
    const round = (ms: number): number => Math.round(ms * 1000) / 1000;
    return {
      minMs: round(this.minMs),
      avgMs: round(this.totalMs / this.count),
      maxMs: round(this.maxMs),
      count: this.count,
    };
  }
}
