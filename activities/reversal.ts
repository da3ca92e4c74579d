/**
 * The transaction run's other two calls to IMT: reverse a posted payment (contracts C2,
 * idempotent per C3), and read IMT's own record of one transaction (contracts C4 with its
 * `transaction_id` filter) — how the run learns what an attempt with an unknown outcome did,
 * and what a run reopened after its transaction closed starts from.
 */
import type { ImtRecord } from '../domain';
import type { ImtClient, ImtReversal, ReversePaymentRequest } from '../integrations/imt-client';
import type { ActivityDeps } from './deps';
import { toActivityFailure } from './errors';
import { boundedAttempt } from './imt-attempt';
import { activityLogger } from './log';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface ImtRecordQuery {
  transactionId: string;
  /** The earliest instant the payment can have been posted (ISO); a day of margin is added. */
  postedSince: string;
}

export function createReversalActivities(deps: ActivityDeps) {
  const imt: ImtClient = deps.imt;
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
        throw toActivityFailure(err, { authRetryDelayMs: deps.authRetryDelayMs, isPost: true });
      } finally {
        attempt.done();
      }
    },

    /** IMT's record of one transaction, or null when IMT lists none (contracts C4). */
    async findImtTransaction(query: ImtRecordQuery): Promise<ImtRecord | null> {
      const attempt = boundedAttempt();
      // Dates in UTC with a day of margin on both sides: the filter narrows to one transaction,
      // so a wide range costs nothing, and no biller-zone day can fall outside it.
      const day = (t: number) => new Date(t).toISOString().slice(0, 10);
      try {
        const found = await imt.findPayment(
          query.transactionId,
          { postedFrom: day(Date.parse(query.postedSince) - DAY_MS), postedTo: day(Date.now() + DAY_MS) },
          attempt.signal,
        );
        return found
          ? {
              id: found.id,
              transaction_id: found.transaction_id,
              amount: found.amount,
              posted_at: found.posted_at,
              reversals: found.reversals.map((r) => ({
                id: r.id,
                reversal_type: r.reversal_type,
                amount: r.amount,
                return_code: r.return_code ?? null,
              })),
            }
          : null;
      } catch (err) {
        throw toActivityFailure(err, { authRetryDelayMs: deps.authRetryDelayMs, isPost: false });
      } finally {
        attempt.done();
      }
    },
  };
}
