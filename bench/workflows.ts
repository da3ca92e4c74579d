/**
 * Bench-only workflow bundle (never part of workflows/index.ts): the "bare ceiling" —
 * a trivial workflow with one no-op activity, i.e. the least a one-activity workflow can
 * cost on this Temporal server. The payments benchmark compares itself against it.
 */
import { proxyActivities } from '@temporalio/workflow';

export interface BareActivities {
  noop(): Promise<void>;
}

const { noop } = proxyActivities<BareActivities>({ startToCloseTimeout: '30 seconds' });

export async function bareWorkflow(): Promise<void> {
  await noop();
}
