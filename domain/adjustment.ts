/** Invoice adjustments (contracts B `…/<invoice_number>/adjusted`). */

export const invoiceAdjustedWorkflowId = (invoiceNumber: string) => `invoice-adjusted-${invoiceNumber}`;

export const AdjustmentStatus = {
  /** Collecting a burst of changes (a quiet period) before one update is sent. */
  COLLECTING: 'COLLECTING',
  /** Reading IMT's balance and sending it to IC as a one-row file. */
  SYNCING: 'SYNCING',
  /** Asking IC (ViewInvoiceByInvoiceNumber) until it shows the balance sent. */
  VERIFYING: 'VERIFYING',
  /** IC shows IMT's balance; further changes within a minute start another round. */
  VERIFIED: 'VERIFIED',
  /** IC refuses our credentials: alerted once, retried slowly until they are fixed. */
  AUTH_REJECTED: 'AUTH_REJECTED',
  /** IC still shows another balance after the checks: alerted; `retry` or `dismiss`. */
  NEEDS_ATTENTION: 'NEEDS_ATTENTION',
  DISMISSED: 'DISMISSED',
} as const;
export type AdjustmentStatus = (typeof AdjustmentStatus)[keyof typeof AdjustmentStatus];

/** One round: IMT's balance sent to IC as a one-row file. */
export interface BalanceSyncResult {
  invoiceNumber: string;
  balanceDue: string;
  pastDue: string;
  fileName: string;
}

/** What IC showed when the round was checked. */
export interface BalanceCheckResult {
  verified: boolean;
  /** ViewInvoiceByInvoiceNumber calls made. */
  checks: number;
  /** IC's values at the last check; null when IC did not know the invoice (yet). */
  icBalanceDue: string | null;
  icPastDue: string | null;
}

export interface InvoiceAdjustmentState {
  invoiceNumber: string;
  status?: AdjustmentStatus;
  reasons: string[];
  syncs: BalanceSyncResult[];
  checks?: BalanceCheckResult[];
  lastError?: { type: string; message: string };
  closingReason?: string;
  /** Who dismissed it (`--by`), when given. */
  dismissedBy?: string;
}

// ---------------------------------------------------------------------------
// The run's decisions (workflows/invoice-adjustment.ts): state + what came in → what next.
// Pure, unit-tested from tables of cases (test/unit/adjustment.test.ts).

export interface AdjustmentTiming {
  /** A change followed by this much quiet is sent; more changes meanwhile join the same update. */
  quietMs: number;
  /** A steady stream of changes still sends an update this often. */
  maxCollectingMs: number;
  /** Idle this long after the last round: the run ends (a later change starts a new one). */
  idleMs: number;
  /** Past this many history events the run continues as new between rounds. */
  maxHistoryEvents: number;
  /** How long a `retry` Update waits for the round it asked for before it answers. */
  operatorWaitMs: number;
}

export const ADJUSTMENT_TIMING: AdjustmentTiming = {
  quietMs: 2_000,
  maxCollectingMs: 30_000,
  idleMs: 60_000,
  maxHistoryEvents: 2_000,
  operatorWaitMs: 10_000,
};

/** Kept per run so the state (query, result, continue-as-new input) stays small. */
export const ADJUSTMENT_KEEP = { reasons: 50, syncs: 20, checks: 20 } as const;

/** What came in besides the state: changes from IMT (signals) and what an operator asked (Updates). */
export interface AdjustmentInbox {
  /** Changes received by this run. */
  changes: number;
  /** Changes already covered by a round (its sync reads IMT's balance after them). */
  handled: number;
  /** An operator's `retry`, or a change while parked: the next round sends again. */
  retry: boolean;
  dismissal?: { reason: string; by?: string };
}

/** What the next run of a continued-as-new adjustment starts from. */
export interface AdjustmentCarry {
  state: InvoiceAdjustmentState;
  /** A change came that no round has covered yet. */
  pending: boolean;
}

