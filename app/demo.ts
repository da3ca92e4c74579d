/**
 * `npm run demo` — a scripted day on the embedded stack, so a newcomer sees every flow in
 * one short run (how long: docs/operations.md, "A scripted day"): an in-memory Temporal dev server
 * with its UI, the IMT and IC simulators, the worker and the ingress, then
 *
 *   06:00  the billing-cycle export (IMT listing → invoice file → IC upload)
 *   09:00  a burst of payments (IC's Data Pump → ingress → one workflow each → IMT)
 *   11:00  IMT gets flaky, then goes down for maintenance; it comes back; every payment
 *          is still posted exactly once
 *   13:00  IMT refuses a payment: it parks in NEEDS_ATTENTION (and alerts, when
 *          ALERT_WEBHOOK_URL is set)
 *   14:00  a payer voids a card payment
 *   15:00  the bank returns an eCheck payment (ACH reject R01)
 *
 * and prints what happened with Temporal UI links. Everything goes through the real
 * ingress over HTTP, as IC would call it. `--keep-running` leaves the stack up to explore
 * (Ctrl-C to stop).
 *
 * Never against real systems: IMT_BASE_URL, IC_BASE_URL and TEMPORAL_ADDRESS are
 * ignored here; the other settings (ports, DATA_DIR, ALERT_WEBHOOK_URL, LOG_LEVEL) apply.
 */
import { randomUUID } from 'node:crypto';
import axios, { type AxiosInstance } from 'axios';
import { loadConfig } from '../common/config';
import { createLogger } from '../common/logger';
import { sampleValue } from './metrics';
import { workflowListUiUrl, workflowUiUrl } from '../common/ui';
import { ImtClient } from '../integrations/imt-client';
import { endpointSecrets, resolveEndpoints } from './wiring';
import {
  ExportStatus,
  PaymentStatus,
  TRANSACTION_WORKFLOW_TYPE,
  transactionStateQuery,
  workflowIds,
  type PaymentRequest,
} from '../domain';
import { listPayments } from '../client/cli/payments';
import { startExport, upToDateMessage } from '../client/exports';
import { startStack, type Stack } from './stack';

const CYCLE = '2022-09-01';
const POST_PAYMENT = '/api/integration/invoice/post-payment';
/** What the ingress accepts as an identifier (client/ingress/schemas.ts). */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

interface DemoInvoice {
  invoice_number: string;
  customer: string;
  amount_due: string;
}

const started = Date.now();
const out = (line = '') => process.stdout.write(`${line}\n`);
const clock = () => `+${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
const step = (time: string, title: string) => out(`\n${time}  ${title}  (${clock()})`);
const note = (text: string) => out(`       ${text}`);

export async function runDemo(opts: { keepRunning?: boolean } = {}): Promise<void> {
  const keepRunning = opts.keepRunning === true;
  // The demo never touches real systems: only the embedded parts.
  const config = loadConfig({ ...process.env, IMT_BASE_URL: '', IC_BASE_URL: '', TEMPORAL_ADDRESS: '' });
  const endpoints = resolveEndpoints(config);
  // Quiet by default: the demo's own lines tell the story; LOG_LEVEL=info shows the service's logs too.
  const logger = createLogger({
    level: process.env.LOG_LEVEL ?? 'error',
    secrets: endpointSecrets(endpoints),
    name: 'demo',
  });

  out(
    'Starting the embedded stack (in-memory Temporal dev server with UI, IMT and IC simulators, worker, ingress)…',
  );
  let stack: Stack;
  try {
    stack = await startStack(config, {
      logger,
      inMemoryTemporal: true,
      simulatorCycles: [{ seed: 7, invoiceMonth: CYCLE, count: 30, invalidEvery: 10 }],
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(
      `${message}\nIs \`npm start\` (or another demo) running? Stop it, or move the demo with TEMPORAL_PORT, ` +
        'TEMPORAL_UI_PORT, INGRESS_PORT, IMT_SIMULATOR_PORT, IC_SIMULATOR_PORT and METRICS_PORT.',
    );
  }
  const ui = stack.temporalUiUrl;
  const imtSim = stack.imtSimulator!;

  out(`  Temporal UI:   ${ui ?? '(none)'}`);
  out(`  Ingress:       ${stack.ingressUrl}   (metrics: ${stack.metricsUrl ?? 'off'})`);
  out(`  IMT simulator: ${imtSim.url}/_sim/ledger`);
  if (stack.icSimulator) out(`  IC simulator:  ${stack.icSimulator.url}/_sim/uploads`);

  const ingress: AxiosInstance = axios.create({
    baseURL: stack.ingressUrl,
    headers: { 'X-Integrator-ID': endpoints.ingressIntegratorId },
    validateStatus: () => true,
    timeout: 30_000,
  });

  const day = newDay(stack, ingress, await payableInvoices(stack));
  await exportScene(day);
  const morning = await morningScene(day);
  const { flaky, postedIds } = await imtTroubleScene(day, morning, config.ingress.confirmWaitMs);
  await parkedScene(day, config.alertWebhookUrl !== undefined);
  await voidScene(day, morning, postedIds);
  await achRejectScene(day, flaky, postedIds);
  await endOfDay(day);
  if (!keepRunning) {
    out(
      `\nDone in ${((Date.now() - started) / 1000).toFixed(0)} s. Run \`npm run demo -- --keep-running\` to explore the UI afterwards.`,
    );
    await stack.stop();
    return;
  }
  out('\nThe stack keeps running; try the commands above. Stop with Ctrl-C.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  out('Stopping…');
  await stack.stop();
}

