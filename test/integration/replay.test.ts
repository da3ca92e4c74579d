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
import {
  workflowIds,
  type PaymentMethod,
  type PaymentRequest,
  type TransactionState,
  dismissUpdate,
  retryUpdate,
  transactionStateQuery,
} from '../../domain';
import { testPayloadKeyList } from '../helpers/payload-keys';
import { startHarness, type Harness } from '../helpers/harness';
import { seedPayment, voidOf } from '../helpers/payments';

const DIR = path.resolve('test/fixtures/histories');
const UPDATE = process.env.UPDATE_HISTORIES === '1';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    name: 'replay',
    confirmWaitMs: 3000,
    imtTimeoutMs: 1000,
    // Small enough that a few redeliveries during an outage make the run continue as new.
    timing: { settleMs: 1000, continueAfterEvents: 40 },
  });
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
      // A payload the SDK never encodes (e.g. user metadata) is stored as it is.
      const [plain] = await codec.decode([value as Payload]).catch((err: unknown) => {
        if ((err as Error).name === 'PlaintextPayloadError') return [value as Payload];
        throw err;
      });
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

const payment = (method: PaymentMethod = 'echeck') => seedPayment(h.imt, { amount: '20.00', method });
const POST = '/api/integration/invoice/post-payment';
const VOID = '/api/integration/invoice/void-payment';
const ACH = '/api/integration/invoice/ach-reject';
const run = (txid: string) => h.client.workflow.getHandle(workflowIds.payment(txid));
const until = async (txid: string, ok: (s: TransactionState) => boolean) => {
  for (let i = 0; i < 300; i++) {
    const s = await run(txid)
      .query(transactionStateQuery)
      .catch(() => undefined);
    if (s && ok(s)) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`transaction ${txid} did not reach the expected state`);
};

/**
 * Release 1.0 (issue 20): one history per state of a transaction's lifecycle, recorded from
 * the current code. From 1.0 on these files are never re-recorded: each proves that runs open
 * in production survive a deploy. A change that breaks one needs a registered patch
 * (workflows/patches.ts), then a new history of its own.
 */
async function recordLifecycle(): Promise<void> {
  const achOf = (p: PaymentRequest) => ({ ...voidOf(p), return_code: 'R01', returned_at: '2022-10-05' });

  const posted = payment();
  await h.http.post(POST, posted);
  await record('1.0.1-posted-asleep', workflowIds.payment(posted.transaction_id));

  const awaiting = payment();
  await h.http.post(VOID, voidOf(awaiting));
  await record('1.0.1-void-awaiting-payment', workflowIds.payment(awaiting.transaction_id));

  const notPosted = payment('credit');
  await h.http.post(VOID, voidOf(notPosted));
  await h.http.post(POST, notPosted);
  await until(notPosted.transaction_id, (s) => s.status === 'NOT_POSTED');
  await record('1.0.1-voided-before-posting', workflowIds.payment(notPosted.transaction_id));

  const reversed = payment();
  await h.http.post(POST, reversed);
  await h.http.post(ACH, achOf(reversed));
  await run(reversed.transaction_id).result();
  await record('1.0.1-ach-rejected', workflowIds.payment(reversed.transaction_id));

  // An event for a completed transaction: a reopened run reads IMT's record (C4).
  await h.http.post(VOID, voidOf(reversed));
  await run(reversed.transaction_id).result();
  await record('1.0.1-reopened-already-reversed', workflowIds.payment(reversed.transaction_id));

  // Applied but unanswered, IMT then refuses the repeat (400): IMT's record decides; then a void.
  const uncertain = payment('credit');
  h.imt.faults.set({ applyThenHangNext: 1, failNext: 10_000, errorStatus: 500, routes: [POST] });
  await h.http.post(POST, uncertain);
  await until(uncertain.transaction_id, (s) => s.posting.holds === 'MAYBE');
  await record('1.0.1-maybe-posted-retrying', workflowIds.payment(uncertain.transaction_id));
  h.imt.rejectPostsFor(uncertain.invoice_number, { amount: ['exceeds the balance due'] });
  h.imt.faults.clear();
  await until(uncertain.transaction_id, (s) => s.posting.holds === 'YES');
  h.imt.clearRejections();
  await h.http.post(VOID, voidOf(uncertain));
  await run(uncertain.transaction_id).result();
  await record('1.0.1-refused-repeat-checked-then-voided', workflowIds.payment(uncertain.transaction_id));

  const parked = payment('credit');
  h.imt.rejectPostsFor(parked.invoice_number, { amount: ['invalid'] });
  await h.http.post(POST, parked);
  h.imt.clearRejections();
  await run(parked.transaction_id).executeUpdate(retryUpdate, { args: [{ by: 'replay' }] });
  await record('1.0.1-parked-then-retried', workflowIds.payment(parked.transaction_id));

  const dismissed = payment('credit');
  h.imt.rejectPostsFor(dismissed.invoice_number, { amount: ['invalid'] });
  await h.http.post(POST, dismissed);
  await run(dismissed.transaction_id).executeUpdate(dismissUpdate, { args: [{ reason: 'replay' }] });
  await run(dismissed.transaction_id).result();
  h.imt.clearRejections();
  await record('1.0.1-parked-then-dismissed', workflowIds.payment(dismissed.transaction_id));

  const cancelled = payment('credit');
  h.imt.faults.set({ maintenance: true, routes: [POST] });
  await h.http.post(POST, cancelled);
  await run(cancelled.transaction_id).cancel();
  await run(cancelled.transaction_id)
    .result()
    .catch(() => undefined);
  h.imt.faults.clear();
  await record('1.0.1-cancelled-while-posting', workflowIds.payment(cancelled.transaction_id));

  // Continue-as-new: the run's history limit is lowered for this one transaction.
  const long = payment('credit');
  h.imt.faults.set({ maintenance: true, routes: [POST] });
  await h.http.post(POST, long);
  const first = await run(long.transaction_id).describe();
  for (let i = 0; i < 6; i++) await h.http.post(POST, long);
  h.imt.faults.clear();
  await until(long.transaction_id, (s) => s.posting.holds === 'YES');
  await record('1.0.1-continued-as-new-first-run', workflowIds.payment(long.transaction_id), first.runId);
  await record('1.0.1-continued-as-new-next-run', workflowIds.payment(long.transaction_id));
}

describe('workflow determinism', () => {
  it.runIf(UPDATE)(
    'records a history of every state of the transaction lifecycle (1.0)',
    recordLifecycle,
    180_000,
  );

  const files = fs.existsSync(DIR)
    ? fs.readdirSync(DIR).filter((f) => f.endsWith('.json') && f !== 'workflow-ids.json')
    : [];

  it('has a saved 1.0 history of every lifecycle state', () => {
    // 1.0: runs started before TransactionInput.first; 1.0.1: runs whose input carries it.
    for (const set of ['1.0', '1.0.1'])
      for (const name of LIFECYCLE) expect(files).toContain(`${name.replace(/^1\.0-/, `${set}-`)}.json`);
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

const LIFECYCLE = [
  '1.0-posted-asleep',
  '1.0-void-awaiting-payment',
  '1.0-voided-before-posting',
  '1.0-ach-rejected',
  '1.0-reopened-already-reversed',
  '1.0-maybe-posted-retrying',
  '1.0-refused-repeat-checked-then-voided',
  '1.0-parked-then-retried',
  '1.0-parked-then-dismissed',
  '1.0-cancelled-while-posting',
  '1.0-continued-as-new-first-run',
  '1.0-continued-as-new-next-run',
];
