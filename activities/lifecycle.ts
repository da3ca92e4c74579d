/**
 * Activities that read Temporal itself: a void or ACH reject must know whether its
 * payment was received, is still being posted, or has closed (and how). Workflows
 * cannot describe other workflows, so this small activity does it with the client.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { SA, workflowIds, type PaymentState, type PaymentStatus } from '../workflows/messages';
import type { ActivityDeps } from './index';

export type PaymentRunLookup =
  | { found: false }
  | { found: true; running: true; status?: PaymentStatus }
  | { found: true; running: false; state: PaymentState };

export function createLifecycleActivities(deps: ActivityDeps) {
  const client = (): Client => {
    if (!deps.temporalClient)
      throw ApplicationFailure.nonRetryable('worker has no Temporal client configured', 'ConfigError');
    return deps.temporalClient;
  };
  return {
    async lookupPaymentRun(transactionId: string): Promise<PaymentRunLookup> {
      const handle = client().workflow.getHandle(workflowIds.payment(transactionId));
      try {
        const desc = await handle.describe();
        if (desc.status.name === 'RUNNING') {
          return {
            found: true,
            running: true,
            status: desc.typedSearchAttributes.get(SA.PaymentStatus) as PaymentStatus,
          };
        }
        if (desc.status.name !== 'COMPLETED') {
          // Terminated / failed payment runs: treat as never posted — a person must look.
          throw ApplicationFailure.nonRetryable(
            `payment run ${handle.workflowId} ended ${desc.status.name}; cannot tell whether it was posted`,
            'PaymentRunUnusable',
          );
        }
        return { found: true, running: false, state: (await handle.result()) as PaymentState };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return { found: false };
        throw err;
      }
    },
  };
}
