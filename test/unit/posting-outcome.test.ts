/**
 * Issue 9 at the level of pure code: which failures leave "IMT may hold it", how IMT's
 * confirmation is checked, how IMT_TIMEOUT_MS is bounded, and the simulator's
 * applied-then-lost faults.
 */
import { describe, expect, it } from 'vitest';
import {
  ActivityFailure,
  ApplicationFailure,
  RetryState,
  TimeoutFailure,
  TimeoutType,
} from '@temporalio/common';
import { toActivityFailure } from '../../activities/errors';
import { postingMismatch } from '../../activities/payment';
import { ConfigError, loadConfig } from '../../common/config';
import { HttpCallError, toHttpCallError } from '../../integrations/http';
import { FaultController } from '../../simulators/faults';
import { describeFailure } from '../../workflows/failures';
import { IMT_ATTEMPT_TIMEOUT_MS, IMT_TIMEOUT_MAX_MS, type PaymentRequest } from '../../domain';

const opts = { authRetryDelayMs: 60_000, isPost: true };
const http = (kind: HttpCallError['kind'], status?: number, requestSent?: boolean) =>
  new HttpCallError(
    kind,
    'IMT',
    'POST',
    '/api/integration/invoice/post-payment',
    'x',
    status,
    undefined,
    undefined,
    requestSent,
  );
/** What a workflow sees: the activity's failure wrapped in an ActivityFailure. */
const seen = (cause: Error) =>
  describeFailure(
    new ActivityFailure(
      'activity failed',
      'postPayment',
      'postPayment',
      RetryState.MAXIMUM_ATTEMPTS_REACHED,
      undefined,
      cause,
    ),
  );

describe('outcome of a posting attempt', () => {
  it.each([
    ['timeout after sending', http('timeout', undefined, true), true],
    ['reset after connecting', http('network', undefined, true), true],
    ['connection refused', http('network', undefined, false), false],
    ['500', http('status', 500), true],
    ['502 from a gateway', http('status', 502), true],
    ['503 maintenance', http('status', 503), true],
    ['2xx we could not read', http('invalid-response', 201), true],
    ['429', http('status', 429), false],
    ['403', http('status', 403), false],
    ['400', http('status', 400), false],
    ['404', http('status', 404), false],
  ])('%s → outcome unknown: %s', (_name, err, unknown) => {
    const failure = toActivityFailure(err, opts);
    expect(seen(failure).outcomeUnknown).toBe(unknown);
  });

  it('only 400/404/other 4xx are definite rejections', () => {
    expect(seen(toActivityFailure(http('status', 400), opts)).definiteRejection).toBe(true);
    expect(seen(toActivityFailure(http('status', 404), opts)).definiteRejection).toBe(true);
    expect(seen(toActivityFailure(http('status', 429), opts)).definiteRejection).toBe(false);
    expect(seen(toActivityFailure(http('status', 500), opts)).definiteRejection).toBe(false);
  });

  it('says whether IMT answered other calls just before (a one-off), only when the activity knows', () => {
    expect(
      seen(toActivityFailure(http('status', 503), { ...opts, serviceAnswering: true })).serviceAnswering,
    ).toBe(true);
    expect(
      seen(toActivityFailure(http('network', undefined, true), { ...opts, serviceAnswering: false }))
        .serviceAnswering,
    ).toBe(false);
    expect(seen(toActivityFailure(http('status', 503), opts)).serviceAnswering).toBeUndefined();
    const timeout = new TimeoutFailure('activity timed out', undefined, TimeoutType.HEARTBEAT);
    expect(seen(timeout).serviceAnswering).toBeUndefined();
  });

  it('says whether the failure fits the worker’s retry budget, only when the activity knows', () => {
    const within = seen(toActivityFailure(http('status', 503), { ...opts, withinRetryBudget: true }));
    expect(within).toMatchObject({ withinRetryBudget: true, serviceAnswering: undefined });
    const past = seen(toActivityFailure(http('status', 503), { ...opts, withinRetryBudget: false }));
    expect(past.withinRetryBudget).toBe(false);
    expect(seen(toActivityFailure(http('status', 503), opts)).withinRetryBudget).toBeUndefined();
    const timeout = new TimeoutFailure('activity timed out', undefined, TimeoutType.HEARTBEAT);
    expect(seen(timeout).withinRetryBudget).toBeUndefined();
  });

  it('a worker that died (start-to-close or heartbeat timeout) leaves the outcome unknown', () => {
    const timeout = new TimeoutFailure('activity timed out', undefined, TimeoutType.HEARTBEAT);
    expect(seen(timeout)).toMatchObject({ outcomeUnknown: true, permanent: false, definiteRejection: false });
  });

  it('failures recorded before outcomeUnknown existed are read by their type, conservatively', () => {
    const old = ApplicationFailure.create({
      type: 'ServiceUnavailable',
      message: 'old',
      details: [{ status: 503 }],
    });
    expect(seen(old).outcomeUnknown).toBe(true);
    const oldReject = ApplicationFailure.create({ type: 'InvalidPost', nonRetryable: true, message: 'old' });
    expect(seen(oldReject)).toMatchObject({
      outcomeUnknown: false,
      definiteRejection: true,
      permanent: true,
    });
  });

  it('axios errors: refused connections were never sent; resets may have been', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), {
      isAxiosError: true,
      code: 'ECONNREFUSED',
    });
    const reset = Object.assign(new Error('socket hang up'), { isAxiosError: true, code: 'ECONNRESET' });
    expect(toHttpCallError(refused, 'IMT', 'POST', '/p').requestSent).toBe(false);
    expect(toHttpCallError(reset, 'IMT', 'POST', '/p').requestSent).toBe(true);
  });
});

