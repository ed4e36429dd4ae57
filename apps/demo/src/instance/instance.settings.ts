/** What the demo's orchestrator tells each instance, and what instances report back (IPC). */
export const INSTANCE = 'DEMO_INSTANCE';

export interface InstanceSettings {
  id: number;
  ensemble: string;
  dataDir: string;
  httpPort: number;
}

export type InstanceReport =
  | { type: 'ready'; id: number }
  | { type: 'job'; id: number; /** The scheduled fire time (ms). */ fire: number }
  | { type: 'config'; id: number; text: string }
  | { type: 'event'; id: number; event: string };

/** Sends a report to the orchestrator (no-op when run without IPC). */
export function report(message: InstanceReport): void {
  process.send?.(message);
}
