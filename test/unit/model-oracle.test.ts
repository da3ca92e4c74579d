/**
 * The model-based test's oracle (test/model/model.ts) judged on hand-written outcomes: an oracle
 * that cannot fail would let the model test pass on anything.
 */
import { describe, expect, it } from 'vitest';
import { intakeViolations, judge, type Sent } from '../model/model';

const at = (
  kind: Sent['kind'],
  variant: Sent['variant'],
  sentAt: number,
  status: number,
  answerStatus?: string,
): Sent => ({
  tx: 0,
  kind,
  variant,
  final: false,
  sentAt,
  answeredAt: sentAt + 10,
  status,
  answerStatus,
});

// Seed 253191621: void 1.00 before any payment, payment 40.00 (parked: the void does not match),
// an operator's retry (sets the void aside), then IC's void of 40.00.
const seedCase: Sent[] = [
  at('void', 'other', 1_000, 202),
  at('payment', 'same', 2_000, 202),
  at('void', 'same', 4_000, 201, 'REVERSED'),
];

describe('model oracle: intake', () => {
  it('a void with other content after an accepted void is a violation', () => {
    expect(intakeViolations('credit', seedCase)).toEqual([
      'conflicting content accepted: void 40.00 answered 201 after void 1.00 was answered 202',
    ]);
  });

  it("an operator's retry between them set the mismatching void aside: no violation", () => {
    expect(intakeViolations('credit', seedCase, [3_000])).toEqual([]);
  });

  it('a retry before the mismatching void was answered sets nothing aside', () => {
    expect(intakeViolations('credit', seedCase, [500])).toHaveLength(1);
  });

  it('a retry does not set aside a void that matches the payment', () => {
    const sent = [
      at('payment', 'same', 1_000, 201),
      at('void', 'same', 2_000, 202),
      at('void', 'other', 4_000, 202),
    ];
    expect(intakeViolations('credit', sent, [3_000])).toHaveLength(2);
  });

  it('an ACH reject of a card payment is a violation', () => {
    const sent = [at('payment', 'same', 1_000, 201), at('ach_reject', 'same', 2_000, 202)];
    expect(intakeViolations('credit', sent)).toEqual([
      'ACH reject of a card payment accepted: ach_reject 40.00 answered 202 after payment 40.00 was answered 201',
    ]);
    expect(intakeViolations('echeck', sent)).toEqual([]);
  });
});

describe('model oracle: money', () => {
  const run = { execution: 'RUNNING', status: 'POSTED', parked: false, alerted: false };
  const posting = { kind: 'posting' as const, amount: '40.00', at: new Date(2_500).toISOString() };
  const reversal = { kind: 'reversal' as const, amount: '40.00', at: new Date(4_005).toISOString() };

  it('the seed case with its reversal in IMT nets 0 as IC asked', () => {
    const v = judge('credit', seedCase, [posting, reversal], { ...run, status: 'REVERSED' }, [3_000]);
    expect(v).toEqual({ expectedCents: 0, netCents: 0, violations: [] });
  });

  it('a void IC sent but IMT never reversed is a violation unless the run is parked with an alert', () => {
    const v = judge(
      'credit',
      seedCase.slice(0, 2).concat(at('void', 'same', 4_000, 202)),
      [posting],
      run,
      [3_000],
    );
    expect(v.violations).toEqual([`IMT's net is 4000 cents, IC asked for 0, and the run is RUNNING/POSTED`]);
    const parked = judge(
      'credit',
      seedCase.slice(0, 2).concat(at('void', 'same', 4_000, 202)),
      [posting],
      {
        ...run,
        parked: true,
        alerted: true,
      },
      [3_000],
    );
    expect(parked.violations).toEqual([]);
  });

  it('a 201 REVERSED without a reversal in IMT is a violation', () => {
    const v = judge('credit', seedCase, [posting], run, [3_000]);
    expect(v.violations).toContain('void answered 201 REVERSED but IMT holds no reversal');
  });
});
