/**
 * The per-transaction rules of the daily reconciliation (contracts C4), without Temporal or
 * IMT: each kind of difference is written once, a consistent transaction is counted as
 * matched, and the totals add up to the cent. The whole activity, on a real Temporal server
 * against the IMT simulator, is test/integration/reconcile.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { PaymentStatus, ReconcileKind, type ReconcileRow } from '../../domain';
import {
  DayComparison,
  imtSideOf,
  type ImtSide,
  type ServicePayment,
} from '../../activities/reconcile-compare';
import { servicePaymentOf } from '../../activities/reconcile-service-side';

const DATE = '2026-11-27';

function service(txid: string, over: Partial<ServicePayment> = {}): ServicePayment {
  return {
    txid,
    workflowId: `payment-${txid}`,
    runId: 'run',
    customer: 'C1',
    invoice: 'INV-1',
    cents: 5000,
    status: PaymentStatus.POSTED,
    running: true,
    pending: false,
    ...over,
  };
}

function imt(txid: string, over: Partial<ImtSide> = {}): ImtSide {
  return {
    txid,
    customer: 'C1',
    invoice: 'INV-1',
    cents: 5000,
    reversalCents: null,
    reversal: null,
    ...over,
  };
}

function day() {
  const rows: ReconcileRow[] = [];
  const comparison = new DayComparison(DATE, async (row) => {
    rows.push(row);
  });
  return { comparison, rows };
}

describe('reconciliation: one transaction compared', () => {
  it('counts a posting both sides agree on as matched, with no row', async () => {
    const { comparison, rows } = day();
    await comparison.compare(service('T1'), imt('T1'));
    expect(rows).toEqual([]);
    expect(comparison.matched).toBe(1);
    expect(comparison.transactions).toBe(1);
  });

  it('writes an amount and an invoice difference in one row', async () => {
    const { comparison, rows } = day();
    await comparison.compare(service('T1'), imt('T1', { cents: 4999, invoice: 'INV-2' }));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      kind: ReconcileKind.AMOUNT_OR_INVOICE_DIFFERS,
      service_amount_cents: 5000,
      imt_amount_cents: 4999,
      detail: 'amount: service 5000 cents, IMT 4999 cents; invoice: service INV-1, IMT INV-2',
    });
    expect(comparison.matched).toBe(0);
  });

  it('tells a reversal only the service made from one only IMT shows', async () => {
    const { comparison, rows } = day();
    await comparison.compare(service('T1', { status: PaymentStatus.REVERSED, running: false }), imt('T1'));
    await comparison.compare(service('T2'), imt('T2', { reversal: 'void', reversalCents: 5000 }));
    expect(rows.map((r) => [r.kind, r.transaction_id, r.service_status, r.imt_status])).toEqual([
      [ReconcileKind.REVERSED_NOT_IN_IMT, 'T1', PaymentStatus.REVERSED, 'POSTED'],
      [ReconcileKind.REVERSED_IN_IMT_ONLY, 'T2', PaymentStatus.POSTED, 'void'],
    ]);
    expect(comparison.service.reversedCents).toBe(5000);
  });

  it('holds a reversal still being applied as in flight, not as a difference', async () => {
    const { comparison, rows } = day();
    const reversing = { status: PaymentStatus.REVERSING, pending: true };
    await comparison.compare(service('T1', reversing), imt('T1', { reversal: 'void', reversalCents: 5000 }));
    await comparison.compare(service('T2', reversing), imt('T2'));
    expect(rows.map((r) => [r.kind, r.service_status])).toEqual([
      [ReconcileKind.IN_FLIGHT, PaymentStatus.REVERSING],
      [ReconcileKind.IN_FLIGHT, PaymentStatus.REVERSING],
    ]);
    expect(comparison.matched).toBe(0);
    expect(comparison.service.postedCents).toBe(10000);
    expect(comparison.service.reversedCents).toBe(0);
  });

  it('holds a payment not yet posted, or waiting for a person, as in flight whether IMT has it or not', async () => {
    const { comparison, rows } = day();
    await comparison.compare(service('T1', { status: PaymentStatus.MAYBE_POSTED, pending: true }), imt('T1'));
    await comparison.compare(
      service('T2', { status: PaymentStatus.NEEDS_ATTENTION, pending: true }),
      undefined,
    );
    await comparison.compare(service('T3', { status: PaymentStatus.POSTING, pending: true }), undefined);
    expect(rows.map((r) => [r.kind, r.transaction_id, r.service_status])).toEqual([
      [ReconcileKind.IN_FLIGHT, 'T1', PaymentStatus.MAYBE_POSTED],
      [ReconcileKind.IN_FLIGHT, 'T2', PaymentStatus.NEEDS_ATTENTION],
      [ReconcileKind.IN_FLIGHT, 'T3', PaymentStatus.POSTING],
    ]);
    expect(rows[1].detail).toBe('a person must decide (NEEDS_ATTENTION)');
    expect(comparison.service.postedCents).toBe(0);
  });

  it('counts a posted run still open for a void as posted, not in flight', async () => {
    const { comparison, rows } = day();
    await comparison.compare(service('T1', { running: true }), imt('T1'));
    expect(rows).toEqual([]);
    expect(comparison.matched).toBe(1);
  });

  it('separates not posted by the service, posted but not in IMT, and never delivered', async () => {
    const { comparison, rows } = day();
    await comparison.compare(service('T1', { status: PaymentStatus.DISMISSED }), imt('T1'));
    await comparison.compare(service('T2', { status: PaymentStatus.DISMISSED }), undefined);
    await comparison.compare(service('T3'), undefined);
    await comparison.notDelivered(imt('T4'));
    expect(rows.map((r) => [r.kind, r.transaction_id])).toEqual([
      [ReconcileKind.IN_IMT_NOT_POSTED_BY_US, 'T1'],
      [ReconcileKind.POSTED_NOT_IN_IMT, 'T3'],
      [ReconcileKind.IN_IMT_NOT_DELIVERED, 'T4'],
    ]);
    expect(rows[1].detail).toBe(`posted by the service; IMT does not list it for ${DATE}`);
    expect(comparison.matched).toBe(1); // T2: received, not posted, not in IMT
    expect(comparison.transactions).toBe(4);
  });

  it('adds both sides’ totals to the cent', async () => {
    const { comparison } = day();
    const listed = imtSideOf({
      id: 1,
      transaction_id: 'T2',
      customer: 'C1',
      invoice_number: 'INV-1',
      amount: '12.34',
      payment_method: 'card',
      posted_at: '2026-11-27T10:00:00-06:00',
      reversals: [
        {
          id: 9,
          reversal_type: 'void',
          return_code: null,
          amount: '12.34',
          reversed_at: '2026-11-27T11:00:00-06:00',
        },
      ],
    });
    expect(listed).toMatchObject({ cents: 1234, reversalCents: 1234, reversal: 'void' });
    comparison.countImt(listed);
    comparison.countImt(imt('T1'));
    await comparison.compare(service('T1'), imt('T1'));
    await comparison.compare(
      service('T2', { cents: 1234, status: PaymentStatus.REVERSED, running: false }),
      listed,
    );
    await comparison.compare(
      service('T3', { status: PaymentStatus.POSTING, pending: true, cents: 700 }),
      undefined,
    );
    comparison.closeTotals();
    expect(comparison.service).toEqual({
      deliveredCents: 6934,
      postedCents: 6234,
      reversedCents: 1234,
      netCents: 5000,
    });
    expect(comparison.imt).toEqual({
      deliveredCents: 6234,
      postedCents: 6234,
      reversedCents: 1234,
      netCents: 5000,
    });
    expect(comparison.matched).toBe(2);
  });
});

describe('reconciliation: a transaction run as visibility lists it', () => {
  const info = (execution: string, status: PaymentStatus | undefined, amount = '12.34') => ({
    workflowId: 'payment-T1',
    runId: 'r1',
    memo: { amount },
    status: { name: execution } as Parameters<typeof servicePaymentOf>[0]['status'],
    typedSearchAttributes: {
      get: (key: { name: string }) =>
        ({ TransactionId: 'T1', CustomerId: 'C1', InvoiceNumber: 'INV-1', PaymentStatus: status })[key.name],
    } as unknown as Parameters<typeof servicePaymentOf>[0]['typedSearchAttributes'],
  });

  it('reads an open posted run as posted (asleep for a void), an open posting one as pending', () => {
    expect(servicePaymentOf(info('RUNNING', PaymentStatus.POSTED))).toMatchObject({
      txid: 'T1',
      cents: 1234,
      status: PaymentStatus.POSTED,
      running: true,
      pending: false,
    });
    expect(servicePaymentOf(info('RUNNING', PaymentStatus.MAYBE_POSTED))).toMatchObject({
      status: PaymentStatus.MAYBE_POSTED,
      pending: true,
    });
    expect(servicePaymentOf(info('COMPLETED', PaymentStatus.REVERSED))).toMatchObject({
      status: PaymentStatus.REVERSED,
      running: false,
      pending: false,
    });
  });

  it('keeps what IMT confirmed of a terminated run, and nothing it had not settled', () => {
    expect(servicePaymentOf(info('TERMINATED', PaymentStatus.POSTED))).toMatchObject({
      status: PaymentStatus.POSTED,
      pending: false,
    });
    expect(servicePaymentOf(info('TERMINATED', PaymentStatus.MAYBE_POSTED))).toMatchObject({
      status: 'TERMINATED',
      pending: false,
    });
  });
});
