/**
 * One IC transaction — its payment, its void or ACH reject, and every redelivery of each —
 * as one state and the pure decisions over it (workflows/transaction.ts only carries them
 * out). Nothing here does I/O or reads the clock: `now` comes in as an argument, so each rule
 * is a row in test/unit/transaction.test.ts.
 *
 * The money rule all of this serves: an attempt whose outcome is unknown means IMT MAY hold
 * it. Only IMT's answer that it holds the payment (`YES`), or IMT's own record showing it
 * does not (contracts C4, after a settle time), ever turns `MAYBE` into something else. A
 * definite refusal of a repeat is not such proof (contracts C3, amended): IMT may validate a
 * repeat against a balance the first posting already reduced.
 */
import type { AttemptError } from './failures';
import {
  PaymentStatus,
  type ImtHolds,
  type PaymentEvent,
  type PaymentRequest,
  type PostedPayment,
} from './payment';
import type { AchRejectEvent, ReversalKind, VoidEvent } from './void-and-ach-reject';

/** What IC delivers to a transaction's run. */
export type Delivery =
  | { kind: 'payment'; payment: PaymentRequest }
  | { kind: 'void'; event: VoidEvent }
  | { kind: 'ach_reject'; event: AchRejectEvent };
export type DeliveryKind = Delivery['kind'];

/** The `deliver` update's argument: the delivery, and how long the ingress holds IC's call. */
export interface DeliverInput {
  delivery: Delivery;
  /** The delivery's digest (client/ingress/runs.ts), kept in the run's memo for the door's 409 without a worker. */
  fingerprint?: string;
  /** The run answers after at most this long, settled or not (nothing is left in flight). */
  waitMs: number;
}

