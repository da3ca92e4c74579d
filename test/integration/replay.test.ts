/**
 * Determinism: saved histories of real runs (test/fixtures/histories) must replay against
 * the current workflow code. A change that would break running workflows in production
 * fails here. Regenerate deliberately with UPDATE_HISTORIES=1 (and say why in the commit).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// Recording only (UPDATE=1): the SDK has no public writer of the history JSON that
// Worker.runReplayHistory reads; replaying needs none (it converts the JSON itself).
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import type { Payload } from '@temporalio/common';
import { AesGcmPayloadCodec } from '../../common/payload-codec';
import { workflowIds } from '../../domain';
import { IMT_ANSWERING_WINDOW_MS } from '../../activities/payment';
import { testPayloadKeyList } from '../helpers/payload-keys';
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

/**
 * Workflow IDs of the recorded runs: a history does not carry its own, and commands such
 * as an alert's child-workflow ID are derived from it, so the replay must use the same.
 */
const IDS_FILE = path.join(DIR, 'workflow-ids.json');
const savedIds = (): Record<string, string> =>
  fs.existsSync(IDS_FILE) ? (JSON.parse(fs.readFileSync(IDS_FILE, 'utf8')) as Record<string, string>) : {};

/**
 * Payloads are encrypted with this test run's key (common/payload-codec.ts); a fixture must
 * replay in any later run, so every payload is stored decrypted.
 */
async function decryptPayloads(node: unknown, codec: AesGcmPayloadCodec): Promise<void> {
  if (!node || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if (value && typeof value === 'object' && 'metadata' in value && 'data' in value) {
      const [plain] = await codec.decode([value as Payload]);
      (node as Record<string, unknown>)[key] = plain;
    } else await decryptPayloads(value, codec);
  }
}

/** Never overwrites a saved history: each set proves that runs open in production survive a deploy. */
async function record(name: string, workflowId: string, runId?: string): Promise<void> {
  if (fs.existsSync(path.join(DIR, `${name}.json`))) return;
  const history = await h.client.workflow.getHandle(workflowId, runId).fetchHistory();
  await decryptPayloads(history, new AesGcmPayloadCodec(testPayloadKeyList()));
  fs.mkdirSync(DIR, { recursive: true });
  fs.writeFileSync(path.join(DIR, `${name}.json`), historyToJSON(history));
  fs.writeFileSync(IDS_FILE, `${JSON.stringify({ ...savedIds(), [`${name}.json`]: workflowId }, null, 2)}\n`);
}

const payment = () => seedPayment(h.imt, { amount: '20.00' });