/** What every scene of the day uses: the stack, the ingress as IC calls it, and a supply of invoices to pay. */
interface Day {
  stack: Stack;
  imtSim: NonNullable<Stack['imtSimulator']>;
  ui?: string;
  ns: string;
  taskQueue: string;
  link(workflowId: string): string;
  ingress: AxiosInstance;
  pay(method: PaymentRequest['payment_method']): PaymentRequest;
  send(payments: PaymentRequest[]): Promise<Sent[]>;
}

type Sent = { p: PaymentRequest; res: { status: number; data: unknown } };

function newDay(stack: Stack, ingress: AxiosInstance, invoices: DemoInvoice[]): Day {
  let next = 0;
  const takeInvoice = (): DemoInvoice => {
    if (next >= invoices.length) throw new Error('the demo ran out of invoices to pay');
    return invoices[next++];
  };
  const ui = stack.temporalUiUrl;
  const ns = stack.config.temporal.namespace;
  return {
    stack,
    imtSim: stack.imtSimulator!,
    ui,
    ns,
    taskQueue: stack.config.temporal.taskQueue,
    link: (workflowId) => workflowUiUrl(ui, ns, workflowId) ?? workflowId,
    ingress,
    pay: (method) => {
      const inv = takeInvoice();
      return {
        customer: inv.customer,
        invoice_number: inv.invoice_number,
        transaction_id: randomUUID(),
        amount: inv.amount_due,
        payment_method: method,
        message: '',
        source: 'invoice_cloud',
      };
    },
    send: async (payments) =>
      Promise.all(payments.map(async (p) => ({ p, res: await ingress.post(POST_PAYMENT, p) }))),
  };
}

function tally(answers: { res: { status: number } }[]): string {
  const counts = new Map<number, number>();
  for (const a of answers) counts.set(a.res.status, (counts.get(a.res.status) ?? 0) + 1);
  return [...counts.entries()].map(([status, n]) => `${n}× ${status}`).join(', ');
}

async function exportScene(day: Day): Promise<void> {
  const { stack, link, taskQueue } = day;
  const client = stack.client;
  step('06:00', `Billing cycle ${CYCLE}: export IMT's invoices to Invoice Cloud`);
  try {
    const exported = await startExport(client, taskQueue, { cycle: CYCLE, wait: true, requestedBy: 'demo' });
    const r = exported.result;
    if (r?.status === ExportStatus.UP_TO_DATE) {
      note(upToDateMessage(r));
    } else if (r) {
      note(
        `${r.invoiceCount} invoices (total ${r.totalAmount}) in ${r.fileName}; IC loaded ${r.icInvoiceCount}.`,
      );
      note(
        `${r.rejectedCount} left out of the file for missing required fields (report: ${r.rejectedPath}).`,
      );
    } else {
      note(`export ${exported.workflowId} finished.`);
    }
    note(`→ ${link(exported.workflowId)}`);
  } catch (err) {
    note(
      `export did not complete: ${err instanceof Error ? err.message.split('\n')[0] : String(err)} (continuing)`,
    );
  }
}

async function morningScene(day: Day): Promise<Sent[]> {
  const { pay, send } = day;
  step('09:00', 'Morning payments arrive from IC’s Data Pump');
  const morning = await send(Array.from({ length: 8 }, (_, i) => pay(i % 3 === 0 ? 'credit' : 'echeck')));
  note(`8 payments → ingress answered ${tally(morning)} (201 = IMT confirmed within the 5 s window).`);

  return morning;
}

