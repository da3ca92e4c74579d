/**
 * The adjustment run's decisions (domain/adjustment.ts) from tables of cases: what came in
 * (changes, operator Updates, IC's answer) → what the run does next and what it shows.
 * Milliseconds, no Temporal.
 */
import { describe, expect, it } from 'vitest';
import {
  ADJUSTMENT_KEEP,
  ADJUSTMENT_TIMING,
  AdjustmentStatus,
  afterParked,
  carryAdjustment,
  collectingWaitMs,
  hasWork,
  judgeRound,
  newAdjustment,
  nextAdjustmentStep,
  parkedWoken,
  recordRound,
  refuseAdjustmentOperator,
  roundCollects,
  takeChange,
  type AdjustmentInbox,
  type AdjustmentOperatorAction,
  type AdjustmentStep,
  type BalanceCheckResult,
  type BalanceSyncResult,
  type InvoiceAdjustmentState,
} from '../../domain';

const N = '040620240701';
const inbox = (over: Partial<AdjustmentInbox> = {}): AdjustmentInbox => ({
  changes: 0,
  handled: 0,
  retry: false,
  ...over,
});
const state = (status?: AdjustmentStatus): InvoiceAdjustmentState => ({
  ...newAdjustment(N).state,
  ...(status ? { status } : {}),
});
const sync: BalanceSyncResult = {
  invoiceNumber: N,
  balanceDue: '40.00',
  pastDue: '0.00',
  fileName: 'adjustment_040620240701_x-1.txt',
};
const check = (over: Partial<BalanceCheckResult> = {}): BalanceCheckResult => ({
  verified: true,
  checks: 2,
  icBalanceDue: '40.00',
  icPastDue: '0.00',
  ...over,
});
const short = { length: 10, continueAsNewSuggested: false };
const long = { length: ADJUSTMENT_TIMING.maxHistoryEvents + 1, continueAsNewSuggested: false };
const suggested = { length: 10, continueAsNewSuggested: true };

describe('between rounds: nextAdjustmentStep', () => {
  const cases: [string, AdjustmentInbox, boolean, typeof short, AdjustmentStep][] = [
    ['idle, nothing came: the run ends', inbox(), false, short, 'end'],
    ['idle with a long history: still ends', inbox(), false, long, 'end'],
    ['a change: a round', inbox({ changes: 1 }), true, short, 'round'],
    ['a retry: a round', inbox({ retry: true }), true, short, 'round'],
    [
      'a change, history long: continue as new first',
      inbox({ changes: 3, handled: 2 }),
      true,
      long,
      'continue-as-new',
    ],
    [
      'a change, server suggests it: continue as new',
      inbox({ changes: 1 }),
      true,
      suggested,
      'continue-as-new',
    ],
    ['a retry waits for its round: round even when long', inbox({ retry: true }), true, long, 'round'],
    [
      'history at the limit exactly: a round',
      inbox({ changes: 1 }),
      true,
      { length: ADJUSTMENT_TIMING.maxHistoryEvents, continueAsNewSuggested: false },
      'round',
    ],
  ];
  it.each(cases)('%s', (_name, ib, woken, history, want) => {
    expect(nextAdjustmentStep(ib, woken, history)).toBe(want);
  });
});

describe('what a round does first', () => {
  const cases: [string, AdjustmentInbox, boolean, boolean][] = [
    // name, inbox, has work, collects a quiet period
    ['nothing', inbox(), false, false],
    ['new changes', inbox({ changes: 2, handled: 1 }), true, true],
    ['all changes handled', inbox({ changes: 2, handled: 2 }), false, false],
    ['a bare retry sends at once', inbox({ changes: 2, handled: 2, retry: true }), true, false],
    ['a retry with a new change collects', inbox({ changes: 3, handled: 2, retry: true }), true, true],
  ];
  it.each(cases)('%s', (_name, ib, work, collects) => {
    expect(hasWork(ib)).toBe(work);
    expect(roundCollects(ib)).toBe(collects);
  });
});

