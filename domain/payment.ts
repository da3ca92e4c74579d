/**
 * A payment from IC's Data Pump posted into IMT: what IC sends, the run's statuses and
 * state, and the inputs of its signals (the definitions are in domain/messages.ts).
 */
import type { AttemptError } from './failures';
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

export const PaymentStatus = {
  /** Accepted by the ingress; the first posting attempt is under way. */
  RECEIVED: 'RECEIVED',
  /** IMT is failing transiently (429, unreachable, 403…) and has not received the payment; retrying with backoff. */
  RETRYING: 'RETRYING',
  /**
   * An attempt got no definite answer (timeout after sending, reset, 5xx, a worker that
   * died, a 2xx we could not read): IMT MAY HOLD the payment. Retrying with the same
   * transaction_id (idempotent, contracts C3) until IMT answers for sure.
   */
  MAYBE_POSTED: 'MAYBE_POSTED',
  /**
   * A void / ACH reject arrived while IMT may hold the payment: the run finishes the
   * posting idempotently to learn the truth; the event then reverses it (or, if IMT
   * definitely refused it, nothing was ever applied).
   */
  SETTLING: 'SETTLING',
  /** IMT refuses our X-Integrator-ID (403); retried slowly until the credential is fixed. */
  AUTH_REJECTED: 'AUTH_REJECTED',
  POSTED: 'POSTED',
  /** IMT rejected the posting for good (400/404); waits for an operator's retry or dismiss. */
  NEEDS_ATTENTION: 'NEEDS_ATTENTION',
  DISMISSED: 'DISMISSED',
  VOIDED_BEFORE_POSTING: 'VOIDED_BEFORE_POSTING',
  VOIDED: 'VOIDED',
  ACH_REJECTED: 'ACH_REJECTED',
  /** Reversed after an ACH return that came later than its NACHA window: review with the bank. */
  LATE_RETURN: 'LATE_RETURN',
  /** A void / ACH reject waits for a payment this service has not seen yet. */
  AWAITING_PAYMENT: 'AWAITING_PAYMENT',
  /** A void / ACH reject waits for its payment run to settle (posted for sure, or not applied for sure). */
  AWAITING_POSTING_OUTCOME: 'AWAITING_POSTING_OUTCOME',
  /** The reversal is being sent to IMT. */
  REVERSING: 'REVERSING',
  /** A second reversal event (void after ACH reject or vice versa): recorded, nothing sent. */
  ALREADY_REVERSED: 'ALREADY_REVERSED',
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

export interface PaymentState {
  transactionId: string;
  status: PaymentStatus;
  payment?: PaymentRequest;
  attempts: number;
  lastError?: AttemptError;
  posted?: PostedPayment;
  /** When IMT confirmed the posting (the settlement reference for ACH return windows). */
  postedAt?: string;
  /** Operator's dismiss reason, or why posting was stopped. */
  closingReason?: string;
  /** Workflow ID of the void / ACH reject that stopped the posting. */
  cancelledBy?: string;
  /** Whether IMT holds the payment (three-valued; absent in runs started before issue 9). */
  imtHolds?: ImtHolds;
  /**
   * How a void / ACH reject that stopped this run was resolved:
   * `never-sent` nothing ever left for IMT; `imt-refused` IMT definitely refused it (after an
   * uncertain attempt); `posted-to-settle` the run finished the posting so it can be reversed.
   */
  settlement?: 'never-sent' | 'imt-refused' | 'posted-to-settle';
  /** An early void / ACH reject that does not match this payment (the run parks for a person). */
  mismatch?: EarlyEventMismatch;
  events: PaymentEvent[];
}

export interface EarlyEventMismatch {
  /** Workflow ID of the event, e.g. `void-<txid>`. */
  requestedBy: string;
  differences: string[];
}

export interface PaymentWorkflowInput {
  payment: PaymentRequest;
  receivedAt: string;
  /**
   * Runs before issue 9 only: a void / ACH reject arrived first and was trusted blindly.
   * New intake sends `earlyEvents` instead, which are checked against the payment.
   */
  cancelledBeforeArrival?: CancelPostingInput;
  /**
   * Workflow IDs of void / ACH-reject runs that were open when the payment arrived. The run
   * tells each one (`paymentArrived`) and waits briefly for its verdict: `cancelPosting`
   * when it matches, `earlyEventMismatch` when it does not.
   */
  earlyEvents?: string[];
  /** Carried over by continue-as-new when a very long outage makes the history big. */
  carried?: Pick<PaymentState, 'attempts' | 'lastError' | 'events' | 'imtHolds'> & {
    cancellation?: CancelPostingInput;
    waiting?: string[];
  };
}

export type PaymentOutcome = PaymentState;

/**
 * Workflow types of the payment's business key `payment-<txid>`. A void or ACH reject that
 * arrives before its payment starts `awaitedPaymentWorkflow` under that key (signal-with-start,
 * issue 13): it collects the early events and, when IC's payment arrives (the ingress's
 * `settled` update), hands over to `paymentWorkflow` by continue-as-new — so the payment
 * intake never has to look for early events (no describe on the happy path).
 */
export const PAYMENT_WORKFLOW_TYPE = 'paymentWorkflow';
export const AWAITED_PAYMENT_WORKFLOW_TYPE = 'awaitedPaymentWorkflow';

export interface AwaitedPaymentInput {
  transactionId: string;
  /** When the first early event asked for the payment. */
  since: string;
}

/** Sent (with signal-with-start) to `payment-<txid>` by the intake of an event whose payment it has not seen. */
export interface EarlyEventInput {
  /** Workflow ID of the event, e.g. `void-<txid>`. */
  eventId: string;
}

/** The ingress's second `settled` argument: the delivery's fingerprint, for the payment run's memo. */
export interface SettledDelivery {
  fingerprint?: string;
}

export interface DismissInput {
  reason: string;
  by?: string;
}

export interface CancelPostingInput {
  reason: string;
  /** e.g. `void-<transaction_id>` — who asked. */
  requestedBy: string;
}

export interface PaymentArrivedInput {
  /** The payment as IC delivered it, for the event to check (customer, invoice, amount, method). */
  payment: PaymentRequest;
}

export interface PaymentClosedInput {
  status: PaymentStatus;
}

/** Statuses at which IC's call can be answered for good (see `paymentSettledUpdate`). */
export const INTAKE_SETTLED_STATUSES: readonly PaymentStatus[] = [
  PaymentStatus.POSTED,
  PaymentStatus.NEEDS_ATTENTION,
  PaymentStatus.DISMISSED,
  PaymentStatus.VOIDED_BEFORE_POSTING,
];

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

/**
 * The search attributes every run of a transaction carries — payment, awaited payment, void,
 * ACH reject, reversal — so the Temporal UI and `payments list` find them all by one ID.
 */
export function transactionSearchAttributes(keys: TransactionKeys, status: PaymentStatus) {
  return [
    { key: SA.TransactionId, value: keys.transaction_id },
    { key: SA.InvoiceNumber, value: keys.invoice_number },
    { key: SA.CustomerId, value: keys.customer },
    { key: SA.PaymentStatus, value: status },
  ];
}

/**
 * The memo of a payment run, readable without a worker: the delivery's fingerprint (a repeat
 * with other content is a 409) and the amount and method (a later void / ACH reject is
 * checked at the door). Given by the ingress's start, and by an awaited payment's hand-over.
 */
export function paymentRunMemo(payment: PaymentRequest, fingerprint: string | undefined) {
  return {
    ...(fingerprint ? { fingerprint } : {}),
    amount: payment.amount,
    payment_method: payment.payment_method,
  };
}