async function imtTroubleScene(
  day: Day,
  morning: Sent[],
  confirmWaitMs: number,
): Promise<{ flaky: Sent[]; postedIds: Set<string> }> {
  const { imtSim, pay, send } = day;
  const client = day.stack.client;
  step('11:00', 'IMT gets flaky: half of the postings answer 503');
  imtSim.faults.set({ errorRate: 0.5, errorStatus: 503, routes: [POST_PAYMENT] });
  const flaky = await send(Array.from({ length: 6 }, () => pay('echeck')));
  note(`6 payments → ${tally(flaky)}; the workflows retried with backoff.`);

  step('11:10', 'IMT goes down for maintenance (503 + Retry-After)');
  imtSim.faults.set({ errorRate: 0, maintenance: true, routes: [POST_PAYMENT] });
  note(
    `sending 4 payments; the ingress waits up to ${confirmWaitMs / 1000} s for IMT, then answers 202 (accepted, durable)…`,
  );
  const down = await send(Array.from({ length: 4 }, () => pay('credit')));
  note(
    `4 payments → ${tally(down)}; status now: ${(down[0].res.data as { status?: string }).status ?? '?'}.`,
  );

  step('11:20', 'IMT is back');
  imtSim.faults.clear();
  const all = [...morning, ...flaky, ...down].map((a) => a.p);
  // A posted payment's run stays open (asleep) for a void or ACH reject: its state says when it is posted.
  const outcomes = await Promise.all(all.map((p) => settledStatus(client, p.transaction_id, 120_000)));
  const postedIds = new Set(
    all.filter((_, i) => outcomes[i] === PaymentStatus.POSTED).map((p) => p.transaction_id),
  );
  const postings = imtSim.postings().filter((x) => postedIds.has(x.transaction_id));
  const distinct = new Set(postings.map((x) => x.transaction_id)).size;
  note(
    `${postedIds.size} of ${all.length} payments POSTED; IMT's ledger holds ${postings.length} postings for them (${distinct} distinct: each exactly once).`,
  );

  return { flaky, postedIds };
}

async function parkedScene(day: Day, alerting: boolean): Promise<void> {
  const { imtSim, pay, ingress, link } = day;
  step('13:00', 'IMT refuses a payment (its invoice was closed in IMT)');
  const refused = pay('echeck');
  imtSim.rejectPostsFor(refused.invoice_number, { invoice_number: ['Invoice is closed.'] });
  const refusedRes = await ingress.post(POST_PAYMENT, refused);
  const refusedBody = refusedRes.data as { status?: string; message?: string };
  note(`ingress answered ${refusedRes.status}: ${refusedBody.message ?? ''}`);
  note(`the run waits in ${refusedBody.status ?? '?'} for a person; nothing is lost or retried blindly.`);
  note(
    alerting
      ? 'an alert goes to ALERT_WEBHOOK_URL (one per parked payment).'
      : 'set ALERT_WEBHOOK_URL to receive one Slack-compatible alert per parked payment.',
  );
  note(`→ ${link(workflowIds.payment(refused.transaction_id))}`);
  note(`try: npx imt-ic payments show ${refused.transaction_id}`);
}

async function voidScene(day: Day, morning: Sent[], postedIds: Set<string>): Promise<void> {
  const card = morning.find((a) => a.p.payment_method === 'credit' && postedIds.has(a.p.transaction_id))?.p;
  step('14:00', 'A payer voids a card payment in IC');
  if (card) await sendReversal(day, 'void', card, { message: 'voided by payer' });
  else note('no posted card payment to void (skipped).');
}

async function achRejectScene(day: Day, flaky: Sent[], postedIds: Set<string>): Promise<void> {
  const check = flaky.find((a) => postedIds.has(a.p.transaction_id))?.p;
  step('15:00', 'The bank returns an eCheck payment (NACHA R01, insufficient funds)');
  if (check)
    await sendReversal(day, 'ach_reject', check, {
      return_code: 'R01',
      returned_at: new Date().toISOString().slice(0, 10),
      message: 'insufficient funds',
    });
  else note('no posted eCheck payment to return (skipped).');
}