describe('collecting a burst: collectingWaitMs', () => {
  const { quietMs, maxCollectingMs } = ADJUSTMENT_TIMING;
  const cases: [string, number, number][] = [
    ['just started: a quiet period', 0, quietMs],
    ['well inside the window: a quiet period', 10_000, quietMs],
    ['near the end: only what is left', maxCollectingMs - 500, 500],
    ['window over: send now', maxCollectingMs, 0],
    ['past the window: send now', maxCollectingMs + 5_000, 0],
  ];
  it.each(cases)('%s', (_name, elapsed, want) => {
    expect(collectingWaitMs(1_000, 1_000 + elapsed)).toBe(want);
  });
});

describe("IC's answer decides the round: judgeRound", () => {
  const cases: [string, BalanceCheckResult, AdjustmentStatus, string][] = [
    ['IC shows the balance', check(), AdjustmentStatus.VERIFIED, 'IC shows 40.00 (past due 0.00)'],
    [
      'IC shows another balance',
      check({ verified: false, checks: 15, icBalanceDue: '45.00', icPastDue: '5.00' }),
      AdjustmentStatus.NEEDS_ATTENTION,
      'after 15 checks IC shows balance 45.00, past due 5.00',
    ],
    [
      'IC does not know the invoice',
      check({ verified: false, checks: 5, icBalanceDue: null, icPastDue: null }),
      AdjustmentStatus.NEEDS_ATTENTION,
      'after 5 checks IC does not show the invoice',
    ],
  ];
  it.each(cases)('%s', (_name, c, status, detail) => {
    const verdict = judgeRound(N, sync, c);
    expect(verdict.status).toBe(status);
    expect(verdict.detail).toContain(detail);
    if (verdict.status === AdjustmentStatus.NEEDS_ATTENTION) {
      expect(verdict.error).toEqual({ type: 'IcBalanceMismatch', message: verdict.detail });
      expect(verdict.detail).toContain(`sent balance 40.00, past due 0.00 (${sync.fileName})`);
      expect(verdict.alert.title).toBe(
        `Balance update of invoice ${N} needs attention: IC does not show IMT's balance`,
      );
      expect(verdict.alert.text).toContain(`imt-ic adjustments retry ${N}`);
      expect(verdict.alert.text).toContain(`imt-ic adjustments dismiss ${N}`);
    }
  });
});

describe('a parked run wakes: parkedWoken and afterParked', () => {
  const cases: [string, AdjustmentInbox, boolean, 'dismissed' | 'retry' | undefined][] = [
    ['nothing yet: stays parked', inbox({ changes: 1, handled: 1 }), false, undefined],
    ['an operator retries', inbox({ changes: 1, handled: 1, retry: true }), true, 'retry'],
    ['IMT reports a new change: sends again', inbox({ changes: 2, handled: 1 }), true, 'retry'],
    [
      'dismissed',
      inbox({ changes: 1, handled: 1, dismissal: { reason: 'fixed by hand' } }),
      true,
      'dismissed',
    ],
    [
      'dismissed while a change came: the person decided',
      inbox({ changes: 2, handled: 1, dismissal: { reason: 'fixed by hand', by: 'ann' } }),
      true,
      'dismissed',
    ],
  ];
  it.each(cases)('%s', (_name, ib, woken, want) => {
    const s = state(AdjustmentStatus.NEEDS_ATTENTION);
    expect(parkedWoken(ib)).toBe(woken);
    if (!want) return;
    expect(afterParked(s, ib)).toBe(want);
    if (want === 'dismissed') {
      expect(s).toMatchObject({ status: AdjustmentStatus.DISMISSED, closingReason: 'fixed by hand' });
      expect(s.dismissedBy).toBe(ib.dismissal?.by);
    } else {
      expect(s.status).toBe(AdjustmentStatus.NEEDS_ATTENTION);
      expect(ib.retry).toBe(true);
    }
  });
});