describe('workflow determinism', () => {
  // The histories without a prefix were recorded before issue 9 (workflows/*-v1.ts replay
  // them); `v2-*` ones by the code of issue 9 (early events passed in by the ingress);
  // `v3-*` ones since issue 13 (an early event waits as an awaited payment); `v4-*` ones
  // since the short backoff of a one-off failure (patch `short-backoff-while-imt-answers`);
  // `v5-*` ones since the retry budget (patch `short-backoff-within-retry-budget`). Recording
  // only adds missing files: an older set is what proves that runs already open in
  // production survive the deploy.
  it.runIf(UPDATE)('records histories of representative runs of the current code', async () => {
    const POST = '/api/integration/invoice/post-payment';
    const eventOf = (p: ReturnType<typeof payment>, amount = p.amount) => ({
      customer: p.customer,
      invoice_number: p.invoice_number,
      transaction_id: p.transaction_id,
      amount,
      message: '',
    });
    const result = (id: string) => h.client.workflow.getHandle(id).result();

    const happy = payment();
    await h.http.post(POST, happy);
    await record('v2-payment-posted', workflowIds.payment(happy.transaction_id));

    // Applied but unanswered, then 500s, then a void: settled, then reversed.
    const settled = payment();
    h.imt.faults.set({ applyThenHangNext: 1, failNext: 10_000, errorStatus: 500, routes: [POST] });
    await h.http.post(POST, settled);
    await h.http.post('/api/integration/invoice/void-payment', eventOf(settled));
    h.imt.faults.clear();
    await result(workflowIds.void(settled.transaction_id));
    await record('v2-payment-settled-for-void', workflowIds.payment(settled.transaction_id));
    await record('v2-void-after-settling', workflowIds.void(settled.transaction_id));
    await record('v2-reversal-void', workflowIds.reversal(settled.transaction_id));

    // An early void with another amount: both parked; the payment is posted after a retry.
    const mismatched = payment();
    await h.http.post('/api/integration/invoice/void-payment', eventOf(mismatched, '1.00'));
    await h.http.post(POST, mismatched);
    const paymentRun = h.client.workflow.getHandle(workflowIds.payment(mismatched.transaction_id));
    for (
      let i = 0;
      i < 50 && (await paymentRun.query<{ status: string }>('state')).status !== 'NEEDS_ATTENTION';
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    await paymentRun.signal('retry', { by: 'test' });
    await paymentRun.result();
    await h.client.workflow
      .getHandle(workflowIds.void(mismatched.transaction_id))
      .signal('dismiss', { reason: 'recorded for replay' });
    await result(workflowIds.void(mismatched.transaction_id));
    await record('v2-payment-early-mismatch-then-retried', workflowIds.payment(mismatched.transaction_id));
    await record('v2-void-early-mismatch-dismissed', workflowIds.void(mismatched.transaction_id));

    // A matching early ACH reject: never sent.
    const early = payment();
    await h.http.post('/api/integration/invoice/ach-reject', {
      ...eventOf(early),
      return_code: 'R01',
      returned_at: '2022-10-05',
    });
    await h.http.post(POST, early);
    await result(workflowIds.achReject(early.transaction_id));
    await record('v2-payment-cancelled-before-posting', workflowIds.payment(early.transaction_id));
    await record('v2-ach-reject-before-posting', workflowIds.achReject(early.transaction_id));

    // A matching early void waits as an awaited payment; the payment hands over, never sent.
    const awaited = payment();
    await h.http.post('/api/integration/invoice/void-payment', eventOf(awaited));
    const awaitedRun = await h.client.workflow
      .getHandle(workflowIds.payment(awaited.transaction_id))
      .describe();
    await h.http.post(POST, awaited);
    await result(workflowIds.void(awaited.transaction_id));
    await result(workflowIds.payment(awaited.transaction_id));
    await record('v3-awaited-payment-handed-over', awaitedRun.workflowId, awaitedRun.runId);
    await record('v3-payment-continued-from-awaited', workflowIds.payment(awaited.transaction_id));
    await record('v3-void-before-awaited-payment', workflowIds.void(awaited.transaction_id));

    /** A payment whose first posting IMT answers 503, retried and posted once. */
    const recordOneOff503 = async (name: string) => {
      const p = payment();
      h.imt.faults.set({ failNext: 1, errorStatus: 503, routes: [POST] });
      await h.http.post(POST, p);
      h.imt.faults.clear();
      await result(workflowIds.payment(p.transaction_id));
      await record(name, workflowIds.payment(p.transaction_id));
    };
    // While IMT answers other calls: the short backoff cap (its patch marker).
    await h.http.post(POST, payment());
    await recordOneOff503('v4-payment-one-off-failure-retried');
    // On a quiet system (IMT answered nothing lately): the retry budget's marker.
    await new Promise((r) => setTimeout(r, IMT_ANSWERING_WINDOW_MS + 1000));
    await recordOneOff503('v5-payment-failure-within-retry-budget');
  });

  const files = fs.existsSync(DIR)
    ? fs.readdirSync(DIR).filter((f) => f.endsWith('.json') && f !== 'workflow-ids.json')
    : [];

  it('has saved histories to replay', () => {
    expect(files.filter((f) => !f.startsWith('v2-')).length).toBeGreaterThanOrEqual(7);
    expect(files.filter((f) => f.startsWith('v2-')).length).toBeGreaterThanOrEqual(8);
    expect(files.filter((f) => f.startsWith('v3-')).length).toBeGreaterThanOrEqual(3);
    expect(files.filter((f) => f.startsWith('v4-')).length).toBeGreaterThanOrEqual(1);
    expect(files.filter((f) => f.startsWith('v5-')).length).toBeGreaterThanOrEqual(1);
  });

  it.each(files)('replays %s against the current workflow code', async (file) => {
    const history: unknown = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'));
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: inject('workflowBundlePath') } },
      history,
      savedIds()[file],
    );
  });
});
