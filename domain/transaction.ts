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
import { isLateReturn } from './ach-return-window';
import type { AttemptError } from './failures';
import { toCents } from './money';
import {
  PaymentStatus,
  samePayment,
  type ImtHolds,
  type PaymentEvent,
  type PaymentRequest,
  type PostedPayment,
} from './payment';
import {
  eventDifferences,
  type AchRejectEvent,
  type ReversalKind,
  type VoidEvent,
} from './void-and-ach-reject';

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
};

/** The run's input: started by the ingress's update-with-start, or carried by continue-as-new. */
export interface TransactionInput {
  transactionId: string;
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
  if (!state.reversalKind) state.reversalKind = d.kind;
  if (state.payment) checkEventsAgainstPayment(state, at);
  return true;
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

// ---------------------------------------------------------------------------
// Outcomes of the calls to IMT.

/** A failed attempt as the workflow read it (workflows/failures.ts). */
export interface AttemptFailure {
  permanent: boolean;
  outcomeUnknown: boolean;
  definiteRejection: boolean;
  /** Retry-After, or the slow retry of a 403. */
  nextRetryDelayMs?: number;
  /** Few failures lately (retry budget / IMT answering others): retry soon. */
  oneOff?: boolean;
  error: AttemptError;
}

export type CallOutcome<T> = { ok: T } | { failed: AttemptFailure };

export const RETRY_INITIAL_MS = 1000;
export const RETRY_MAX_MS = 5 * 60 * 1000;
export const ONE_OFF_RETRY_MAX_MS = 30 * 1000;

export function backoffMs(attempt: number, capMs = RETRY_MAX_MS): number {
  return Math.min(RETRY_INITIAL_MS * 2 ** Math.max(0, attempt - 1), capMs);
}

function retryDelay(call: MoneyCall, f: AttemptFailure): number {
  return Math.max(
    f.nextRetryDelayMs ?? 0,
    backoffMs(call.attempts, f.oneOff ? ONE_OFF_RETRY_MAX_MS : RETRY_MAX_MS),
  );
}

/** A failed attempt of a money call: what IMT may hold now, and what comes next. */
function afterFailure(
  state: TransactionState,
  call: MoneyCall,
  f: AttemptFailure,
  now: number,
  what: 'posting' | 'reversal',
): void {
  const at = new Date(now).toISOString();
  state.lastError = f.error;
  record(state, at, `${what} attempt failed`, `${f.error.type}: ${f.error.message}`);
  if (f.outcomeUnknown) {
    call.holds = 'MAYBE';
    call.uncertain = true;
    call.uncertainAt = at;
  } else if (f.definiteRejection && call.uncertain) {
    // A refusal of a repeat proves nothing (C3): IMT's record decides, after the settle time.
    call.mustCheck = true;
    call.nextAt = undefined;
    record(state, at, `IMT refused a repeat of an uncertain ${what}`, "reading IMT's record instead");
    return;
  } else if (f.definiteRejection) call.holds = 'NO';

  if (f.permanent) {
    call.nextAt = undefined;
    const mayHold = call.holds === 'MAYBE';
    // A payment IMT refused for sure, with its void already here: nothing to undo.
    if (what === 'posting' && !mayHold && state.reversalKind) return;
    state.parked = {
      reason: `IMT did not take the ${what} (${f.error.type}): ${f.error.message}${mayHold ? ' — IMT MAY HOLD it' : ''}`,
      imtMayHold: mayHold,
      since: at,
    };
    return;
  }
  call.nextAt = now + retryDelay(call, f);
}

export function afterPosting(
  state: TransactionState,
  outcome: CallOutcome<PostedPayment>,
  now: number,
): void {
  const call = state.posting;
  call.attempts += 1;
  if ('failed' in outcome) return afterFailure(state, call, outcome.failed, now, 'posting');
  const at = new Date(now).toISOString();
  call.holds = 'YES';
  call.uncertain = false;
  call.mustCheck = false;
  call.nextAt = undefined;
  state.posted = outcome.ok;
  state.postedAt = at;
  state.lastError = undefined;
  record(state, at, 'posted', `IMT payment id ${outcome.ok.id}`);
}

/** IMT's answer to a reversal must name what was sent (like a posting's). */
export function reversalMismatch(
  sent: { transaction_id: string; reversal_type: ReversalKind; amount: string },
  got: { transaction_id: string; reversal_type: string; amount: string },
): string | undefined {
  const problems: string[] = [];
  if (got.transaction_id !== sent.transaction_id)
    problems.push(`transaction_id ${got.transaction_id} instead of ${sent.transaction_id}`);
  if (got.reversal_type !== sent.reversal_type)
    problems.push(`reversal_type ${got.reversal_type} instead of ${sent.reversal_type}`);
  if (!sameCents(got.amount, sent.amount)) problems.push(`amount ${got.amount} instead of ${sent.amount}`);
  return problems.length ? problems.join(' and ') : undefined;
}

function sameCents(a: string, b: string): boolean {
  try {
    return toCents(a) === toCents(b);
  } catch {
    return false;
  }
}

/** The reversal IMT is asked for (contracts C2), from the event that owns it. */
export function reversalRequest(state: TransactionState) {
  const kind = state.reversalKind!;
  const event = state.events[kind];
  const payment = state.payment;
  const amount = payment?.amount ?? event?.amount ?? state.posted?.amount ?? '0.00';
  return {
    customer: payment?.customer ?? event!.customer,
    invoice_number: payment?.invoice_number ?? event!.invoice_number,
    transaction_id: state.transactionId,
    reversal_type: kind,
    return_code: kind === 'ach_reject' ? (event as AchRejectEvent).return_code : null,
    amount,
    message: event?.message ?? '',
    source: 'invoice_cloud' as const,
  };
}

export function afterReversal(
  state: TransactionState,
  outcome: CallOutcome<{
    id: number | string;
    transaction_id: string;
    reversal_type: string;
    amount: string;
  }>,
  now: number,
): void {
  const call = state.reversal;
  call.attempts += 1;
  if ('failed' in outcome) return afterFailure(state, call, outcome.failed, now, 'reversal');
  const at = new Date(now).toISOString();
  const sent = reversalRequest(state);
  const mismatch = reversalMismatch(sent, outcome.ok);
  call.holds = 'YES';
  call.uncertain = false;
  call.mustCheck = false;
  call.nextAt = undefined;
  state.lastError = undefined;
  state.reversed = {
    id: outcome.ok.id,
    reversal_type: sent.reversal_type,
    amount: outcome.ok.amount,
    return_code: sent.return_code,
  };
  markLateReturn(state);
  record(state, at, 'reversed', `IMT reversal id ${outcome.ok.id}`);
  if (mismatch)
    state.parked = {
      reason: `IMT confirmed the reversal with ${mismatch}; compare IMT's ledger with IC`,
      imtMayHold: true,
      since: at,
    };
}

function markLateReturn(state: TransactionState): void {
  const event = state.events.ach_reject;
  if (state.reversalKind !== 'ach_reject' || !event || !state.postedAt) return;
  state.lateReturn = isLateReturn(event.return_code, state.postedAt, event.returned_at);
}

/** What IMT's record (contracts C4) says of this transaction. */
export interface ImtRecord {
  id: number | string;
  transaction_id: string;
  amount: string;
  posted_at: string;
  reversals: { id: number | string; reversal_type: string; amount: string; return_code?: string | null }[];
}
export type CheckOutcome = { found: ImtRecord } | { absent: true } | { failed: AttemptError };

/** After this many failed reads of IMT's record in a row, a person is asked. */
export const MAX_FAILED_CHECKS = 5;

/**
 * IMT's record of the transaction decides what an uncertain call did, and what a reopened
 * run starts from. Absent counts only once the settle time since the last uncertain attempt
 * (or the run's start) has passed.
 */
export function afterCheck(
  state: TransactionState,
  outcome: CheckOutcome,
  now: number,
  timing: TransactionTiming,
): void {
  const at = new Date(now).toISOString();
  const checkingReversal = state.posting.holds === 'YES' && state.reversal.mustCheck;
  const call = checkingReversal ? state.reversal : state.posting;
  if ('failed' in outcome) {
    call.failedChecks += 1;
    state.lastError = outcome.failed;
    record(state, at, "IMT's record could not be read", outcome.failed.message);
    if (call.failedChecks >= MAX_FAILED_CHECKS)
      state.parked = {
        reason: `IMT's record of the transaction could not be read (${outcome.failed.message}); IMT MAY HOLD it`,
        imtMayHold: true,
        since: at,
      };
    else call.nextAt = now + backoffMs(call.failedChecks + 2);
    return;
  }
  call.failedChecks = 0;
  // A payment IMT holds is proof at once; its absence (or a reversal's) only after the settle time.
  if ('found' in outcome && (!checkingReversal || outcome.found.reversals.length > 0)) {
    applyFound(state, outcome.found, at);
    return;
  }
  const from = Date.parse(call.uncertainAt ?? state.since);
  if (now < from + timing.settleMs) {
    call.nextAt = from + timing.settleMs;
    record(state, at, "IMT's record does not show it yet", 'reading it again after the settle time');
    return;
  }
  // Absent after the settle time: IMT does not hold it.
  state.checkedImt = true;
  const refused = call.mustCheck;
  call.holds = 'NO';
  call.uncertain = false;
  call.mustCheck = false;
  call.nextAt = undefined;
  record(state, at, "IMT's record does not hold it", checkingReversal ? 'the reversal' : 'the payment');
  if (checkingReversal) {
    // IMT refused the repeat of a reversal it does not hold: that refusal stands.
    state.parked = {
      reason: `IMT refused the reversal and holds none: ${state.lastError?.message ?? ''}`,
      imtMayHold: true,
      since: at,
    };
    return;
  }
  if (state.reopened && !refused && state.posting.attempts === 0 && !state.reversalKind) {
    state.parked = {
      reason:
        'this transaction had a run that closed, and IMT holds no payment for it: a person decides (retry posts it, dismiss closes it)',
      imtMayHold: false,
      since: at,
    };
    return;
  }
  if (refused && !state.reversalKind)
    state.parked = {
      reason: `IMT refused the payment and its record confirms it does not hold it: ${state.lastError?.message ?? ''}`,
      imtMayHold: false,
      since: at,
    };
}

function applyFound(state: TransactionState, found: ImtRecord, at: string): void {
  state.checkedImt = true;
  const p = state.posting;
  p.holds = 'YES';
  p.uncertain = false;
  p.mustCheck = false;
  p.nextAt = undefined;
  state.posted = { id: found.id, transaction_id: found.transaction_id, amount: found.amount };
  state.postedAt = found.posted_at;
  record(state, at, "IMT's record holds the payment", `IMT payment id ${found.id}`);
  const expected = state.payment?.amount ?? state.events[state.reversalKind ?? 'void']?.amount;
  if (expected !== undefined && !sameCents(found.amount, expected)) {
    state.parked = {
      reason: `IMT holds this transaction with amount ${found.amount}, IC sent ${expected}; compare IMT's ledger with IC`,
      imtMayHold: true,
      since: at,
    };
    return;
  }
  const reversal = found.reversals[0];
  if (reversal) {
    const r = state.reversal;
    r.holds = 'YES';
    r.uncertain = false;
    r.mustCheck = false;
    r.nextAt = undefined;
    state.reversed = {
      id: reversal.id,
      reversal_type: reversal.reversal_type as ReversalKind,
      amount: reversal.amount,
      return_code: reversal.return_code,
    };
    record(state, at, "IMT's record holds a reversal", `${reversal.reversal_type} ${reversal.id}`);
  }
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
  if (state.mismatch) {
    state.mismatch = undefined;
    state.reversalKind = undefined;
  }
  // A reopened run whose IMT record showed nothing: the person asks to post it.
  state.checkedImt = true;
  for (const call of [state.posting, state.reversal]) {
    call.nextAt = undefined;
    call.failedChecks = 0;
  }
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
