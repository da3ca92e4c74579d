/**
 * The vocabulary shared by workflows, the ingress, the CLI and tests: workflow IDs,
 * search attributes, statuses, signals and queries, and the types that cross the
 * workflow boundary. Importable from Node code and from the workflow sandbox alike.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { SearchAttributeKey } from '@temporalio/common/lib/search-attributes';

/** Same as @temporalio/common's defineSearchAttributeKey, which workflow files may not import. */
const keyword = (name: string): SearchAttributeKey<'KEYWORD'> => ({ name, type: 'KEYWORD' });

// ---------------------------------------------------------------------------
// Search attributes (registered on the dev server by dev/temporal-server.ts)
// ---------------------------------------------------------------------------
export const SA = {
  TransactionId: keyword('TransactionId'),
  InvoiceNumber: keyword('InvoiceNumber'),
  CustomerId: keyword('CustomerId'),
  PaymentStatus: keyword('PaymentStatus'),
  BillingCycle: keyword('BillingCycle'),
  ExportStatus: keyword('ExportStatus'),
} as const;

export const ALL_SEARCH_ATTRIBUTES = Object.values(SA);

// ---------------------------------------------------------------------------
// Workflow IDs are business keys: Temporal rejects a second start with the same ID,
// which is what deduplicates IC's redeliveries.
// ---------------------------------------------------------------------------
export const workflowIds = {
  payment: (transactionId: string) => `payment-${transactionId}`,
  void: (transactionId: string) => `void-${transactionId}`,
  achReject: (transactionId: string) => `ach-reject-${transactionId}`,
  /** The single reversal of a transaction: whichever event starts it first owns it. */
  reversal: (transactionId: string) => `reversal-${transactionId}`,
  /** One alert delivery (alertWorkflow); the key makes a repeated alert a no-op. */
  alert: (key: string) => `alert-${key}`,
  /**
   * Collects alerts of one kind from many runs into one summary (alertDigestWorkflow). Per
   * task queue, so that two deployments (or test files) sharing a namespace never share one.
   */
  alertDigest: (group: string, taskQueue: string) => `alert-digest-${group}-${taskQueue}`,
  export: (cycle: string) => `export-${cycle}`,
};

// ---------------------------------------------------------------------------
// Payments
// ---------------------------------------------------------------------------
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

