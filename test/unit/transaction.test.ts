/**
 * The transaction's decisions (domain/transaction*.ts) from tables of cases: state + event or
 * outcome → what the run does next and what it shows. Milliseconds, no Temporal.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TIMING,
  afterCheck,
  afterPosting,
  afterReversal,
  applyOperator,
  newTransaction,
  nextStep,
  refuseDelivery,
  refuseOperator,
  reversalMismatch,
  settledFor,
  statusOf,
  takeDelivery,
  type AttemptFailure,
  type Delivery,
  type PaymentRequest,
  type TransactionState,
} from '../../domain';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const at = (ms = 0) => new Date(T0 + ms).toISOString();
const timing = { ...DEFAULT_TIMING, settleMs: 60_000, awaitPaymentMs: 3_600_000 };

const payment = (over: Partial<PaymentRequest> = {}): PaymentRequest => ({
  customer: '0406',
  invoice_number: '040620220901',
  transaction_id: 'T1',
  amount: '50.00',
  payment_method: 'echeck',
  message: '',
  source: 'invoice_cloud',
  ...over,
});
const voidEvent = (amount = '50.00') => ({
  customer: '0406',
  invoice_number: '040620220901',
  transaction_id: 'T1',
  amount,
  message: '',
});
const achEvent = (amount = '50.00') => ({
  ...voidEvent(amount),
  return_code: 'R01',
  returned_at: '2026-12-02',
});
const deliveries = {
  payment: (over: Partial<PaymentRequest> = {}): Delivery => ({ kind: 'payment', payment: payment(over) }),
  void: (amount?: string): Delivery => ({ kind: 'void', event: voidEvent(amount) }),
  ach: (amount?: string): Delivery => ({ kind: 'ach_reject', event: achEvent(amount) }),
};

const failure = (over: Partial<AttemptFailure>): AttemptFailure => ({
  permanent: false,
  outcomeUnknown: false,
  definiteRejection: false,
  error: { type: 'X', message: 'x', at: at() },
  ...over,
});
const UNKNOWN = failure({
  outcomeUnknown: true,
  error: { type: 'AmbiguousTimeout', message: 'no answer', at: at() },
});
const REFUSED = failure({
  permanent: true,
  definiteRejection: true,
  error: { type: 'InvalidPost', message: 'balance', at: at() },
});
const BUSY = failure({ nextRetryDelayMs: 7000, error: { type: 'RateLimited', message: '429', at: at() } });
const POSTED = { ok: { id: 9, transaction_id: 'T1', amount: '50.00' } };
const FOUND = {
  found: { id: 9, transaction_id: 'T1', amount: '50.00', posted_at: at(), reversals: [] },
};

/** A transaction built by applying steps in order, as the run would. */
function build(...steps: ((s: TransactionState) => void)[]): TransactionState {
  const s = newTransaction('T1', at(), false);
  for (const step of steps) step(s);
  s.status = statusOf(s);
  return s;
}
const got = (d: Delivery) => (s: TransactionState) => void takeDelivery(s, d, at());
const post =
  (outcome: Parameters<typeof afterPosting>[1], ms = 0) =>
  (s: TransactionState) =>
    afterPosting(s, outcome, T0 + ms);
const check =
  (outcome: Parameters<typeof afterCheck>[1], ms = 0) =>
  (s: TransactionState) =>
    afterCheck(s, outcome, T0 + ms, timing);

