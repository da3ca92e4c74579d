/**
 * Metrics move as payments flow: the ingress's /metrics (prom-client, wired through the
 * ingress hooks and the activities' counters exactly as app/stack.ts wires them) is
 * scraped before and after real traffic, and a stand-alone worker process
 * (`imt-ic worker`) serves the SDK's runtime metrics plus the business counters on
 * METRICS_PORT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import axios from 'axios';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createMetrics, sampleValue, serveMetrics, type MetricsServer } from '../../app/metrics';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { TRANSACTION_WORKFLOW_TYPE, deliverUpdate, transactionStateQuery, workflowIds } from '../../domain';
import { transactionStartOptions } from '../../client/ingress/payment';
import type { transactionWorkflow } from '../../workflows/transaction';
import { eventually, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { freePort } from '../helpers/free-port';
import { seedPayment } from '../helpers/payments';
import { testPayloadKeys } from '../helpers/payload-keys';

let h: Harness;
let metricsServer: MetricsServer;

const newPayment = () => seedPayment(h.imt);

const scrape = async () => {
  // Its own port on loopback (METRICS_HOST / METRICS_PORT), not the ingress's.
  const res = await axios.get(metricsServer.url, { validateStatus: () => true });
  expect(res.status).toBe(200);
  expect(String(res.headers['content-type'])).toContain('text/plain');
  return String(res.data);
};

beforeAll(async () => {
  const metrics = createMetrics();
  h = await startHarness({
    name: 'metrics',
    confirmWaitMs: 1500,
    ingressHooks: metrics.ingressHooks,
    activityMetrics: metrics.activity,
  });
  metricsServer = await serveMetrics(metrics.registry, { host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await metricsServer?.close();
  await h?.stop();
});

describe('ingress /metrics', () => {
  it('counts received, accepted, rejected by reason, posted, parked and answer latency', async () => {
    const before = await scrape();
    const post = (body: unknown) => h.http.post('/api/integration/invoice/post-payment', body);

    const ok = newPayment();
    expect((await post(ok)).status).toBe(201);
    expect((await post({ ...ok, amount: '60.00' })).status).toBe(409);
    expect((await post({ ...newPayment(), amount: '1.005' })).status).toBe(400);
    const unauthenticated = await h.http.post('/api/integration/invoice/post-payment', newPayment(), {
      headers: { 'X-Integrator-ID': 'wrong' },
    });
    expect(unauthenticated.status).toBe(403);

    const refused = newPayment();
    h.imt.rejectPostsFor(refused.invoice_number, { invoice_number: ['Invoice is closed.'] });
    expect((await post(refused)).status).toBe(400);

    h.imt.faults.set({ maintenance: true, routes: ['/api/integration/invoice/post-payment'] });
    const delayed = newPayment();
    expect((await post(delayed)).status).toBe(202);
    h.imt.faults.clear();
    // The run stays open after posting (for a void): its state tells when it has posted.
    await eventually(async () => {
      const s = await h.client.workflow
        .getHandle(workflowIds.payment(delayed.transaction_id))
        .query(transactionStateQuery);
      return s.status === 'POSTED';
    });

    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      sampleValue(after, name, labels) - sampleValue(before, name, labels);

    const call = { call: 'post-payment' };
    expect(delta('imt_ic_ingress_received_total', call)).toBe(5); // the 403 never reaches the handler
    expect(delta('imt_ic_ingress_accepted_total', { ...call, status: '201' })).toBe(1);
    expect(delta('imt_ic_ingress_accepted_total', { ...call, status: '202' })).toBe(1);
    expect(delta('imt_ic_ingress_rejected_total', { ...call, reason: 'conflict' })).toBe(1);
    expect(delta('imt_ic_ingress_rejected_total', { ...call, reason: 'invalid_body' })).toBe(1);
    expect(delta('imt_ic_ingress_rejected_total', { ...call, reason: 'auth' })).toBe(1);
    expect(delta('imt_ic_payments_posted_total')).toBe(2);
    expect(delta('imt_ic_payments_parked_total')).toBe(1);
    expect(delta('imt_ic_payment_attempt_failures_total', { type: 'InvalidPost' })).toBe(1);
    expect(
      delta('imt_ic_payment_attempt_failures_total', { type: 'ServiceUnavailable' }),
    ).toBeGreaterThanOrEqual(1);
    expect(delta('imt_ic_ingress_answers_total', { ...call, status: '400' })).toBe(2);
    expect(delta('imt_ic_ingress_request_duration_seconds_count', { ...call, status: '201' })).toBe(1);
    expect(delta('imt_ic_ingress_request_duration_seconds_count', { ...call, status: '403' })).toBe(1);
    // The 202 came after the confirmation window, so it lands in a bucket of at least 1 s.
    expect(
      delta('imt_ic_ingress_request_duration_seconds_bucket', { ...call, status: '202', le: '0.5' }),
    ).toBe(0);
    expect(
      delta('imt_ic_ingress_request_duration_seconds_bucket', { ...call, status: '202', le: '+Inf' }),
    ).toBe(1);

    // Labels are calls, reasons and statuses — never payment data.
    for (const p of [ok, refused, delayed]) {
      expect(after).not.toContain(p.transaction_id);
      expect(after).not.toContain(p.invoice_number);
    }
    expect(after).toContain('imt_ic_process_cpu_seconds_total');
    h.imt.clearRejections();
  });
});

describe('stand-alone worker (npm run worker)', () => {
  let child: ChildProcess | undefined;
  let output = '';
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('serves the SDK runtime metrics and its business counters on METRICS_PORT; logs carry workflow IDs', async () => {
    const metricsPort = await freePort();
    const taskQueue = uniqueId('tq-metrics-worker');
    const root = path.resolve(__dirname, '../..');
    child = spawn(
      process.execPath,
      [path.join(root, 'node_modules/tsx/dist/cli.mjs'), 'app/main.ts', 'worker'],
      {
        cwd: root,
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: inject('temporalAddress'),
          TEMPORAL_TASK_QUEUE: taskQueue,
          METRICS_PORT: String(metricsPort),
          IMT_BASE_URL: h.imt.url,
          // The simulator on loopback speaks plain HTTP (contracts A).
          ALLOW_INSECURE_URLS: 'true',
          // A real-like IMT with the IC simulator: allowed by name (common/config.ts).
          ALLOW_ONE_SIMULATOR: 'true',
          IMT_INTEGRATOR_ID: h.imtIntegratorId,
          INGRESS_INTEGRATOR_ID: h.ingressIntegratorId,
          DATA_DIR: h.dataDir,
          LOG_LEVEL: 'info',
          PAYLOAD_KEYS: testPayloadKeys(),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout?.on('data', (d) => (output += String(d)));
    child.stderr?.on('data', (d) => (output += String(d)));

    const url = `http://127.0.0.1:${metricsPort}/metrics`;
    await eventually(
      async () => {
        if (child?.exitCode !== null) throw new Error(`worker exited: ${output}`);
        return String((await axios.get(url)).data).includes('temporal_');
      },
      60_000,
      250,
    );

    const p = newPayment();
    // Delivered as the ingress delivers it: an update-with-start of the transaction's run.
    const delivery = { kind: 'payment' as const, payment: p };
    const start = new WithStartWorkflowOperation<typeof transactionWorkflow>(
      TRANSACTION_WORKFLOW_TYPE,
      transactionStartOptions(delivery, { taskQueue }),
    );
    const answer = await h.client.workflow.executeUpdateWithStart(deliverUpdate, {
      args: [{ delivery, waitMs: 30_000 }],
      startWorkflowOperation: start,
    });
    expect(answer.status).toBe('POSTED');
    const handle = await start.workflowHandle();

    // The SDK exports the counter under prom-client's name (one set of alert rules for both shapes).
    const text = await eventually(async () => {
      const body = String((await axios.get(url)).data);
      if (sampleValue(body, 'imt_ic_payments_posted_total') >= 1) return body;
      throw new Error(
        body
          .split('\n')
          .filter((l) => l.startsWith('imt_ic'))
          .join('\n') || 'no imt_ic metrics',
      );
    });
    expect(text).toMatch(/temporal_(activity|workflow)_\w+/);
    // Counters start at 0 for every bounded label value; IMT's answer was counted as a call.
    expect(text).toMatch(/^imt_ic_export_files_total\{[^}]*stage="upload"[^}]*\} 0$/m);
    expect(
      sampleValue(text, 'imt_ic_outbound_calls_total', {
        service: 'imt',
        call: 'post-payment',
        outcome: 'ok',
      }),
    ).toBeGreaterThanOrEqual(1);

    // Structured (pino) log line of the activity, correlated to the run.
    const line = await eventually(async () =>
      output.split('\n').find((l) => l.includes('payment posted to IMT') && l.includes(p.transaction_id)),
    );
    const log = JSON.parse(line) as Record<string, unknown>;
    expect(log).toMatchObject({
      workflowId: workflowIds.payment(p.transaction_id),
      runId: (await handle.describe()).runId,
      activity: 'postPayment',
    });
    expect(output).not.toContain(h.imtIntegratorId);
  });
});