describe("IMT's confirmation is checked", () => {
  const sent: PaymentRequest = {
    customer: '0406',
    invoice_number: '040620220901',
    transaction_id: 'T1',
    amount: '50.00',
    payment_method: 'credit',
    message: '',
    source: 'invoice_cloud',
  };
  it('accepts the same transaction and amount, in any decimal form', () => {
    expect(postingMismatch(sent, { id: 1, transaction_id: 'T1', amount: '50' })).toBeUndefined();
  });
  it('names another transaction or amount', () => {
    expect(postingMismatch(sent, { id: 1, transaction_id: 'T2', amount: '5.00' })).toBe(
      'transaction_id T2 instead of T1 and amount 5.00 instead of 50.00',
    );
    expect(postingMismatch(sent, { id: 1, transaction_id: 'T1', amount: 'lots' })).toContain('amount lots');
  });
});

describe('IMT_TIMEOUT_MS', () => {
  it('is bounded to 1–60 s, below the attempt timeout by construction', () => {
    expect(IMT_ATTEMPT_TIMEOUT_MS).toBeGreaterThan(IMT_TIMEOUT_MAX_MS);
    expect(loadConfig({ IMT_TIMEOUT_MS: '60000' }).imt.timeoutMs).toBe(60_000);
    for (const bad of ['999', '60001', '0', 'soon']) {
      expect(() => loadConfig({ IMT_TIMEOUT_MS: bad })).toThrow(ConfigError);
    }
    expect(() => loadConfig({ IMT_TIMEOUT_MS: '120000' })).toThrow(/IMT_TIMEOUT_MS.*at most 60000 ms/);
  });
});

describe('simulator: applied, then the answer is lost', () => {
  it('applied-then-lost faults come first, then plain failures', () => {
    const f = new FaultController(() => 0.99);
    f.set({ applyThenHangNext: 1, applyThenErrorNext: 1, failNext: 1, errorStatus: 500 });
    expect(f.decide('/x').kind).toBe('apply-then-hang');
    expect(f.decide('/x')).toMatchObject({ kind: 'apply-then-error', status: 500 });
    expect(f.decide('/x')).toMatchObject({ kind: 'error', status: 500 });
    expect(f.decide('/x').kind).toBe('none');
  });
});
