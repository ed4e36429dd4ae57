/**
 * ZooKeeper's four-letter words on the client port (`echo srvr | nc host 2181`): the client
 * sends four ASCII bytes instead of a frame, the server writes plain text and closes. Output
 * formats follow ZooKeeper 3.8's commands (StatCommand, MonitorCommand, ConsCommand,
 * WatchCommand, ConfCommand, EnvCommand, IsReadOnlyCommand, RuokCommand) line for line, so
 * monitoring that parses `Mode:`, `Zxid:` or `zk_*` keeps working. Only allow-listed words run
 * (option `fourLetterWords`, default `['srvr']` like ZooKeeper's `4lw.commands.whitelist`);
 * others get ZooKeeper's refusal line. Pure text building: the server gathers the inputs.
 */
import { hostname, type as osType, arch, release, userInfo } from 'node:os';
import type { ReplicaStatus } from './replica-status.js';
import { zxidHex } from './replica-status.js';
import type { WatchSummary } from '../state/watch-registry.js';

export const FOUR_LETTER_WORDS = ['ruok', 'srvr', 'stat', 'mntr', 'cons', 'wchs', 'conf', 'envi', 'isro'] as const;
export type FourLetterWord = (typeof FOUR_LETTER_WORDS)[number];

export const FOUR_LETTER_WORDS_DEFAULT: readonly FourLetterWord[] = Object.freeze(['srvr']);

/** The word whose four bytes start `head`, or undefined (then it is a frame length). */
export function fourLetterWordOf(head: Buffer): FourLetterWord | undefined {
  if (head.length < 4) return undefined;
  const word = head.toString('latin1', 0, 4);
  return (FOUR_LETTER_WORDS as readonly string[]).includes(word) ? (word as FourLetterWord) : undefined;
}

/** One connection as `cons` and `stat` list it. */
export interface ConnectionSummary {
  remote: string;
  queued: number;
  received: number;
  sent: number;
  sessionId: bigint;
  lastOperation: string;
  establishedMs: number;
  timeoutMs: number;
  lastCxid: number;
  lastZxid: bigint;
}

/** Everything the words report, gathered by the server at the time of the request. */
export interface FourLetterInputs {
  status: ReplicaStatus;
  connections: ConnectionSummary[];
  packetsReceived: number;
  packetsSent: number;
  watches: WatchSummary;
  config: Record<string, string | number>;
}

/** The text ZooKeeper would write for `word`. */
export function fourLetterWordOutput(word: FourLetterWord, inputs: FourLetterInputs): string {
  switch (word) {
    case 'ruok': return 'imok';
    case 'isro': return 'rw';
    case 'srvr': return serverStats(inputs, false);
    case 'stat': return serverStats(inputs, true);
    case 'mntr': return monitor(inputs);
    case 'cons': return inputs.connections.map((c) => ` ${connectionLine(c, true)}\n`).join('') + '\n';
    case 'wchs': return watchSummary(inputs.watches);
    case 'conf': return Object.entries(inputs.config).map(([k, v]) => `${k}=${v}\n`).join('');
    case 'envi': return environment(inputs.status);
  }
}

/** ZooKeeper's answer to a word that is not allow-listed. */
export function notAllowedOutput(word: string): string {
  return `${word} is not executed because it is not in the whitelist.\n`;
}

export function zookeeperVersion(status: ReplicaStatus): string {
  return `3.8.0-nestjs-zab-${status.version}, built on nestjs-zab`;
}

function connectionLine(c: ConnectionSummary, detailed: boolean): string {
  const base = `/${c.remote}[1](queued=${c.queued},recved=${c.received},sent=${c.sent}`;
  if (!detailed) return `${base})`;
  return `${base},sid=0x${c.sessionId.toString(16)},lop=${c.lastOperation},est=${c.establishedMs},` +
    `to=${c.timeoutMs},lcxid=0x${(c.lastCxid >>> 0).toString(16)},lzxid=0x${BigInt.asUintN(64, c.lastZxid).toString(16)},` +
    `lresp=${c.establishedMs},llat=0,minlat=0,avglat=0,maxlat=0)`;
}

/** ZooKeeper prints whole milliseconds for min and max, a decimal average. */
function latency(s: ReplicaStatus): string {
  const { minMs, avgMs, maxMs } = s.latency;
  return `${Math.round(minMs)}/${Number(avgMs.toFixed(4))}/${Math.round(maxMs)}`;
}

function serverStats(inputs: FourLetterInputs, withClients: boolean): string {
  const s = inputs.status;
  const lines = [`Zookeeper version: ${zookeeperVersion(s)}`];
  if (withClients) {
    lines.push('Clients:', ...inputs.connections.map((c) => ` ${connectionLine(c, false)}`), '');
  }
  lines.push(
    `Latency min/avg/max: ${latency(s)}`,
    `Received: ${inputs.packetsReceived}`,
    `Sent: ${inputs.packetsSent}`,
    `Connections: ${inputs.connections.length}`,
    `Outstanding: ${s.outstandingRequests}`,
    `Zxid: ${zxidHex(s.lastZxid)}`,
    `Mode: ${s.mode}`,
    `Node count: ${s.znodeCount}`,
  );
  if (s.mode === 'leader') lines.push('Proposal sizes last/min/max: -1/-1/-1');
  return lines.join('\n') + '\n';
}

function monitor(inputs: FourLetterInputs): string {
  const s = inputs.status;
  const entries: Array<[string, string | number]> = [
    ['zk_version', zookeeperVersion(s)],
    ['zk_server_state', s.mode],
    ['zk_avg_latency', Number(s.latency.avgMs.toFixed(4))],
    ['zk_max_latency', Math.round(s.latency.maxMs)],
    ['zk_min_latency', Math.round(s.latency.minMs)],
    ['zk_packets_received', inputs.packetsReceived],
    ['zk_packets_sent', inputs.packetsSent],
    ['zk_num_alive_connections', inputs.connections.length],
    ['zk_outstanding_requests', s.outstandingRequests],
    ['zk_znode_count', s.znodeCount],
    ['zk_watch_count', s.watchCount],
    ['zk_ephemerals_count', s.ephemeralsCount],
    ['zk_global_sessions', s.sessionCount],
    ['zk_uptime', s.uptimeMs],
    ['zk_last_proposal_size', -1],
    ['zk_proposal_count', s.proposalCount],
    ['zk_commit_count', s.commitCount],
    ['zk_snap_count', s.snapshotsTaken],
    ['zk_digest', `0x${s.digest.toString(16)}`],
  ];
  if (s.mode === 'leader') {
    entries.push(['zk_followers', s.followers], ['zk_synced_followers', s.syncedFollowers],
      ['zk_pending_syncs', 0]);
  }
  return entries.map(([k, v]) => `${k}\t${v}\n`).join('');
}

function watchSummary(w: WatchSummary): string {
  return `${w.watcherCount} connections watching ${w.pathsWatched} paths\nTotal watches:${w.watchCount}\n`;
}

function environment(status: ReplicaStatus): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry for this uid (containers): keep 'unknown'
  }
  const lines = [
    'Environment:',
    `zookeeper.version=${zookeeperVersion(status)}`,
    `host.name=${hostname()}`,
    `node.version=${process.version}`,
    `os.name=${osType()}`,
    `os.arch=${arch()}`,
    `os.version=${release()}`,
    `user.name=${user}`,
    `user.dir=${process.cwd()}`,
  ];
  return lines.join('\n') + '\n';
}
