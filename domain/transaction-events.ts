/**
 * What IC's deliveries and an operator's actions do to a transaction (domain/transaction.ts):
 * which are refused without writing history (the run's update validators), what an accepted
 * one changes, and what IC is answered.
 */
import { toCents } from './money';
import { PaymentStatus, samePayment, type ImtHolds, type PostedPayment } from './payment';
import {
  newTransaction,
  record,
  statusOf,
  type Delivery,
  type DeliveryKind,
  type ReversalRecord,
  type TransactionInput,
  type TransactionState,
} from './transaction';
import type { AttemptError } from './failures';
import { eventDifferences, type AchRejectEvent, type VoidEvent } from './void-and-ach-reject';

// ---------------------------------------------------------------------------
// Intake: is a delivery refused (without writing history), and what it changes.

export type RefusalCode = 'conflict' | 'amount_mismatch' | 'not_echeck' | 'wrong_transaction';
export interface Refusal {
  code: RefusalCode;
  message: string;
}

export function deliveryTransactionId(d: Delivery): string {
  return d.kind === 'payment' ? d.payment.transaction_id : d.event.transaction_id;
}

function sameEvent(a: VoidEvent | AchRejectEvent, b: VoidEvent | AchRejectEvent): boolean {
  const ra = a as Partial<AchRejectEvent>;
  const rb = b as Partial<AchRejectEvent>;
  return (
    a.customer === b.customer &&
    a.invoice_number === b.invoice_number &&
    a.transaction_id === b.transaction_id &&
    toCents(a.amount) === toCents(b.amount) &&
    a.message === b.message &&
    ra.return_code === rb.return_code &&
    ra.returned_at === rb.returned_at
  );
}

/** Why a delivery is refused (the `deliver` update's validator), or undefined to take it. */
export function refuseDelivery(state: TransactionState, d: Delivery): Refusal | undefined {
  const txid = deliveryTransactionId(d);
  if (txid !== state.transactionId)
    return {
      code: 'wrong_transaction',
      message: `a delivery for ${txid} reached the run of ${state.transactionId}`,
    };
  if (d.kind === 'payment') {
    if (state.payment && !samePayment(state.payment, d.payment))
      return {
        code: 'conflict',
        message: `transaction ${txid} was already received with different content; the first delivery stands`,
      };
    return undefined;
  }
  const name = d.kind === 'void' ? 'void' : 'ACH reject';
  const earlier = state.events[d.kind];
  if (earlier && !sameEvent(earlier, d.event))
    return {
      code: 'conflict',
      message: `a ${name} for ${txid} was already received with different content`,
    };
  const payment = state.payment;
  if (!payment) return undefined;
  if (toCents(payment.amount) !== toCents(d.event.amount))
    return {
      code: 'amount_mismatch',
      message: `amount ${d.event.amount} differs from payment ${txid}'s amount ${payment.amount}`,
    };
  if (d.kind === 'ach_reject' && payment.payment_method !== 'echeck')
    return {
      code: 'not_echeck',
      message: `payment ${txid} was paid by ${payment.payment_method}; only echeck payments can be ACH-rejected`,
    };
  const differences = eventDifferences(d.kind, d.event, payment);
  if (differences.length)
    return {
      code: 'conflict',
      message: `the ${name} does not match payment ${txid}: ${differences.join('; ')}`,
    };
  return undefined;
}

/** Takes a delivery the validator accepted. Returns false for an exact repeat (nothing new). */
export function takeDelivery(state: TransactionState, d: Delivery, at: string): boolean {
  if (d.kind === 'payment') {
    if (state.payment) return false;
    state.payment = d.payment;
    record(state, at, 'payment received', `${d.payment.payment_method}`);
    if (state.parked?.clearsOnPayment) state.parked = undefined;
    checkEventsAgainstPayment(state, at);
    return true;
  }
  if (state.events[d.kind]) return false;
  if (d.kind === 'void') state.events.void = d.event;
  else state.events.ach_reject = d.event;
  record(
    state,
    at,
    d.kind === 'void' ? 'void received' : 'ACH reject received',
    d.event.message || undefined,
  );
  if (!state.reversalKind) {
    state.reversalKind = d.kind;
    // Asked to reverse while IMT may hold the payment: read IMT's record now, not after the retry's backoff.
    if (state.posting.holds === 'MAYBE') state.posting.nextAt = undefined;
  }
  if (state.payment) checkEventsAgainstPayment(state, at);
  return true;
}

/** A new run's state: the delivery that started it is taken first (TransactionInput.first). */
export function startingState(input: TransactionInput, at: string): TransactionState {
  const state = newTransaction(input.transactionId, at, input.reopened === true);
  if (input.first) takeDelivery(state, input.first, at);
  return state;
}

