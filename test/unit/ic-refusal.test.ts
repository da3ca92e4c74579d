/** IC `Success=false` classification (activities/errors.ts; rules in docs/decisions.md). */
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { classifyIcRefusal, icRefusalFailure } from '../../activities/errors';
import { FailureType } from '../../domain';
import { IC_BUSY_MESSAGE } from '../../simulators/ic/server';

const opts = { authRetryDelayMs: 60_000 };

describe('classifyIcRefusal', () => {
  it.each([
    ['Authentication failed: invalid BillerGUID or WebServiceKey', 'auth'],
    ['Invalid credentials; please try again later', 'auth'],
    ['User is not authorized for this biller', 'auth'],
    [IC_BUSY_MESSAGE, 'transient'],
    ['The operation timed out', 'transient'],
    ['Service temporarily unavailable', 'transient'],
    ['Transaction was deadlocked on lock resources; rerun the transaction', 'transient'],
    ['Invoice file refused: line 2, field due_date: not a valid date', 'refused'],
    ['', 'refused'],
  ])('UploadInvoiceFile %j → %s', (message, kind) => {
    expect(classifyIcRefusal('UploadInvoiceFile', message)).toBe(kind);
  });

  it('tells "not found" apart only for ViewInvoiceByInvoiceNumber', () => {
    expect(classifyIcRefusal('ViewInvoiceByInvoiceNumber', 'Invoice 0406 not found.')).toBe('not-found');
    expect(classifyIcRefusal('UploadInvoiceFile', 'Customer not found on line 3')).toBe('refused');
  });
});

describe('icRefusalFailure', () => {
  it('credentials: AuthRejected, retryable after the auth delay', () => {
    const f = icRefusalFailure('UploadInvoiceFile', 'Authentication failed', opts, 'invoice file x.txt');
    expect(f).toBeInstanceOf(ApplicationFailure);
    expect(f).toMatchObject({ type: FailureType.AuthRejected, nonRetryable: false, nextRetryDelay: 60_000 });
    expect(f.details?.[0]).toMatchObject({ service: 'IC', call: 'UploadInvoiceFile' });
  });

  it('busy: ServiceUnavailable, retryable with the normal backoff', () => {
    const f = icRefusalFailure('ViewInvoiceByInvoiceNumber', IC_BUSY_MESSAGE, opts, '0406');
    expect(f).toMatchObject({ type: FailureType.ServiceUnavailable, nonRetryable: false });
    expect(f.nextRetryDelay).toBeUndefined();
  });

  it('content: FileRejected for uploads, ClientError / NotFound for look-ups, never retried', () => {
    expect(icRefusalFailure('UploadInvoiceFile', 'bad date', opts, 'f')).toMatchObject({
      type: FailureType.FileRejected,
      nonRetryable: true,
    });
    expect(icRefusalFailure('ViewInvoiceByInvoiceNumber', 'bad number', opts, 'n')).toMatchObject({
      type: FailureType.ClientError,
      nonRetryable: true,
    });
    expect(icRefusalFailure('ViewInvoiceByInvoiceNumber', 'Invoice n not found.', opts, 'n')).toMatchObject({
      type: FailureType.NotFound,
      nonRetryable: true,
    });
  });
});
