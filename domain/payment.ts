/**
 * A payment from IC's Data Pump posted into IMT: what IC sends, the run's statuses and
 * state, and the inputs of its signals (the definitions are in domain/messages.ts).
 */
import { SA } from './ids';

export const PAYMENT_METHODS = ['cash', 'credit', 'check', 'echeck', 'other'] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];

/** IMT's documented post-payment body; also what IC's Data Pump sends to the ingress. */
export interface PaymentRequest {
  customer: string;
  invoice_number: string;
  transaction_id: string;
  amount: string;
  payment_method: PaymentMethod;
  message: string;
  source: string;
}

/** IMT's 201 answer to post-payment (validated by the IMT client). */
export interface PostedPayment {
  id: number | string;
  transaction_id: string;
  amount: string;
  [field: string]: unknown;
}

/**
 * The statuses of a transaction's run (workflows/transaction.ts), as small as an operator
 * needs: where the money is, and whether a person must act. The README draws them.
 */
export const PaymentStatus = {
  /** A void / ACH reject came first; nothing is posted until IC sends the payment. */
  AWAITING_PAYMENT: 'AWAITING_PAYMENT',
  /** Being posted to IMT (retrying with backoff while IMT fails without taking it). */
  POSTING: 'POSTING',
  /**
   * An attempt got no definite answer (timeout after sending, reset, 5xx, a worker that
   * died): IMT MAY HOLD the payment. Retried with the same transaction_id, or settled by
   * IMT's own record of the transaction (contracts C3/C4).
   */
  MAYBE_POSTED: 'MAYBE_POSTED',
  /** IMT holds the payment; the run stays open, asleep, while a void or ACH reject can come. */
  POSTED: 'POSTED',
  /** IMT holds the payment and a void / ACH reject asks for it back: the reversal is under way. */
  REVERSING: 'REVERSING',
  /** IMT holds the payment and its reversal (void or ACH reject): the net is zero. */
  REVERSED: 'REVERSED',
  /** Voided (or returned) before IMT took it: IMT holds nothing, for sure. */
  NOT_POSTED: 'NOT_POSTED',
  /** Parked: a person decides (retry or dismiss). The alert says whether IMT may hold it. */
  NEEDS_ATTENTION: 'NEEDS_ATTENTION',
  /** Closed by a person. */
  DISMISSED: 'DISMISSED',
} as const;
export type PaymentStatus = (typeof PaymentStatus)[keyof typeof PaymentStatus];

/**
 * Whether IMT holds a payment, as far as this service can know (issue 9):
 * - `NO`: every attempt got a definite answer that nothing was applied (or none was sent);
 * - `MAYBE`: an attempt's outcome is unknown — IMT may have applied it;
 * - `YES`: IMT confirmed the posting.
 * A definite rejection (400/404) of an identical repeat turns MAYBE back into NO: under
 * contracts C3, IMT answers a repeat of an applied post with the original result.
 */
export type ImtHolds = 'NO' | 'MAYBE' | 'YES';

/** IMT's client timeout is bounded so that it always ends before the posting activity's start-to-close. */
export const IMT_TIMEOUT_MIN_MS = 1_000;
export const IMT_TIMEOUT_MAX_MS = 60_000;
/** Start-to-close of one posting / reversal attempt: the longest IMT timeout plus a margin. */
export const IMT_ATTEMPT_TIMEOUT_MS = IMT_TIMEOUT_MAX_MS + 5_000;

export interface PaymentEvent {
  at: string;
  event: string;
  detail?: string;
}

export interface DismissInput {
  reason: string;
  by?: string;
}

/** Workflow type of the business key `payment-<txid>`: one run per transaction. */
export const TRANSACTION_WORKFLOW_TYPE = 'transactionWorkflow';

/** The fields that make a payment; a repeat must match them all. */
export function samePayment(a: PaymentRequest, b: PaymentRequest): boolean {
  return (
    a.customer === b.customer &&
    a.invoice_number === b.invoice_number &&
    a.transaction_id === b.transaction_id &&
    a.amount === b.amount &&
    a.payment_method === b.payment_method &&
    a.message === b.message &&
    a.source === b.source
  );
}

// ---------------------------------------------------------------------------

/** What identifies a transaction's runs: the payment's, and each event's (they carry the same three). */
export interface TransactionKeys {
  transaction_id: string;
  invoice_number: string;
  customer: string;
}

/** The search attributes of a transaction's run: the Temporal UI and `payments list` find it by any of them. */
export function transactionSearchAttributes(keys: TransactionKeys, status: PaymentStatus) {
  return [
    { key: SA.TransactionId, value: keys.transaction_id },
    { key: SA.InvoiceNumber, value: keys.invoice_number },
    { key: SA.CustomerId, value: keys.customer },
    { key: SA.PaymentStatus, value: status },
  ];
}

/**
 * The memo of a transaction's run, readable without a worker (describe): the fingerprint of
 * each kind of delivery it took, and the payment's amount and method — so that a conflicting
 * delivery is answered 409 even while no worker runs.
 */
export interface TransactionMemo {
  payment?: string;
  void?: string;
  ach_reject?: string;
  amount?: string;
  payment_method?: string;
}
