/**
 * Determinism: saved histories of real runs (test/fixtures/histories) must replay against
 * the current workflow code. A change that would break running workflows in production
 * fails here. Regenerate deliberately with UPDATE_HISTORIES=1 (and say why in the commit).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { workflowIds } from '../../workflows/messages';
import { startHarness, type Harness } from '../helpers/harness';
import { seedPayment } from '../helpers/payments';

const DIR = path.resolve('test/fixtures/histories');
const UPDATE = process.env.UPDATE_HISTORIES === '1';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ name: 'replay', confirmWaitMs: 3000 });
});
afterAll(async () => {
  await h?.stop();
});

async function record(name: string, workflowId: string): Promise<void> {
  const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
  fs.mkdirSync(DIR, { recursive: true });
  fs.writeFileSync(path.join(DIR, `${name}.json`), historyToJSON(history));
}

const payment = () => seedPayment(h.imt, { amount: '20.00' });

describe('workflow determinism', () => {
  it.runIf(UPDATE)('records histories of representative runs', async () => {
    const happy = payment();
    await h.http.post('/api/integration/invoice/post-payment', happy);
    await record('payment-posted', workflowIds.payment(happy.transaction_id));

    const retried = payment();
    h.imt.faults.set({ failNext: 2, errorStatus: 503, routes: ['/api/integration/invoice/post-payment'] });
    await h.http.post('/api/integration/invoice/post-payment', retried);
    h.imt.faults.clear();
    await h.client.workflow.getHandle(workflowIds.payment(retried.transaction_id)).result();
    await record('payment-retried', workflowIds.payment(retried.transaction_id));

    const parked = payment();
    h.imt.rejectPostsFor(parked.invoice_number, { amount: ['Invalid.'] });
    await h.http.post('/api/integration/invoice/post-payment', parked);
    h.imt.clearRejections();
    await h.client.workflow
      .getHandle(workflowIds.payment(parked.transaction_id))
      .signal('retry', { by: 'test' });
    await h.client.workflow.getHandle(workflowIds.payment(parked.transaction_id)).result();
    await record('payment-parked-then-retried', workflowIds.payment(parked.transaction_id));

    const voided = payment();
    await h.http.post('/api/integration/invoice/post-payment', voided);
    await h.http.post('/api/integration/invoice/void-payment', {
      customer: voided.customer,
      invoice_number: voided.invoice_number,
      transaction_id: voided.transaction_id,
      amount: voided.amount,
      message: '',
    });
    await h.client.workflow.getHandle(workflowIds.void(voided.transaction_id)).result();
    await record('void-after-posting', workflowIds.void(voided.transaction_id));
    await record('reversal-void', workflowIds.reversal(voided.transaction_id));

    const early = payment();
    h.imt.faults.set({ maintenance: true, routes: ['/api/integration/invoice/post-payment'] });
    await h.http.post('/api/integration/invoice/post-payment', early);
    await h.http.post('/api/integration/invoice/ach-reject', {
      customer: early.customer,
      invoice_number: early.invoice_number,
      transaction_id: early.transaction_id,
      amount: early.amount,
      return_code: 'R01',
      returned_at: '2022-10-05',
      message: '',
    });
    h.imt.faults.clear();
    await h.client.workflow.getHandle(workflowIds.achReject(early.transaction_id)).result();
    await record('payment-cancelled-before-posting', workflowIds.payment(early.transaction_id));
    await record('ach-reject-before-posting', workflowIds.achReject(early.transaction_id));
  });

  const files = fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((f) => f.endsWith('.json')) : [];

  it('has saved histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(5);
  });

  it.each(files)('replays %s against the current workflow code', async (file) => {
    const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history);
  });
});
