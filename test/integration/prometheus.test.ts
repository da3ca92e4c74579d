/**
 * The dashboard and the alert rules against a real Prometheus (Debian's /usr/bin/prometheus)
 * scraping a short real run of the stack: its own Temporal server with metrics on (the dev
 * server; with TEST_TEMPORAL=cluster, a Temporal cluster on PostgreSQL), the
 * service (worker + ingress + simulators, app/stack.ts) with the SDK's Prometheus endpoint,
 * and traffic through the ingress — payments, a refused one, a void, an RTDR look-up, an
 * export of a cycle, a reconciliation and a workflow task that fails.
 *
 * Proven here: every panel query of deploy/grafana/dashboards/imt-ic.json returns series;
 * Prometheus loads deploy/prometheus/alerts.yml and evaluates every rule without error; every
 * series selector of every alert finds series (an alert's expression is empty while all is
 * well, so its selectors are what a typo would break).
 *
 * Skipped, saying so, only where Prometheus is not installed (CI installs it: .ci/run).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { chromium } from 'playwright-core';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../common/config';
import { silentLogger } from '../../common/logger';
import { startStack, type Stack } from '../../app/stack';
import { startDevServer } from '../../dev/temporal-server';
import { startCluster, type LocalCluster } from '../../dev/cluster';
import { installWorkerRuntime } from '../../worker/telemetry';
import { startExport } from '../../client/exports';
import { runReconciliation } from '../../client/reconcile';
import { dateOfInstant } from '../../domain';
import { freePort } from '../helpers/free-port';
import { eventually, uniqueId } from '../helpers/harness';
import { seedPayment, voidOf } from '../helpers/payments';
import { testPayloadKeys } from '../helpers/payload-keys';
import { selectorsOf } from '../helpers/promql';

const PROMETHEUS = '/usr/bin/prometheus';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = path.resolve(__dirname, '../..');
const CYCLE = '2022-09-01';
const haveProm = fs.existsSync(PROMETHEUS);
if (!haveProm) {
  process.stderr.write(
    `[prometheus.test] SKIPPED: ${PROMETHEUS} is not installed (apt-get install prometheus; CI installs it)\n`,
  );
}

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
}
interface Rule {
  alert: string;
  expr: string;
}

const dashboard = JSON.parse(
  fs.readFileSync(path.join(ROOT, 'deploy/grafana/dashboards/imt-ic.json'), 'utf8'),
) as { panels: Panel[] };
const panelQueries = dashboard.panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
);
const rulesPath = path.join(ROOT, 'deploy/prometheus/alerts.yml');
const alertRules = (
  parseYaml(fs.readFileSync(rulesPath, 'utf8')) as { groups: { rules: Rule[] }[] }
).groups.flatMap((g) => g.rules);

let temporal: TestWorkflowEnvironment | undefined;
let cluster: LocalCluster | undefined;
let stack: Stack | undefined;
let prometheus: ChildProcess | undefined;
let promUrl = '';
let promLog = '';
const dirs: string[] = [];

const tempDir = (name: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `imt-ic-prom-${name}-`));
  dirs.push(dir);
  return dir;
};

async function query(expr: string): Promise<unknown[]> {
  const res = await axios.get(`${promUrl}/api/v1/query`, { params: { query: expr } });
  const body = res.data as { status: string; data: { result: unknown[] } };
  if (body.status !== 'success') throw new Error(`query failed: ${expr}`);
  return body.data.result;
}

/** Waits until `expr` returns series (scrapes every second; rates need two samples). */
async function expectSeries(expr: string, what: string): Promise<void> {
  await eventually(async () => (await query(expr)).length > 0, 60_000, 1000).catch((err: Error) => {
    throw new Error(`${what}: no series for ${expr} (${err.message})`);
  });
}

async function startPrometheus(targets: Record<string, string>): Promise<void> {
  const dir = tempDir('server');
  const port = await freePort();
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: [rulesPath],
    scrape_configs: Object.entries(targets).map(([job, target]) => ({
      job_name: job,
      static_configs: [{ targets: [target] }],
    })),
  };
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), JSON.stringify(config));
  prometheus = spawn(
    PROMETHEUS,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  prometheus.stderr?.on('data', (d) => (promLog = (promLog + String(d)).slice(-4000)));
  promUrl = `http://127.0.0.1:${port}`;
  await eventually(
    async () => {
      if (prometheus?.exitCode !== null) throw new Error(`prometheus exited: ${promLog}`);
      return (await axios.get(`${promUrl}/-/ready`, { validateStatus: () => true })).status === 200;
    },
    30_000,
    200,
  );
}

