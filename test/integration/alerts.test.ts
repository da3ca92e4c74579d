/**
 * Alerts: a payment that parks in NEEDS_ATTENTION produces exactly one Slack-compatible
 * notification — also when the worker is restarted and the run is replayed from its
 * history by a fresh worker — and none at all when no webhook URL is configured.
 *
 * "Exactly one" is checked without waiting for time to pass: the workflow awaits the
 * alert activity before anything else, so once the run has *closed* every alert it
 * would ever send has been sent.
 */
import { withUpdateRetry } from '../../common/update-retry';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PaymentStatus,
  dismissUpdate,
  retryUpdate,
  transactionStateQuery,
  workflowIds,
  type TransactionState,
} from '../../domain';
import { eventually, startHarness, type Harness } from '../helpers/harness';
import { seedPayment } from '../helpers/payments';

interface Received {
  body: { text?: unknown; blocks?: unknown; idempotency_key?: unknown };
  idempotencyKey?: string;
}

let receiver: FastifyInstance;
let receiverUrl: string;
const received: Received[] = [];

beforeAll(async () => {
  receiver = Fastify();
  receiver.post('/hooks/alerts', async (req, reply) => {
    received.push({
      body: req.body as Received['body'],
      idempotencyKey: req.headers['idempotency-key'] as string | undefined,
    });
    return reply.code(200).send('ok');
  });
  await receiver.listen({ port: 0, host: '127.0.0.1' });
  const addr = receiver.server.address();
  receiverUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hooks/alerts`;
});
afterAll(async () => {
  await receiver?.close();
});

/** Posts a payment IMT refuses with `errors` (400): its run parks in NEEDS_ATTENTION. */
async function parkedPayment(h: Harness, errors: Record<string, string[]>) {
  const p = seedPayment(h.imt);
  h.imt.rejectPostsFor(p.invoice_number, errors);
  expect((await h.http.post('/api/integration/invoice/post-payment', p)).status).toBe(400);
  const handle = h.client.workflow.getHandle(workflowIds.payment(p.transaction_id));
  // Each parking of a run alerts under its own key: the run, and the how-manyth parking.
  const { runId } = await handle.describe();
  const alertKey = (n: number) => `payment-${p.transaction_id}:${runId}:parked:${n}`;
  return { p, handle, alertKey };
}

const dismiss = { args: [{ reason: 'alert test done', by: 'test' }] as [{ reason: string; by: string }] };

const alertsFor = (txid: string) => received.filter((r) => String(r.body.text).includes(txid));

describe('with ALERT_WEBHOOK_URL', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      name: 'alerts',
      alertWebhookUrl: receiverUrl,
      temporalUiUrl: 'http://ui.example:8233',
      confirmWaitMs: 5000,
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('sends exactly one Slack-compatible notification per parked run, also across a worker restart', async () => {
    const { p, handle, alertKey } = await parkedPayment(h, { invoice_number: ['Invoice is closed.'] });

    const [alert] = await eventually(async () =>
      alertsFor(p.transaction_id).length ? alertsFor(p.transaction_id) : undefined,
    );
    expect(typeof alert.body.text).toBe('string');
    const text = String(alert.body.text);
    expect(text).toContain(`Transaction ${p.transaction_id} needs attention`);
    expect(text).not.toContain('IMT MAY HOLD'); // refused for sure: IMT holds nothing
    expect(text).toContain('InvalidPost');
    expect(text).toContain(
      `<http://ui.example:8233/namespaces/default/workflows/payment-${p.transaction_id}|Open in Temporal UI>`,
    );
    expect(Array.isArray(alert.body.blocks)).toBe(true);
    expect(alert.idempotencyKey).toBe(alertKey(1));
    expect(alert.body.idempotency_key).toBe(alert.idempotencyKey);
    // No credential ever leaves in an alert.
    expect(JSON.stringify(alert)).not.toContain(h.imtIntegratorId);
    expect(JSON.stringify(alert)).not.toContain(h.ingressIntegratorId);

    // The alert is delivered by its own run, keyed by the alert: the payment run's history
    // holds its start (what a replay reads instead of starting it again).
    const alertRun = h.client.workflow.getHandle(workflowIds.alert(alertKey(1)));
    expect(await alertRun.result()).toEqual({ sent: true });
    await eventually(async () => {
      const { events } = await handle.fetchHistory();
      return (events ?? []).some((e) => e.childWorkflowExecutionStartedEventAttributes);
    });
    // A fresh worker has no cached state: the query makes it replay the run from history.
    await h.stopWorker();
    await h.startWorker();
    const replayed = await handle.query(transactionStateQuery);
    expect(replayed.status).toBe(PaymentStatus.NEEDS_ATTENTION);

    // Closing the run replays it once more on this worker; afterwards nothing can be pending.
    await withUpdateRetry(() => handle.executeUpdate(dismissUpdate, dismiss));
    expect(((await handle.result()) as TransactionState).status).toBe(PaymentStatus.DISMISSED);
    h.imt.clearRejections();
    expect(alertsFor(p.transaction_id)).toHaveLength(1);
  });

  it('sends one notification per parking: a retry that parks again alerts again, with a new key', async () => {
    const { p, handle, alertKey } = await parkedPayment(h, { amount: ['Amount exceeds balance.'] });
    await eventually(async () => alertsFor(p.transaction_id).length === 1);
    // IMT still refuses: the retry's attempt parks the run again.
    expect(
      await withUpdateRetry(() => handle.executeUpdate(retryUpdate, { args: [{ by: 'test' }] })),
    ).toMatchObject({
      status: PaymentStatus.NEEDS_ATTENTION,
    });
    expect((await handle.query(transactionStateQuery)).posting.attempts).toBe(2);
    await eventually(async () => alertsFor(p.transaction_id).length === 2);
    await withUpdateRetry(() => handle.executeUpdate(dismissUpdate, dismiss));
    await handle.result();
    h.imt.clearRejections();
    expect(alertsFor(p.transaction_id).map((a) => a.idempotencyKey)).toEqual([alertKey(1), alertKey(2)]);
  });
});

describe('without ALERT_WEBHOOK_URL', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ name: 'no-alerts', confirmWaitMs: 5000 });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('sends nothing: the alert activity completes with sent=false', async () => {
    const { p, handle, alertKey } = await parkedPayment(h, { invoice_number: ['Invoice is closed.'] });
    await withUpdateRetry(() => handle.executeUpdate(dismissUpdate, dismiss));
    await handle.result();
    h.imt.clearRejections();

    const history = await handle.fetchHistory();
    const started = (history.events ?? []).filter(
      (e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name === 'alertWorkflow',
    );
    expect(started).toHaveLength(1);
    const alertRun = h.client.workflow.getHandle(workflowIds.alert(alertKey(1)));
    expect(await alertRun.result()).toEqual({ sent: false });
    expect(alertsFor(p.transaction_id)).toHaveLength(0);
  });
});