/** An event that came before its payment is checked once the payment is there. */
function checkEventsAgainstPayment(state: TransactionState, at: string): void {
  const payment = state.payment;
  if (!payment || state.mismatch) return;
  const differences: string[] = [];
  for (const kind of ['void', 'ach_reject'] as const) {
    const event = state.events[kind];
    if (event) differences.push(...eventDifferences(kind, event, payment).map((d) => `${kind}: ${d}`));
  }
  if (differences.length === 0) return;
  state.mismatch = differences;
  record(state, at, 'an event does not match the payment', differences.join('; '));
}

// ---------------------------------------------------------------------------
// Operators.

/** What an operator's update answers: the run's status after the action, in words. */
export interface OperatorAnswer {
  workflowId: string;
  status: string;
  detail?: string;
}

export type OperatorAction =
  { action: 'retry'; by?: string } | { action: 'dismiss'; reason: string; by?: string };

/** Why an operator's action is refused in this state (the update's validator), or undefined. */
export function refuseOperator(state: TransactionState, a: OperatorAction): string | undefined {
  if (!state.parked)
    return `transaction ${state.transactionId} is ${state.status}; only a NEEDS_ATTENTION transaction can be ${a.action === 'retry' ? 'retried' : 'dismissed'}`;
  if (a.action === 'dismiss' && !a.reason.trim()) return 'a dismiss needs a reason';
  return undefined;
}

export function applyOperator(state: TransactionState, a: OperatorAction, now: number): void {
  const at = new Date(now).toISOString();
  if (a.action === 'dismiss') {
    state.dismissed = true;
    state.closingReason = a.reason;
    record(state, at, 'dismissed', `${a.reason}${a.by ? ` (by ${a.by})` : ''}`);
    return;
  }
  record(state, at, 'retry requested', a.by);
  state.parked = undefined;
  // An event still waiting for its payment: wait the full time again.
  if (!state.payment) state.since = at;
  // The person looked: an early event that did not match is set aside, the payment goes on.
  // Only that one: an event that matches the payment (a void that came meanwhile) still stands.
  if (state.mismatch) {
    state.mismatch = undefined;
    setAsideMismatchingEvents(state, at);
  }
  // A reopened run whose IMT record showed nothing: the person asks to post it.
  state.checkedImt = true;
  for (const call of [state.posting, state.reversal]) {
    call.nextAt = undefined;
    call.failedChecks = 0;
  }
}

function setAsideMismatchingEvents(state: TransactionState, at: string): void {
  const payment = state.payment;
  if (!payment) return;
  for (const kind of ['void', 'ach_reject'] as const) {
    const event = state.events[kind];
    if (event && eventDifferences(kind, event, payment).length > 0) {
      delete state.events[kind];
      record(
        state,
        at,
        `${kind === 'void' ? 'void' : 'ACH reject'} set aside by the retry`,
        'it did not match the payment',
      );
    }
  }
  const left = (['void', 'ach_reject'] as const).filter((k) => state.events[k] !== undefined);
  state.reversalKind = state.reversalKind && left.includes(state.reversalKind) ? state.reversalKind : left[0];
}

// ---------------------------------------------------------------------------
// IC's answers.

/** Whether IC's call for this kind of delivery can be answered for good now. */
export function settledFor(kind: DeliveryKind, state: TransactionState): boolean {
  const s = statusOf(state);
  if (s === PaymentStatus.NEEDS_ATTENTION || s === PaymentStatus.DISMISSED) return true;
  if (kind === 'payment') return state.posting.holds === 'YES' || s === PaymentStatus.NOT_POSTED;
  return (
    s === PaymentStatus.REVERSED || s === PaymentStatus.NOT_POSTED || s === PaymentStatus.AWAITING_PAYMENT
  );
}

/** The `deliver` update's answer: enough for the ingress to choose the HTTP answer. */
export interface DeliveryAnswer {
  transactionId: string;
  status: PaymentStatus;
  settled: boolean;
  imtHolds: ImtHolds;
  posted?: PostedPayment;
  reversed?: ReversalRecord;
  lateReturn?: boolean;
  lastError?: AttemptError;
  parkedReason?: string;
}

export function deliveryAnswer(kind: DeliveryKind, state: TransactionState): DeliveryAnswer {
  return {
    transactionId: state.transactionId,
    status: statusOf(state),
    settled: settledFor(kind, state),
    imtHolds: state.posting.holds,
    posted: state.posted,
    reversed: state.reversed,
    lateReturn: state.lateReturn,
    lastError: state.lastError,
    parkedReason: state.parked?.reason,
  };
}