/** Failure types raised by activities (activities/errors.ts) and understood by workflows. */
export const FailureType = {
  /** IMT answered 400 to a post: the data is invalid and will stay invalid. */
  InvalidPost: 'InvalidPost',
  /** IMT answered 404. */
  NotFound: 'NotFound',
  /** Any other 4xx that cannot succeed by repeating it. */
  ClientError: 'ClientError',
  /** IMT answered 403 to our X-Integrator-ID. Retryable (credentials may be rotated), slowly. */
  AuthRejected: 'AuthRejected',
  /** 429 — honour Retry-After. */
  RateLimited: 'RateLimited',
  /** 5xx, maintenance. */
  ServiceUnavailable: 'ServiceUnavailable',
  /** Connection refused/reset, DNS. */
  NetworkError: 'NetworkError',
  /** No answer in time after the request was sent: outcome unknown (see docs/decisions.md). */
  AmbiguousTimeout: 'AmbiguousTimeout',
  /** A 2xx answer that does not match the contract. */
  InvalidResponse: 'InvalidResponse',
  /** IMT confirmed a posting for another transaction_id or amount than the one sent. */
  PostingMismatch: 'PostingMismatch',
  /** IC accepted the SOAP call but refused the file (Success=false). */
  FileRejected: 'FileRejected',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

export const NON_RETRYABLE_FAILURES: FailureType[] = [
  FailureType.InvalidPost,
  FailureType.NotFound,
  FailureType.ClientError,
  FailureType.FileRejected,
  FailureType.InvalidResponse,
  FailureType.PostingMismatch,
];

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

/** What a failed attempt left behind, shown by queries, the CLI and the status call. */
export interface AttemptError {
  type: string;
  message: string;
  status?: number;
  /** IMT's reasons for a 400, as IMT sent them. */
  reasons?: unknown;
  at: string;
}

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

export const retrySignal = defineSignal<[{ by?: string }?]>('retry');
export const dismissSignal = defineSignal<[DismissInput]>('dismiss');
/** A void (or ACH reject) arrived before the payment was posted: stop posting it. */
export const cancelPostingSignal = defineSignal<[CancelPostingInput]>('cancelPosting');
/** An early void / ACH reject does not match the payment: park it for a person. */
export const earlyEventMismatchSignal = defineSignal<[EarlyEventMismatch]>('earlyEventMismatch');
/** Sent by the payment run to every void / ACH reject waiting on it, when it closes. */
export const paymentClosedSignal = defineSignal<[PaymentClosedInput]>('paymentClosed');
export const paymentStateQuery = defineQuery<PaymentState>('state');
/**
 * The ingress's one round trip (update-with-start): delivers IC's payment and returns
 * once the posting is settled for IC's answer — POSTED (201), parked (400 when IMT refused
 * it), or closed otherwise. The validator refuses a delivery whose content differs from
 * the run's payment (409), so a conflicting repeat leaves nothing in history.
 */
export const paymentSettledUpdate = defineUpdate<PaymentState, [PaymentRequest]>('settled');

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
// Alerts (workflows/alerts.ts): delivered by their own runs, so that a webhook that is
// down never holds up the run that raised the alert.
// ---------------------------------------------------------------------------
export interface RaisedAlert {
  /** Unique per occasion, e.g. `payment-T1:NEEDS_ATTENTION:1`; a repeat of a key is a no-op. */
  key: string;
  title: string;
  text: string;
  /** The run the alert is about (its Temporal UI page is linked). */
  aboutWorkflowId?: string;
}

export interface AlertDeliveryInput extends RaisedAlert {
  /** Alerts of one group from many runs are summarised (e.g. `imt-auth-rejected`). */
  group?: string;
}

export interface AlertDigestInput {
  group: string;
  /** How long one incident's window lasts (default 10 minutes). */
  windowMs?: number;
}

export const alertRaisedSignal = defineSignal<[RaisedAlert]>('alertRaised');

/** Alert groups: many runs hitting the same cause produce a few alerts and one summary. */
export const AlertGroup = {
  ImtAuthRejected: 'imt-auth-rejected',
} as const;

// ---------------------------------------------------------------------------
// Voids and ACH rejects
// ---------------------------------------------------------------------------
export type ReversalKind = 'void' | 'ach_reject';

/** What IC sent for a void (contracts B). */
export interface VoidEvent {
  customer: string;
  invoice_number: string;
  transaction_id: string;
  amount: string;
  message: string;
}

/** What IC sent for an ACH reject (contracts B). */
export interface AchRejectEvent extends VoidEvent {
  return_code: string;
  returned_at: string;
}

export interface ReversalEventInput {
  kind: ReversalKind;
  event: VoidEvent | AchRejectEvent;
  receivedAt: string;
  /** How long to wait for a payment this service has not seen (default 24 h). */
  unknownPaymentWaitMs: number;
  /** Carried over by continue-as-new (a very long wait keeps the history bounded). */
  carried?: {
    state: ReversalEventState;
    told: { cancel: boolean; mismatch: boolean };
    alerted: boolean;
    deadline: number;
  };
}

export interface ReversalEventState {
  kind: ReversalKind;
  transactionId: string;
  status: PaymentStatus;
  event: VoidEvent | AchRejectEvent;
  /** Status of the payment run when this event was resolved. */
  paymentStatus?: PaymentStatus;
  reversal?: ReversalOutcome;
  /** Set when the other event type already reversed (or cancelled) this payment. */
  reversedBy?: ReversalKind;
  /**
   * How the event was resolved against IMT (issue 9): `nothing-posted` (IMT never had the
   * payment: never sent, or definitely refused), `reversed` (the payment was posted, then
   * reversed), `posted-to-settle-then-reversed` (IMT may have had it, so the posting was
   * finished idempotently and then reversed), `already-reversed`.
   */
  resolution?: 'nothing-posted' | 'reversed' | 'posted-to-settle-then-reversed' | 'already-reversed';
  lateReturn?: boolean;
  lastError?: AttemptError;
  closingReason?: string;
  events: PaymentEvent[];
}

export interface ReversalInput {
  kind: ReversalKind;
  transactionId: string;
  customer: string;
  invoiceNumber: string;
  amount: string;
  returnCode: string | null;
  message: string;
  lateReturn: boolean;
  requestedBy: string;
}

export interface ReversalOutcome {
  kind: ReversalKind;
  status: PaymentStatus;
  amount: string;
  returnCode: string | null;
  imtReversalId?: number | string;
  lateReturn: boolean;
  attempts: number;
  lastError?: AttemptError;
  closingReason?: string;
  events: PaymentEvent[];
}

/**
 * Sent by the payment run (runs before issue 9: by the ingress, without arguments) to a
 * waiting void / ACH reject when its payment arrives.
 */
export const paymentArrivedSignal = defineSignal<[PaymentArrivedInput?]>('paymentArrived');
/** Every run of a transaction answers the `state` query (the status call and CLI rely on it). */
export const reversalEventStateQuery = defineQuery<ReversalEventState>('state');
export const reversalStateQuery = defineQuery<ReversalOutcome>('state');

// Exports, invoice adjustments and the balance refresh: workflows/invoice-messages.ts.
export * from './invoice-messages';