describe('what the run does next, and what it shows', () => {
  const cases: [string, TransactionState, string, string][] = [
    ['a payment just received is posted', build(got(deliveries.payment())), 'post', 'POSTING'],
    [
      'a posted payment sleeps until its window closes',
      build(got(deliveries.payment()), post(POSTED)),
      'wait',
      'POSTED',
    ],
    ['a void first waits for its payment', build(got(deliveries.void())), 'wait', 'AWAITING_PAYMENT'],
    [
      'a void before its payment: the payment is never posted',
      build(got(deliveries.void()), got(deliveries.payment())),
      'wait',
      'NOT_POSTED',
    ],
    [
      'an early void that does not match parks the payment, unposted',
      build(got(deliveries.void('1.00')), got(deliveries.payment())),
      'park',
      'NEEDS_ATTENTION',
    ],
    [
      'an unknown outcome: IMT may hold it, retried after a backoff',
      build(got(deliveries.payment()), post({ failed: UNKNOWN })),
      'wait',
      'MAYBE_POSTED',
    ],
    [
      'an unknown outcome, then a void: IMT’s record decides (never "not posted" from memory)',
      build(got(deliveries.payment()), post({ failed: UNKNOWN }), got(deliveries.void())),
      'check',
      'MAYBE_POSTED',
    ],
    [
      'an unknown outcome, then a definite 400 on the repeat: IMT’s record decides (defect 1)',
      build(got(deliveries.payment()), post({ failed: UNKNOWN }), post({ failed: REFUSED }, 2000)),
      'check',
      'MAYBE_POSTED',
    ],
    [
      '…and the record holds it: posted',
      build(got(deliveries.payment()), post({ failed: UNKNOWN }), post({ failed: REFUSED }), check(FOUND)),
      'wait',
      'POSTED',
    ],
    [
      '…and the record does not hold it yet, within the settle time: read again later',
      build(
        got(deliveries.payment()),
        post({ failed: UNKNOWN }),
        post({ failed: REFUSED }),
        check({ absent: true }, 1000),
      ),
      'wait',
      'MAYBE_POSTED',
    ],
    [
      '…and the record does not hold it after the settle time: parked as refused, IMT holds nothing',
      build(
        got(deliveries.payment()),
        post({ failed: UNKNOWN }),
        post({ failed: REFUSED }),
        check({ absent: true }, 120_000),
      ),
      'wait',
      'NEEDS_ATTENTION',
    ],
    [
      'a definite 400 with no unknown outcome before: parked at once',
      build(got(deliveries.payment()), post({ failed: REFUSED })),
      'wait',
      'NEEDS_ATTENTION',
    ],
    [
      'a 429 never turns into "may hold": retried',
      build(got(deliveries.payment()), post({ failed: BUSY })),
      'wait',
      'POSTING',
    ],
    [
      'posted, then a void: reversed',
      build(got(deliveries.payment()), post(POSTED), got(deliveries.void())),
      'reverse',
      'REVERSING',
    ],
    [
      'an unknown posting, a void, IMT’s record absent past the settle time: not posted',
      build(
        got(deliveries.payment()),
        post({ failed: UNKNOWN }),
        got(deliveries.void()),
        check({ absent: true }, 120_000),
      ),
      'wait',
      'NOT_POSTED',
    ],
    [
      'a reopened run reads IMT’s record before anything else',
      (() => {
        const s = newTransaction('T1', at(), true);
        takeDelivery(s, deliveries.void(), at());
        return s;
      })(),
      'check',
      'MAYBE_POSTED',
    ],
  ];
  it.each(cases)('%s', (_name, state, step, status) => {
    expect(nextStep(state, T0 + 500, timing).kind).toBe(step);
    expect(statusOf(state)).toBe(status);
  });

  it('the hold ends with the return window: echeck 67 days, card 30, then the run completes', () => {
    const echeck = build(got(deliveries.payment()), post(POSTED));
    const card = build(got(deliveries.payment({ payment_method: 'credit' })), post(POSTED));
    const day = 24 * 3600 * 1000;
    expect(nextStep(echeck, T0 + 66 * day, timing).kind).toBe('wait');
    expect(nextStep(echeck, T0 + 68 * day, timing).kind).toBe('complete');
    expect(nextStep(card, T0 + 29 * day, timing).kind).toBe('wait');
    expect(nextStep(card, T0 + 31 * day, timing).kind).toBe('complete');
  });
});

