/**
 * Property: whatever order IC's payment, void and ACH-reject deliveries arrive in — with
 * duplicates and IMT failing now and then — IMT ends up with posted − reversed equal to
 * what IC's final state says, and no transaction is reversed (or posted) twice.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WorkflowNotFoundError } from '@temporalio/client';
import { toCents } from '../../common/money';
import { SA, workflowIds } from '../../workflows/messages';
import { eventually, startHarness, uniqueId, type Harness } from '../helpers/harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ name: 'reversal-prop', confirmWaitMs: 300, unknownPaymentWaitMs: 1500 });
});
afterAll(async () => {
  await h?.stop();
});

type Kind = 'payment' | 'void' | 'ach';

const deliveryArb = (txCount: number) =>
  fc.record({
    tx: fc.integer({ min: 0, max: txCount - 1 }),
    kind: fc.constantFrom<Kind>('payment', 'payment', 'void', 'ach'),
    /** Make IMT fail the next N calls of this delivery's kind first. */
    imtFailures: fc.constantFrom(0, 0, 0, 1, 2),
  });

const scenarioArb = fc
  .integer({ min: 1, max: 3 })
  .chain((txCount) =>
    fc.tuple(fc.constant(txCount), fc.array(deliveryArb(txCount), { minLength: 1, maxLength: 7 })),
  );

const SETTLED = new Set(['COMPLETED', 'TERMINATED', 'FAILED', 'CANCELED', 'TIMED_OUT']);

async function settled(workflowId: string): Promise<boolean> {
  try {
    const d = await h.client.workflow.getHandle(workflowId).describe();
    return SETTLED.has(d.status.name) || d.typedSearchAttributes.get(SA.PaymentStatus) === 'NEEDS_ATTENTION';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return true;
    throw err;
  }
}

it('posted − reversed matches IC for every interleaving; nothing reversed twice', async () => {
  let scenario = 0;
  await fc.assert(
    fc.asyncProperty(scenarioArb, async ([txCount, deliveries]) => {
      scenario += 1;
      const txs = Array.from({ length: txCount }, (_, i) => {
        const customer = String(5000 + scenario * 10 + i);
        const invoice_number = `${customer}20221001`;
        h.imt.addInvoice({ invoice_number, customer, amount_due: '40.00' });
        return { customer, invoice_number, transaction_id: uniqueId(`P${scenario}-${i}`), amount: '40.00' };
      });
      for (const d of deliveries) {
        const t = txs[d.tx];
        const route = d.kind === 'payment' ? 'post-payment' : 'reverse-payment';
        if (d.imtFailures)
          h.imt.faults.set({
            failNext: d.imtFailures,
            errorStatus: 503,
            routes: [`/api/integration/invoice/${route}`],
          });
        const res =
          d.kind === 'payment'
            ? await h.http.post('/api/integration/invoice/post-payment', {
                ...t,
                payment_method: 'echeck',
                message: '',
                source: 'invoice_cloud',
              })
            : d.kind === 'void'
              ? await h.http.post('/api/integration/invoice/void-payment', { ...t, message: '' })
              : await h.http.post('/api/integration/invoice/ach-reject', {
                  ...t,
                  return_code: 'R01',
                  returned_at: new Date().toISOString().slice(0, 10),
                  message: '',
                });
        expect([201, 202]).toContain(res.status);
      }

      // Let every run finish or park.
      const ids = txs.flatMap((t) => [
        workflowIds.payment(t.transaction_id),
        workflowIds.void(t.transaction_id),
        workflowIds.achReject(t.transaction_id),
        workflowIds.reversal(t.transaction_id),
      ]);
      await eventually(async () => (await Promise.all(ids.map(settled))).every(Boolean), 60_000, 250);
      h.imt.faults.clear();

      txs.forEach((t, i) => {
        const delivered = new Set(deliveries.filter((d) => d.tx === i).map((d) => d.kind));
        // IC's view: a voided or returned payment is worth nothing; an unreversed one its amount.
        const icNet =
          delivered.has('void') || delivered.has('ach')
            ? 0
            : delivered.has('payment')
              ? toCents(t.amount)
              : 0;
        const entries = h.imt.ledger().filter((e) => e.transaction_id === t.transaction_id);
        const postings = entries.filter((e) => e.kind === 'posting');
        const reversals = entries.filter((e) => e.kind === 'reversal');
        expect(postings.length).toBeLessThanOrEqual(1);
        expect(reversals.length).toBeLessThanOrEqual(1);
        const net =
          postings.reduce((s, e) => s + toCents(e.amount), 0) -
          reversals.reduce((s, e) => s + toCents(e.amount), 0);
        expect({ tx: t.transaction_id, delivered: [...delivered], net }).toEqual({
          tx: t.transaction_id,
          delivered: [...delivered],
          net: icNet,
        });
      });

      // Parked runs (a void whose payment never came) are expected; clear them away.
      for (const id of ids) {
        await h.client.workflow
          .getHandle(id)
          .terminate('property scenario done')
          .catch(() => undefined);
      }
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 8), endOnFailure: true },
  );
});