/** A short real run: what an operator's dashboard shows on a working day, in a minute. */
async function driveTraffic(s: Stack): Promise<void> {
  const imt = s.imtSimulator;
  if (!imt) throw new Error('the stack runs without its IMT simulator');
  const http = axios.create({
    baseURL: s.ingressUrl,
    headers: { 'X-Integrator-ID': s.endpoints.ingressIntegratorId },
    validateStatus: () => true,
  });
  const post = (body: unknown) => http.post('/api/integration/invoice/post-payment', body);
  const payments = [seedPayment(imt), seedPayment(imt), seedPayment(imt)];
  for (const p of payments) expect((await post(p)).status).toBe(201);
  const refused = seedPayment(imt);
  imt.rejectPostsFor(refused.invoice_number, { invoice_number: ['Invoice is closed.'] });
  expect((await post(refused)).status).toBe(400);
  expect([201, 202]).toContain(
    (await http.post('/api/integration/invoice/void-payment', voidOf(payments[0]))).status,
  );
  expect((await http.get(`/api/integration/invoice/${payments[1].invoice_number}/detail`)).status).toBe(200);

  // A workflow task that fails (no such workflow type): what a non-determinism error looks like to metrics.
  const broken = await s.client.workflow.start('noSuchWorkflowType', {
    taskQueue: s.config.temporal.taskQueue,
    workflowId: uniqueId('broken'),
  });
  const exported = await startExport(s.client, s.config.temporal.taskQueue, { cycle: CYCLE, wait: true });
  expect(exported.result?.rejectedCount).toBeGreaterThan(0);
  await runReconciliation(
    { client: s.client, taskQueue: s.config.temporal.taskQueue, timeZone: 'Etc/UTC' },
    dateOfInstant(new Date(), 'Etc/UTC'),
  );
  await eventually(
    async () => (await query('temporal_workflow_task_execution_failed')).length > 0,
    60_000,
    1000,
  );
  await broken.terminate('test: the failing workflow task was counted');
}