describe('operator Updates are refused in the wrong state: refuseAdjustmentOperator', () => {
  const retry: AdjustmentOperatorAction = { action: 'retry', by: 'ann' };
  const dismiss: AdjustmentOperatorAction = { action: 'dismiss', reason: 'fixed in IC' };
  const cases: [
    string,
    AdjustmentStatus | undefined,
    AdjustmentInbox,
    AdjustmentOperatorAction,
    string | undefined,
  ][] = [
    ['retry while parked', AdjustmentStatus.NEEDS_ATTENTION, inbox(), retry, undefined],
    ['dismiss while parked', AdjustmentStatus.NEEDS_ATTENTION, inbox(), dismiss, undefined],
    [
      'retry while collecting',
      AdjustmentStatus.COLLECTING,
      inbox(),
      retry,
      'is COLLECTING; only a NEEDS_ATTENTION one can be retried',
    ],
    ['retry while verifying', AdjustmentStatus.VERIFYING, inbox(), retry, 'is VERIFYING'],
    [
      'dismiss once verified',
      AdjustmentStatus.VERIFIED,
      inbox(),
      dismiss,
      'is VERIFIED; only a NEEDS_ATTENTION one can be dismissed',
    ],
    ['dismiss once dismissed', AdjustmentStatus.DISMISSED, inbox(), dismiss, 'is DISMISSED'],
    ['retry with credentials refused', AdjustmentStatus.AUTH_REJECTED, inbox(), retry, 'is AUTH_REJECTED'],
    [
      'a second retry before the first started',
      AdjustmentStatus.NEEDS_ATTENTION,
      inbox({ retry: true }),
      retry,
      'already being retried',
    ],
    [
      'retry while being dismissed',
      AdjustmentStatus.NEEDS_ATTENTION,
      inbox({ dismissal: { reason: 'x' } }),
      retry,
      'being dismissed',
    ],
    [
      'dismiss without a reason',
      AdjustmentStatus.NEEDS_ATTENTION,
      inbox(),
      { action: 'dismiss', reason: '  ' },
      'a dismiss needs a reason',
    ],
  ];
  it.each(cases)('%s', (_name, status, ib, action, want) => {
    const refusal = refuseAdjustmentOperator(state(status), ib, action);
    if (want === undefined) expect(refusal).toBeUndefined();
    else expect(refusal).toContain(want);
  });
});

describe('the state stays bounded and survives continue-as-new', () => {
  it('keeps at most the configured reasons, syncs and checks', () => {
    const { state: s, inbox: ib } = newAdjustment(N);
    for (let i = 0; i < 60; i += 1) takeChange(s, ib, `change ${i}`);
    takeChange(s, ib);
    expect(ib.changes).toBe(61);
    expect(s.reasons).toHaveLength(ADJUSTMENT_KEEP.reasons);
    expect(s.reasons[0]).toBe('change 0');
    for (let i = 0; i < 30; i += 1) recordRound(s, { ...sync, fileName: `f-${i}` }, check({ checks: i }));
    expect(s.syncs).toHaveLength(ADJUSTMENT_KEEP.syncs);
    expect(s.syncs.at(-1)?.fileName).toBe('f-29');
    expect(s.checks).toHaveLength(ADJUSTMENT_KEEP.checks);
    expect(s.checks?.at(-1)?.checks).toBe(29);
  });

  const cases: [string, AdjustmentInbox, boolean][] = [
    ['a change no round covered goes with the state', inbox({ changes: 5, handled: 4 }), true],
    ['everything covered: nothing pending', inbox({ changes: 5, handled: 5 }), false],
  ];
  it.each(cases)('%s', (_name, ib, pending) => {
    const s = state(AdjustmentStatus.VERIFIED);
    s.reasons.push('late fee');
    const carried = carryAdjustment(s, ib);
    expect(carried.pending).toBe(pending);
    const next = newAdjustment(N, carried);
    expect(next.state).toEqual(s);
    expect(hasWork(next.inbox)).toBe(pending);
    expect(nextAdjustmentStep(next.inbox, pending, short)).toBe(pending ? 'round' : 'end');
  });
});
