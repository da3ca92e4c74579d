/**
 * Balance refresh from Node code (CLI, tests): start `balances-refresh-<cycle>`, read its
 * progress (the workflow's phase plus the comparison activity's heartbeat), await the result.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdReusePolicy,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { z } from 'zod';
import { heartbeatDetailsOf } from './heartbeat';
import type { balanceRefreshWorkflow } from '../workflows/balance-refresh';
import {
  taskQueuesOf,
  isBillingCycle,
  balanceRefreshWorkflowId,
  type BalanceRefreshProgress,
  type BalanceRefreshResult,
  balanceRefreshProgressQuery,
} from '../domain';

export const RefreshOptionsSchema = z.object({
  cycle: z.string().refine(isBillingCycle, 'must be a billing cycle, YYYY-MM-01 (e.g. 2022-09-01)'),
  ratePerSecond: z.coerce
    .number()
    .positive('must be greater than 0')
    .max(1000, 'must be at most 1000 calls per second')
    .optional(),
  requestedBy: z.string().max(200).optional(),
});
export type RefreshOptions = z.input<typeof RefreshOptionsSchema>;

export class RefreshAlreadyRunningError extends Error {}

/** `serviceQueue`: TEMPORAL_TASK_QUEUE; the refresh runs on its bulk pool (domain/task-queues.ts). */
export async function startBalanceRefresh(
  client: Client,
  serviceQueue: string,
  input: RefreshOptions,
): Promise<WorkflowHandle<typeof balanceRefreshWorkflow>> {
  const parsed = RefreshOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(`${issue?.path.join('.') || 'input'} ${issue?.message ?? 'is invalid'}`);
  }
  const { cycle } = parsed.data;
  try {
    return await client.workflow.start<typeof balanceRefreshWorkflow>('balanceRefreshWorkflow', {
      workflowId: balanceRefreshWorkflowId(cycle),
      taskQueue: taskQueuesOf(serviceQueue).bulk,
      args: [parsed.data],
      // A refresh may run again any time, but not twice at once.
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      staticSummary: `Balance refresh · cycle ${cycle}`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      throw new RefreshAlreadyRunningError(`a balance refresh of ${cycle} is already running`);
    throw err;
  }
}

const CursorSchema = z.object({
  phase: z.literal('comparing'),
  compared: z.number(),
  total: z.number().nullable(),
  differing: z.number(),
});

/** The workflow's phase, with the live counts of the comparison while it runs. */
export async function balanceRefreshProgress(client: Client, cycle: string): Promise<BalanceRefreshProgress> {
  const handle = client.workflow.getHandle(balanceRefreshWorkflowId(cycle));
  const [progress, desc] = await Promise.all([handle.query(balanceRefreshProgressQuery), handle.describe()]);
  for (const activity of desc.raw.pendingActivities ?? []) {
    if (activity.activityType?.name !== 'compareCycleBalances') continue;
    // Heartbeat details are encrypted like every payload: decoded through the client's codecs.
    const cursor = CursorSchema.safeParse(await heartbeatDetailsOf(client, activity));
    if (cursor.success) Object.assign(progress, cursor.data, { phase: undefined });
  }
  delete (progress as { phase?: unknown }).phase;
  return progress;
}

export async function balanceRefreshResult(client: Client, cycle: string): Promise<BalanceRefreshResult> {
  return client.workflow.getHandle<typeof balanceRefreshWorkflow>(balanceRefreshWorkflowId(cycle)).result();
}