/** A void or an ACH reject of `payment`, sent as IC sends it, and what the ingress answered. */
async function sendReversal(
  day: Day,
  kind: 'void' | 'ach_reject',
  payment: PaymentRequest,
  extra: Record<string, string>,
): Promise<void> {
  const url =
    kind === 'void' ? '/api/integration/invoice/void-payment' : '/api/integration/invoice/ach-reject';
  const res = await day.ingress.post(url, {
    customer: payment.customer,
    invoice_number: payment.invoice_number,
    transaction_id: payment.transaction_id,
    amount: payment.amount,
    ...extra,
  });
  // The payment's own run takes the void / ACH reject: one run per transaction.
  describeReversal(res.status, res.data, workflowIds.payment(payment.transaction_id), day.link);
}

async function endOfDay(day: Day): Promise<void> {
  const { stack, imtSim, ui, ns, taskQueue } = day;
  const client = stack.client;
  step('17:00', 'End of day');
  const rows = await listPayments(
    { client, namespace: ns, taskQueue, temporalUiUrl: ui },
    { limit: 1000, json: false, anyTaskQueue: false },
  );
  const byStatus = new Map<string, number>();
  for (const r of rows) {
    const status = r.reversal ? `${r.status} (${r.reversal})` : r.status;
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }
  note(`payments by status: ${[...byStatus.entries()].map(([s, n]) => `${s} ${n}`).join(' · ')}`);
  note(`IMT ledger: ${imtSim.postings().length} postings, ${imtSim.reversals().length} reversals.`);
  const metrics = await stack.metrics.scrape();
  const m = (name: string, labels: Record<string, string> = {}) => sampleValue(metrics, name, labels);
  note(
    `ingress metrics: received ${m('imt_ic_ingress_received_total', { call: 'post-payment' })}, ` +
      `accepted ${m('imt_ic_ingress_accepted_total', { call: 'post-payment', status: '201' }) + m('imt_ic_ingress_accepted_total', { call: 'post-payment', status: '202' })}, ` +
      `posted ${m('imt_ic_payments_posted_total')}, parked ${m('imt_ic_payments_parked_total')}`,
  );
  out('');
  out('Where to look:');
  out(
    `  every payment:        ${workflowListUiUrl(ui, ns, `WorkflowType='${TRANSACTION_WORKFLOW_TYPE}'`) ?? ''}`,
  );
  out(`  what needs a person:  ${workflowListUiUrl(ui, ns, 'PaymentStatus="NEEDS_ATTENTION"') ?? ''}`);
  out('  from a terminal:      npx imt-ic payments list --status NEEDS_ATTENTION');
  out(`  metrics:              ${stack.metricsUrl ?? 'off (METRICS_PORT=0)'}`);
}

/** The transaction's status once it no longer waits on IMT (POSTED, NEEDS_ATTENTION, …), or NOT DONE. */
async function settledStatus(
  client: Stack['client'],
  transactionId: string,
  withinMs: number,
): Promise<string> {
  const handle = client.workflow.getHandle(workflowIds.payment(transactionId));
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    const status = await handle
      .query(transactionStateQuery)
      .then((s) => s.status)
      .catch(() => undefined);
    if (status && status !== PaymentStatus.POSTING && status !== PaymentStatus.MAYBE_POSTED) return status;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return 'NOT DONE';
}

function describeReversal(status: number, data: unknown, workflowId: string, link: (id: string) => string) {
  const body = (data ?? {}) as { status?: string; message?: string };
  if (status === 404) {
    note('the ingress has no endpoint for this yet (voids / ACH rejects not deployed) — skipped.');
    return;
  }
  note(`ingress answered ${status}: ${body.status ?? body.message ?? ''}`);
  note(`→ ${link(workflowId)}`);
}

/** Invoices of the demo cycle that a payer could pay in full (the simulator's data set has some broken ones on purpose). */
async function payableInvoices(stack: Stack): Promise<DemoInvoice[]> {
  const imt = new ImtClient({
    baseUrl: stack.endpoints.imt.baseUrl,
    integratorId: stack.endpoints.imt.integratorId,
  });
  const page = await imt.listInvoices({ invoiceMonth: CYCLE, page: 1, pageSize: 100 });
  const out: DemoInvoice[] = [];
  for (const inv of page.results) {
    const amount = typeof inv.amount_due === 'string' ? inv.amount_due : '';
    const customer = typeof inv.customer === 'string' ? inv.customer : '';
    const invoiceNumber = typeof inv.invoice_number === 'string' ? inv.invoice_number : '';
    if (!/^\d+\.\d{2}$/.test(amount) || Number(amount) <= 0) continue;
    if (!SAFE_ID.test(customer) || !SAFE_ID.test(invoiceNumber)) continue;
    out.push({ invoice_number: invoiceNumber, customer, amount_due: amount });
  }
  return out;
}
