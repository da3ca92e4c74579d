/**
 * What the answers of IMT's calls — a posting, a reversal, a read of IMT's record (C4) — do
 * to a transaction (domain/transaction.ts). The money rule lives here: an unknown outcome
 * means IMT MAY hold it, and only IMT's confirmation or its record changes that.
 */
import { isLateReturn } from './ach-return-window';
import type { AttemptError } from './failures';
import { toCents } from './money';
import type { PostedPayment } from './payment';
import { record, type MoneyCall, type TransactionState, type TransactionTiming } from './transaction';
import type { AchRejectEvent, ReversalKind } from './void-and-ach-reject';

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

/** A money call whose outcome IMT has made certain: nothing left to retry or to check. */
function settle(call: MoneyCall, holds: 'YES' | 'NO'): void {
  call.holds = holds;
  call.uncertain = false;
  call.mustCheck = false;
  call.nextAt = undefined;
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
  settle(call, 'YES');
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
  settle(call, 'YES');
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
  settle(call, 'NO');
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
  settle(p, 'YES');
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
    settle(r, 'YES');
    state.reversed = {
      id: reversal.id,
      reversal_type: reversal.reversal_type as ReversalKind,
      amount: reversal.amount,
      return_code: reversal.return_code,
    };
    record(state, at, "IMT's record holds a reversal", `${reversal.reversal_type} ${reversal.id}`);
  }
}