describe.skipIf(!haveProm)('dashboard and alert rules on a real Prometheus', () => {
  beforeAll(async () => {
    const [temporalPort, serverMetricsPort, ingressPort, sdkMetricsPort, imtPort, icPort, metricsPort] =
      await Promise.all(Array.from({ length: 7 }, () => freePort()));
    // The SDK runtime first (with its Prometheus endpoint): the dev server would install a default one.
    const telemetry = installWorkerRuntime({ logger: silentLogger, metricsPort: sdkMetricsPort });
    expect(telemetry.metricsUrl, 'SDK metrics endpoint').toBeDefined();
    if (inject('temporalKind') === 'cluster') {
      // The production shape: a Temporal server on PostgreSQL, its metrics endpoint scraped too.
      const dir = tempDir('cluster');
      fs.chmodSync(dir, 0o755); // PostgreSQL runs as a non-root user when the tests run as root
      cluster = await startCluster({ dataDir: dir, port: temporalPort, metricsPort: serverMetricsPort });
    } else {
      temporal = await startDevServer({ port: temporalPort, metricsPort: serverMetricsPort });
    }
    const config = loadConfig({
      TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
      TEMPORAL_TASK_QUEUE: uniqueId('tq-prometheus'),
      INGRESS_PORT: String(ingressPort),
      // The service's own endpoint (never the ingress's port); the SDK exporter keeps its own.
      METRICS_PORT: String(metricsPort),
      IMT_SIMULATOR_PORT: String(imtPort),
      IC_SIMULATOR_PORT: String(icPort),
      DATA_DIR: tempDir('data'),
      INGRESS_INTEGRATOR_ID: uniqueId('ingress-id'),
      PAYLOAD_KEYS: testPayloadKeys(),
      WORKFLOW_BUNDLE_PATH: inject('workflowBundlePath'),
      LOG_LEVEL: 'error',
    });
    stack = await startStack(config, {
      logger: silentLogger,
      simulatorCycles: [{ seed: 23, invoiceMonth: CYCLE, count: 40, invalidEvery: 9 }],
    });
    await startPrometheus({
      'imt-ic-ingress': `127.0.0.1:${metricsPort}`,
      'imt-ic-worker': `127.0.0.1:${sdkMetricsPort}`,
      temporal: `127.0.0.1:${serverMetricsPort}`,
    });
    // Every target scraped once before the traffic, so that the run's counting shows as increases.
    await eventually(async () => (await query('up == 1')).length === 3, 30_000, 250);
    await driveTraffic(stack);
  }, 300_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus?.once('exit', r));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await stack?.stop();
    await temporal?.teardown();
    await cluster?.stop();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes the ingress, the worker and the Temporal server', async () => {
    const targets = await eventually(async () => {
      const res = await axios.get(`${promUrl}/api/v1/targets`);
      const active = (res.data as { data: { activeTargets: { labels: { job: string }; health: string }[] } })
        .data.activeTargets;
      return active.every((t) => t.health === 'up') && active.length === 3 ? active : undefined;
    }, 30_000);
    expect(targets.map((t) => t.labels.job).sort()).toEqual(['imt-ic-ingress', 'imt-ic-worker', 'temporal']);
  });

  it('answers every dashboard panel query with series', async () => {
    expect(panelQueries.length).toBeGreaterThan(30);
    const missing: string[] = [];
    await Promise.all(
      panelQueries.map(({ panel, expr }) =>
        expectSeries(expr, panel).catch((err: Error) => missing.push(err.message)),
      ),
    );
    expect(missing).toEqual([]);
  });

  it("counts the run's traffic: postings, IMT's answers, the upload, the reconciliation, the parked run", async () => {
    for (const expr of [
      'sum(increase(imt_ic_payments_posted_total[5m]))',
      'sum(increase(imt_ic_payments_parked_total[5m]))',
      'sum(increase(imt_ic_outbound_calls_total{service="imt",call="post-payment",outcome="ok"}[5m]))',
      'sum(increase(imt_ic_outbound_calls_total{service="ic",call="UploadInvoiceFile",outcome="ok"}[5m]))',
      'sum(increase(imt_ic_export_invoices_total{result="left_out"}[5m]))',
      'sum(increase(imt_ic_reconciliations_total{outcome="ok"}[5m]))',
      // The refused payment waits in NEEDS_ATTENTION (visibility, counted at scrape time).
      'max(imt_ic_payment_runs{status="NEEDS_ATTENTION"})',
      'max(imt_ic_schedule_last_success_timestamp_seconds{schedule="reconcile"})',
    ]) {
      await eventually(
        async () => {
          const [sample] = (await query(expr)) as { value: [number, string] }[];
          return sample !== undefined && Number(sample.value[1]) > 0;
        },
        30_000,
        1000,
      ).catch((err: Error) => {
        throw new Error(`${expr} stayed at 0 (${err.message})`);
      });
    }
  });

  it('loads every alert rule and evaluates it without error', async () => {
    const rules = await eventually(async () => {
      const res = await axios.get(`${promUrl}/api/v1/rules`);
      const all = (
        res.data as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } }
      ).data.groups.flatMap((g) => g.rules);
      return all.length > 0 && all.every((r) => r.health !== 'unknown') ? all : undefined;
    }, 30_000);
    expect(rules.map((r) => r.name).sort()).toEqual(alertRules.map((r) => r.alert).sort());
    expect(rules.filter((r) => r.health !== 'ok')).toEqual([]);
  });

  it("finds series for every selector of every alert's expression", async () => {
    const missing: string[] = [];
    const selectors = alertRules.flatMap((r) => selectorsOf(r.expr).map((sel) => ({ alert: r.alert, sel })));
    expect(selectors.length).toBeGreaterThanOrEqual(alertRules.length);
    await Promise.all(
      selectors.map(({ alert, sel }) =>
        expectSeries(sel, alert).catch((err: Error) => missing.push(err.message)),
      ),
    );
    expect(missing).toEqual([]);
  });

  it.skipIf(!fs.existsSync(CHROMIUM))(
    "shows dashboard queries answering on Prometheus's graph page (test-output/screenshots/prometheus-queries.png)",
    async () => {
      const shown = [
        'Payments posted and parked per minute',
        'Calls to IMT by outcome',
        'Open payment runs by status',
        'Workflow task failures by type and reason',
      ].map((title) => {
        const found = panelQueries.find((q) => q.panel === title);
        if (!found) throw new Error(`no panel ${title}`);
        return found.expr;
      });
      const params = new URLSearchParams();
      shown.forEach((expr, i) => {
        params.set(`g${i}.expr`, expr);
        params.set(`g${i}.tab`, '1'); // the table: a run of seconds draws no visible line
      });
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run'],
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1400, height: 2400 } });
        await page.goto(`${promUrl}/graph?${params}`, { waitUntil: 'load' });
        // Each graph reports its series count once its query answered (Debian ships the classic
        // UI: "Total time series: N"; the React UI says "Result series: N").
        const counts = await eventually(
          async () => {
            const text = await page.locator('body').innerText();
            const found = [...text.matchAll(/(?:Total time series|Result series): (\d+)/g)].map((m) =>
              Number(m[1]),
            );
            return found.length === shown.length ? found : undefined;
          },
          30_000,
          500,
        );
        expect(counts.every((n) => n > 0)).toBe(true);
        const shots = path.join(ROOT, 'test-output', 'screenshots');
        fs.mkdirSync(shots, { recursive: true });
        await page.screenshot({ path: path.join(shots, 'prometheus-queries.png'), fullPage: true });
      } finally {
        await browser.close();
      }
    },
  );
});
