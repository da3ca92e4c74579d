/**
 * The activities of a void or an ACH reject: reverse a posted payment in IMT (contracts C2,
 * idempotent per C3), and find the payment's run — whether it was received, is still being
 * posted, or has closed (and how). Workflows cannot describe other workflows, so that
 * lookup is an activity with the Temporal client.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  AWAITED_PAYMENT_WORKFLOW_TYPE,
  SA,
  workflowIds,
  type PaymentRequest,
  type PaymentState,
  type PaymentStatus,
  paymentStateQuery,
} from '../domain';
import type { ImtClient, ImtReversal, ReversePaymentRequest } from '../integrations/imt-client';
import type { ActivityDeps } from './deps';
import { toActivityFailure } from './errors';
import { boundedAttempt } from './imt-attempt';
import { activityLogger } from './log';

/** What `lookupPaymentRun` (pre-issue-9 runs) returns. */
export type LegacyPaymentRunLookup =
  | { found: false }
  | { found: true; running: true; status?: PaymentStatus }
  | { found: true; running: false; state: PaymentState };

/** What `findPaymentRun` tells a void / ACH reject about its payment's run. */
export type PaymentRunLookup =
  | { found: false }
  | { found: true; running: true; status?: PaymentStatus; payment?: PaymentRequest }
  | { found: true; running: false; state: PaymentState }
  /** Terminated, failed, timed out or cancelled: no outcome to read (a person must look). */
  | { found: true; running: false; abnormal: string };

export function createVoidAndAchRejectActivities(deps: ActivityDeps) {
  const client = (): Client => {
    if (!deps.temporalClient)
      throw ApplicationFailure.nonRetryable('worker has no Temporal client configured', 'ConfigError');
    return deps.temporalClient;
  };
  const imt: ImtClient = deps.imt;
  const mapping = { authRetryDelayMs: deps.authRetryDelayMs, isPost: true };
  return {
    /** Reverses a posted payment in IMT (contracts C2, idempotent per C3). */
    async reversePayment(request: ReversePaymentRequest): Promise<ImtReversal> {
      const attempt = boundedAttempt();
      try {
        const { reversal } = await imt.reversePayment(request, attempt.signal);
        activityLogger(deps.logger).info(
          {
            transactionId: request.transaction_id,
            reversalType: request.reversal_type,
            reversalId: reversal.id,
          },
          'payment reversed in IMT',
        );
        return reversal;
      } catch (err) {
        throw toActivityFailure(err, mapping);
      } finally {
        attempt.done();
      }
    },

    /**
     * Where the payment run of a transaction is. A running run is also asked for the
     * payment itself (its `state` query), so the event can check it matches before asking
     * it to stop; a run that ended without a result is reported, never thrown.
     */
    async findPaymentRun(transactionId: string): Promise<PaymentRunLookup> {
      const handle = client().workflow.getHandle(workflowIds.payment(transactionId));
      try {
        const desc = await handle.describe();
        // Started by an early event (workflows/awaited-payment.ts): IC has not sent the payment.
        if (desc.type === AWAITED_PAYMENT_WORKFLOW_TYPE) return { found: false };
        if (desc.status.name === 'RUNNING') {
          const state = await handle.query(paymentStateQuery);
          return { found: true, running: true, status: state.status, payment: state.payment };
        }
        if (desc.status.name !== 'COMPLETED')
          return { found: true, running: false, abnormal: desc.status.name };
        return { found: true, running: false, state: (await handle.result()) as PaymentState };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return { found: false };
        throw err;
      }
    },

    /** Runs started before issue 9 (workflows/void-and-ach-reject-v1.ts) still call this one. */
    async lookupPaymentRun(transactionId: string): Promise<LegacyPaymentRunLookup> {
      const handle = client().workflow.getHandle(workflowIds.payment(transactionId));
      try {
        const desc = await handle.describe();
        if (desc.type === AWAITED_PAYMENT_WORKFLOW_TYPE) return { found: false };
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