/** The workflow's second argument: absent when the ingress starts it; set by continue-as-new (and tests). */
export interface AdjustmentRunOptions {
  carried?: AdjustmentCarry;
  timing?: Partial<AdjustmentTiming>;
}

export function newAdjustment(invoiceNumber: string, carried?: AdjustmentCarry) {
  const state: InvoiceAdjustmentState = carried?.state ?? {
    invoiceNumber,
    status: AdjustmentStatus.COLLECTING,
    reasons: [],
    syncs: [],
    checks: [],
  };
  const inbox: AdjustmentInbox = { changes: carried?.pending ? 1 : 0, handled: 0, retry: false };
  return { state, inbox };
}

export function carryAdjustment(state: InvoiceAdjustmentState, inbox: AdjustmentInbox): AdjustmentCarry {
  return { state, pending: inbox.changes > inbox.handled };
}

/** A change from IMT (the `invoiceAdjusted` signal). */
export function takeChange(state: InvoiceAdjustmentState, inbox: AdjustmentInbox, reason?: string): void {
  inbox.changes += 1;
  if (reason && state.reasons.length < ADJUSTMENT_KEEP.reasons) state.reasons.push(reason);
}

/** Whether the run has a round to do (what its idle wait wakes up for). */
export const hasWork = (inbox: AdjustmentInbox): boolean => inbox.changes > inbox.handled || inbox.retry;

export type AdjustmentStep = 'end' | 'continue-as-new' | 'round';

/**
 * Between rounds. `woken`: work came before the idle time ran out. The history is read now
 * (not at start); a requested retry is done first, since its Update waits for the round.
 */
export function nextAdjustmentStep(
  inbox: AdjustmentInbox,
  woken: boolean,
  history: { length: number; continueAsNewSuggested: boolean },
  timing: Pick<AdjustmentTiming, 'maxHistoryEvents'> = ADJUSTMENT_TIMING,
): AdjustmentStep {
  if (!woken && !hasWork(inbox)) return 'end';
  const long = history.length > timing.maxHistoryEvents || history.continueAsNewSuggested;
  if (long && !inbox.retry) return 'continue-as-new';
  return 'round';
}

/** A round collects a quiet period only when new changes started it (a bare retry sends at once). */
export const roundCollects = (inbox: AdjustmentInbox): boolean => inbox.changes > inbox.handled;

/**
 * While collecting: how long to wait for another change, or 0 when the update is sent now
 * (quiet for `quietMs` after the last change, or collecting for `maxCollectingMs`).
 */
export function collectingWaitMs(
  sinceMs: number,
  nowMs: number,
  timing: Pick<AdjustmentTiming, 'quietMs' | 'maxCollectingMs'> = ADJUSTMENT_TIMING,
): number {
  const left = timing.maxCollectingMs - (nowMs - sinceMs);
  return left <= 0 ? 0 : Math.min(timing.quietMs, left);
}

/** The round's sync and check, kept in the state (bounded). */
export function recordRound(
  state: InvoiceAdjustmentState,
  sync: BalanceSyncResult,
  check: BalanceCheckResult,
): void {
  state.syncs.push(sync);
  if (state.syncs.length > ADJUSTMENT_KEEP.syncs)
    state.syncs.splice(0, state.syncs.length - ADJUSTMENT_KEEP.syncs);
  const checks = (state.checks ??= []);
  checks.push(check);
  if (checks.length > ADJUSTMENT_KEEP.checks) checks.splice(0, checks.length - ADJUSTMENT_KEEP.checks);
}

export interface AdjustmentAlert {
  title: string;
  text: string;
}

export type RoundVerdict =
  | { status: typeof AdjustmentStatus.VERIFIED; detail: string }
  | {
      status: typeof AdjustmentStatus.NEEDS_ATTENTION;
      detail: string;
      error: { type: 'IcBalanceMismatch'; message: string };
      alert: AdjustmentAlert;
    };