describe('deliveries refused without history (the validator)', () => {
  const cases: [string, TransactionState, Delivery, string | undefined][] = [
    ['an exact repeat of the payment', build(got(deliveries.payment())), deliveries.payment(), undefined],
    [
      'the payment with another amount',
      build(got(deliveries.payment())),
      deliveries.payment({ amount: '1.00' }),
      'conflict',
    ],
    [
      'a void with another amount than the payment',
      build(got(deliveries.payment())),
      deliveries.void('1.00'),
      'amount_mismatch',
    ],
    [
      'an ACH reject for a card payment',
      build(got(deliveries.payment({ payment_method: 'credit' }))),
      deliveries.ach(),
      'not_echeck',
    ],
    [
      'a void repeated with another amount (no payment yet)',
      build(got(deliveries.void())),
      deliveries.void('2.00'),
      'conflict',
    ],
    [
      'another transaction’s payment',
      build(),
      deliveries.payment({ transaction_id: 'T2' }),
      'wrong_transaction',
    ],
  ];
  it.each(cases)('%s', (_name, state, d, code) => {
    expect(refuseDelivery(state, d)?.code).toBe(code);
  });
});

describe('IC’s answer waits only for what settles it', () => {
  it('a payment settles when IMT holds it, is parked, or was voided first; a void when reversed or not posted', () => {
    expect(settledFor('payment', build(got(deliveries.payment())))).toBe(false);
    expect(settledFor('payment', build(got(deliveries.payment()), post(POSTED)))).toBe(true);
    expect(settledFor('void', build(got(deliveries.payment()), post(POSTED), got(deliveries.void())))).toBe(
      false,
    );
    expect(settledFor('void', build(got(deliveries.void())))).toBe(true); // 202 AWAITING_PAYMENT at once
  });
});

describe('a reversal is checked like a posting', () => {
  it('names a mismatch in IMT’s answer and parks on it', () => {
    const sent = { transaction_id: 'T1', reversal_type: 'void' as const, amount: '50.00' };
    expect(reversalMismatch(sent, { ...sent })).toBeUndefined();
    expect(reversalMismatch(sent, { ...sent, amount: '5.00' })).toContain('amount 5.00');
    expect(reversalMismatch(sent, { ...sent, reversal_type: 'ach_reject' })).toContain('reversal_type');
    const s = build(got(deliveries.payment()), post(POSTED), got(deliveries.void()));
    afterReversal(s, { ok: { id: 1, transaction_id: 'T1', reversal_type: 'void', amount: '5.00' } }, T0);
    expect(statusOf(s)).toBe('NEEDS_ATTENTION');
    expect(s.parked?.imtMayHold).toBe(true);
  });
});

describe('operators', () => {
  it('retry and dismiss are refused unless the transaction needs attention', () => {
    const posted = build(got(deliveries.payment()), post(POSTED));
    expect(refuseOperator(posted, { action: 'retry' })).toMatch(/only a NEEDS_ATTENTION/);
    const parked = build(got(deliveries.payment()), post({ failed: REFUSED }));
    expect(refuseOperator(parked, { action: 'retry' })).toBeUndefined();
    expect(refuseOperator(parked, { action: 'dismiss', reason: ' ' })).toMatch(/reason/);
    applyOperator(parked, { action: 'retry', by: 'ops' }, T0);
    expect(nextStep(parked, T0, timing).kind).toBe('post');
  });

  it('a retry sets aside only the event that did not match: a matching void still stops the posting', () => {
    // Found by the model test: an ACH reject of a card payment came first, then the void.
    const s = build(
      got(deliveries.ach()),
      got(deliveries.payment({ payment_method: 'credit' })),
      got(deliveries.void()),
    );
    expect(statusOf(s)).toBe('NEEDS_ATTENTION');
    applyOperator(s, { action: 'retry', by: 'ops' }, T0);
    expect(s.events.ach_reject).toBeUndefined();
    expect(s.reversalKind).toBe('void');
    expect(statusOf(s)).toBe('NOT_POSTED');
    expect(nextStep(s, T0, timing).kind).not.toBe('post');
  });
});