/** How long the run waits for things; inputs so that tests can shorten them. */
export interface TransactionTiming {
  /** A card (or other) payment's run stays open this long after posting, for a void. */
  holdCardMs: number;
  /** An echeck's run stays open this long after posting: its longest ACH return window and a margin. */
  holdEcheckMs: number;
  /** IMT's record (C4) is trusted to show an attempt this long after the attempt. */
  settleMs: number;
  /** A void / ACH reject waits this long for its payment before a person is asked. */
  awaitPaymentMs: number;
  /** Past this many history events the run continues as new (read fresh each time; tests lower it). */
  continueAfterEvents: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * Defaults (docs/decisions.md, "One run per transaction"): IC voids a card payment before it
 * settles, within days — 30 days is a wide margin; an echeck can be returned up to 60
 * calendar days after settlement (R05/R07/R10/…), plus a week for IC's delivery.
 */
export const DEFAULT_TIMING: TransactionTiming = {
  holdCardMs: 30 * DAY_MS,
  holdEcheckMs: 67 * DAY_MS,
  settleMs: 10 * 60 * 1000,
  awaitPaymentMs: DAY_MS,
  continueAfterEvents: 2000,
};

/** The run's input: started by the ingress's update-with-start, or carried by continue-as-new. */
export interface TransactionInput {
  transactionId: string;
  /**
   * The delivery that started the run (the starter's update carries it too). The run takes it
   * before any update, so the start's memo — the starter's fingerprint and amount, which the
   * door reads without a worker — always names what the run holds: a concurrent delivery with
   * other content can no longer be taken first while the memo names the starter's.
   */
  first?: Delivery;
  /** An earlier run of this transaction has closed: read IMT's record first. */
  reopened?: boolean;
  timing?: Partial<TransactionTiming>;
  carried?: TransactionState;
}

/** Where one money call to IMT stands (the posting, or the reversal). */
export interface MoneyCall {
  holds: ImtHolds;
  attempts: number;
  /** Some attempt since the last certain answer had an unknown outcome. */
  uncertain: boolean;
  /** When the last attempt with an unknown outcome ended (ISO). */
  uncertainAt?: string;
  /** A definite refusal came after an uncertain attempt: only IMT's record can tell (C4). */
  mustCheck: boolean;
  /** Not before this time (epoch ms): the next attempt or check. */
  nextAt?: number;
  /** Why the last check could not tell (count), for the park decision. */
  failedChecks: number;
}

export interface Parked {
  reason: string;
  /** IMT may hold money this run cannot account for. */
  imtMayHold: boolean;
  since: string;
  /** A payment arriving clears it (an event that waited too long for its payment). */
  clearsOnPayment?: boolean;
  /** The alert for this parking went out (each parking alerts once, also across continue-as-new). */
  alerted?: boolean;
}

export interface ReversalRecord {
  id: number | string;
  reversal_type: ReversalKind;
  amount: string;
  return_code?: string | null;
}

export interface TransactionState {
  transactionId: string;
  status: PaymentStatus;
  /** This run was started for a transaction whose earlier run had closed: IMT's record comes first. */
  reopened: boolean;
  /** IMT's record was read (reopened runs). */
  checkedImt: boolean;
  /** When the first event reached this run (ISO). */
  since: string;
  payment?: PaymentRequest;
  /** Every reversal event received, by kind (a repeat must match). */
  events: { void?: VoidEvent; ach_reject?: AchRejectEvent };
  /** The kind that owns the one reversal: the first event that came. */
  reversalKind?: ReversalKind;
  /** An early event that does not match the payment (a person decides). */
  mismatch?: string[];
  posting: MoneyCall;
  reversal: MoneyCall;
  posted?: PostedPayment;
  postedAt?: string;
  reversed?: ReversalRecord;
  lateReturn?: boolean;
  lastError?: AttemptError;
  parked?: Parked;
  /** An operator closed it (dismiss), or why it closed otherwise. */
  closingReason?: string;
  dismissed?: boolean;
  log: PaymentEvent[];
}

export const MAX_LOG_ENTRIES = 50;

export function newMoneyCall(): MoneyCall {
  return { holds: 'NO', attempts: 0, uncertain: false, mustCheck: false, failedChecks: 0 };
}

export function newTransaction(transactionId: string, at: string, reopened: boolean): TransactionState {
  return {
    transactionId,
    status: PaymentStatus.AWAITING_PAYMENT,
    reopened,
    checkedImt: false,
    since: at,
    events: {},
    posting: newMoneyCall(),
    reversal: newMoneyCall(),
    log: [],
  };
}

export function record(state: TransactionState, at: string, event: string, detail?: string): void {
  state.log.push({ at, event, detail });
  if (state.log.length > MAX_LOG_ENTRIES) state.log.splice(1, state.log.length - MAX_LOG_ENTRIES);
}

// ---------------------------------------------------------------------------
// What the run does next.

export type Step =
  | { kind: 'post' }
  | { kind: 'reverse' }
  /** Ask IMT's record of the transaction (contracts C4). */
  | { kind: 'check' }
  | { kind: 'park'; reason: string; imtMayHold: boolean; clearsOnPayment?: boolean }
  /** Sleep until `until` (epoch ms; undefined: until something happens) or a delivery / an operator. */
  | { kind: 'wait'; until?: number; why: string }
  | { kind: 'complete' };

/** When the run may close: the payment's last chance for a void / ACH reject has passed. */
export function holdUntil(state: TransactionState, timing: TransactionTiming): number | undefined {
  const from = state.postedAt ?? state.since;
  const method = state.payment?.payment_method;
  return Date.parse(from) + (method === 'echeck' ? timing.holdEcheckMs : timing.holdCardMs);
}

export function nextStep(state: TransactionState, now: number, timing: TransactionTiming): Step {
  if (state.dismissed) return { kind: 'complete' };
  if (state.parked) return { kind: 'wait', why: 'a person decides (retry or dismiss)' };
  if (state.reopened && !state.checkedImt) return checkStep(state.posting, now);
  const { posting, reversal } = state;

  if (awaitingPayment(state)) {
    const deadline = Date.parse(state.since) + timing.awaitPaymentMs;
    if (now < deadline) return { kind: 'wait', until: deadline, why: 'waiting for IC to send the payment' };
    return {
      kind: 'park',
      reason: `a ${eventName(state.reversalKind)} came but IC has not sent its payment`,
      imtMayHold: false,
      clearsOnPayment: true,
    };
  }
  // Only an event that came before its payment can disagree with it (the validator refuses later ones).
  if (state.mismatch)
    return {
      kind: 'park',
      reason: `an event does not match the payment (${state.mismatch.join('; ')}); nothing was posted`,
      imtMayHold: false,
    };

  if (posting.mustCheck) return checkStep(posting, now);

  if (state.reversalKind) {
    if (posting.holds === 'MAYBE') return checkStep(posting, now);
    if (posting.holds === 'NO') return finalOrHold(state, now, timing);
    // IMT holds the payment: reverse it once.
    if (reversal.holds === 'YES') return { kind: 'complete' };
    if (reversal.mustCheck) return checkStep(reversal, now);
    if (reversal.nextAt !== undefined && now < reversal.nextAt)
      return { kind: 'wait', until: reversal.nextAt, why: 'retrying the reversal' };
    return { kind: 'reverse' };
  }

  if (posting.holds === 'YES') return finalOrHold(state, now, timing);
  if (posting.nextAt !== undefined && now < posting.nextAt)
    return { kind: 'wait', until: posting.nextAt, why: 'retrying the posting' };
  return { kind: 'post' };
}

/** An event came first and nothing tells what IMT holds yet (a reopened run works from IMT's record). */
function awaitingPayment(state: TransactionState): boolean {
  return !state.payment && state.posting.holds !== 'YES' && !(state.reopened && state.checkedImt);
}

function checkStep(call: MoneyCall, now: number): Step {
  if (call.nextAt !== undefined && now < call.nextAt)
    return { kind: 'wait', until: call.nextAt, why: "waiting before reading IMT's record" };
  return { kind: 'check' };
}

function finalOrHold(state: TransactionState, now: number, timing: TransactionTiming): Step {
  // A reopened run answered from IMT's record; a later event reads that record again.
  if (state.reopened) return { kind: 'complete' };
  const until = holdUntil(state, timing);
  if (until !== undefined && now < until)
    return { kind: 'wait', until, why: 'open for a void or an ACH reject until the return window closes' };
  return { kind: 'complete' };
}

function eventName(kind: ReversalKind | undefined): string {
  return kind === 'ach_reject' ? 'ACH reject' : 'void';
}

/** The one status an operator sees (search attribute, queries, IC's status call). */
export function statusOf(state: TransactionState): PaymentStatus {
  if (state.dismissed) return PaymentStatus.DISMISSED;
  // An early event that disagrees is parked by the next step: never shown as settled before.
  if (state.parked || state.mismatch) return PaymentStatus.NEEDS_ATTENTION;
  // A reopened run knows nothing until it has read IMT's record.
  if (state.reopened && !state.checkedImt) return PaymentStatus.MAYBE_POSTED;
  if (state.reversal.holds === 'YES') return PaymentStatus.REVERSED;
  if (awaitingPayment(state)) return PaymentStatus.AWAITING_PAYMENT;
  if (state.reversalKind) {
    if (state.posting.holds === 'NO' && !state.posting.mustCheck) return PaymentStatus.NOT_POSTED;
    if (state.posting.holds === 'YES') return PaymentStatus.REVERSING;
  }
  if (state.posting.holds === 'YES') return PaymentStatus.POSTED;
  if (state.posting.holds === 'MAYBE' || state.posting.mustCheck) return PaymentStatus.MAYBE_POSTED;
  return PaymentStatus.POSTING;
}