/** What IC showed after the sync decides the round: verified, or parked with one alert. */
export function judgeRound(
  invoiceNumber: string,
  sync: BalanceSyncResult,
  check: BalanceCheckResult,
): RoundVerdict {
  if (check.verified)
    return {
      status: AdjustmentStatus.VERIFIED,
      detail: `IC shows ${sync.balanceDue} (past due ${sync.pastDue})`,
    };
  const shown =
    check.icBalanceDue === null
      ? 'IC does not show the invoice'
      : `IC shows balance ${check.icBalanceDue}, past due ${check.icPastDue}`;
  const message = `sent balance ${sync.balanceDue}, past due ${sync.pastDue} (${sync.fileName}); after ${check.checks} checks ${shown}`;
  return {
    status: AdjustmentStatus.NEEDS_ATTENTION,
    detail: message,
    error: { type: 'IcBalanceMismatch', message },
    alert: {
      title: `Balance update of invoice ${invoiceNumber} needs attention: IC does not show IMT's balance`,
      text: `${message}. Check the invoice in IC, then \`imt-ic adjustments retry ${invoiceNumber}\` (send and check again) or \`imt-ic adjustments dismiss ${invoiceNumber} --reason …\`.`,
    },
  };
}

/** Whether a parked run has something to act on: a dismissal, a retry or a new change. */
export const parkedWoken = (inbox: AdjustmentInbox): boolean =>
  inbox.dismissal !== undefined || hasWork(inbox);

/**
 * A parked run woke: a dismissal closes it (even when a change came with it — the person
 * decided), anything else sends IMT's current balance again.
 */
export function afterParked(state: InvoiceAdjustmentState, inbox: AdjustmentInbox): 'dismissed' | 'retry' {
  if (inbox.dismissal) {
    state.status = AdjustmentStatus.DISMISSED;
    state.closingReason = inbox.dismissal.reason;
    if (inbox.dismissal.by) state.dismissedBy = inbox.dismissal.by;
    return 'dismissed';
  }
  inbox.retry = true;
  return 'retry';
}

export type AdjustmentOperatorAction =
  { action: 'retry'; by?: string } | { action: 'dismiss'; reason: string; by?: string };

/** Why an operator's Update is refused in this state (its validator), or undefined. */
export function refuseAdjustmentOperator(
  state: InvoiceAdjustmentState,
  inbox: AdjustmentInbox,
  a: AdjustmentOperatorAction,
): string | undefined {
  if (state.status !== AdjustmentStatus.NEEDS_ATTENTION)
    return `the balance update of invoice ${state.invoiceNumber} is ${state.status ?? 'starting'}; only a NEEDS_ATTENTION one can be ${a.action === 'retry' ? 'retried' : 'dismissed'}`;
  if (inbox.dismissal) return `the balance update of invoice ${state.invoiceNumber} is being dismissed`;
  if (inbox.retry) return `the balance update of invoice ${state.invoiceNumber} is already being retried`;
  if (a.action === 'dismiss' && !(typeof a.reason === 'string' && a.reason.trim()))
    return 'a dismiss needs a reason';
  return undefined;
}

export function authRejectedAlert(invoiceNumber: string, message: string): AdjustmentAlert {
  return {
    title: `Balance update of invoice ${invoiceNumber}: IC rejects the credentials`,
    text: `${message}. Fix IC_BILLER_GUID / IC_WEB_SERVICE_KEY; the update resumes by itself.`,
  };
}

export function adjustmentFailedAlert(invoiceNumber: string, type: string, message: string): AdjustmentAlert {
  return {
    title: `Balance update of invoice ${invoiceNumber} failed`,
    text: `${type}: ${message}. IC may show an old balance for ${invoiceNumber}; a new change from IMT starts a new update (\`imt-ic balances refresh --cycle …\` sends every balance IC lacks).`,
  };
}
