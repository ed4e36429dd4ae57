/**
 * The connection state of one client session (`ConnectionState`), shared by every
 * `CoordinationClient`: it turns "reachable / unreachable / session ended" reports into
 * Curator's sequence connected → suspended → reconnected … → lost, each change reported once
 * and in order; `lost` is final.
 */
import type { ConnectionState } from './coordination-client.js';

export class ConnectionStateTracker {
  private value: ConnectionState = 'connected';
  private readonly listeners = new Set<(state: ConnectionState) => void>();

  /** `report` calls application code; `guard` keeps its exceptions out of the caller. */
  constructor(private readonly guard: (call: () => void) => void) {}

  get state(): ConnectionState {
    return this.value;
  }

  subscribe(listener: (state: ConnectionState) => void): () => void {
    if (this.value !== 'lost') this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The session's server (or the local replica's quorum) became unreachable. */
  suspended(): void {
    if (this.value === 'connected' || this.value === 'reconnected') this.change('suspended');
  }

  /** Reachable again with the same session. */
  reconnected(): void {
    if (this.value === 'suspended') this.change('reconnected');
  }

  /** The session ended (expired or closed): final. */
  lost(): void {
    if (this.value === 'lost') return;
    this.change('lost');
    this.listeners.clear();
  }

  private change(state: ConnectionState): void {
    this.value = state;
    for (const listener of [...this.listeners]) this.guard(() => listener(state));
  }
}
