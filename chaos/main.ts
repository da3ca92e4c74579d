/**
 * `npm run chaos` — proof under fire (issue 14): payments through the real ingress while
 * partners fail and the service's own processes are SIGKILLed and restarted, then IMT's
 * ledger reconciled against what IC sent, as one table. Exit code 1 when a must-be-0 figure
 * is not 0. `--short` is the CI variant; `--target cluster` runs on the PostgreSQL-backed
 * local Temporal cluster with the two worker pools as separate processes (two payments workers, one bulk).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { CONFIG_DEFAULTS } from '../common/config';
import { FAILURE_CONVERTER_PATH, dataProtection } from '../common/data-protection';
import { formatPayloadKeys, generatePayloadKey, parsePayloadKeys } from '../common/payload-codec';
import { exportStatus, startExport } from '../client/exports';
import { WORKFLOWS_PATH } from '../worker/worker';
import { chaosCluster, type ChaosCluster } from './cluster';
import { FaultSchedule, type ChaosControls } from './faults-schedule';
import { buildTransactions, DataPump } from './load';
import {
  commandFor,
  devServer,
  freePorts,
  httpOk,
  logSays,
  Managed,
  CLUSTER_WORKERS,
  ROOT,
  rssOf,
  waitUntil,
  type ProcessKind,
} from './processes';
import { passed, printTable, reconcile, writeJson, type LedgerEntry } from './report';
import { actionsPerPayment, parkedRuns, waitSettled } from './temporal-side';

const OptionsSchema = z
  .object({
    short: z.boolean().default(false),
    target: z.enum(['dev', 'cluster'], { message: '--target must be dev or cluster' }).default('dev'),
    payments: z.coerce.number().int().min(10, '--payments must be at least 10').optional(),
    rate: z.coerce.number().positive('--rate must be a positive number of payments per second').optional(),
    keep: z.boolean().default(false),
  })
  .strict();
type Options = z.infer<typeof OptionsSchema>;

const CYCLE = '2022-09-01';

function profile(o: Options) {
  const short = o.short;
  return {
    variant: short ? 'short' : 'full',
    payments: o.payments ?? (short ? 500 : 10_000),
    rate: o.rate ?? (short ? 6 : 14),
    cycleSize: short ? 2_000 : 20_000,
    imtDownSeconds: short ? 15 : 60,
    burstSeconds: short ? 3 : 6,
    icDownMaxSeconds: short ? 600 : 1800,
    deadSeconds: short ? 2 : 5,
    // A bound on waiting, not the expected time. A failed posting retries within 30 s while IMT
    // answers other calls or few postings fail (patches short-backoff-while-imt-answers and
    // short-backoff-within-retry-budget), so runs settle within a minute or two; 20 min still
    // covers four 5-minute waits, should a worker's retry budget be spent. The table shows how
    // long the settling took.
    settleMs: (short ? 20 : 30) * 60_000,
  };
}

const log = (line: string) => process.stderr.write(`${line}\n`);

// A start-up sequence, a load phase and a verdict in order; split further it would only hide the order.
async function chaosRun(o: Options, cleanups: (() => Promise<void>)[], dataDir: string): Promise<boolean> {
  const p = profile(o);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = path.join(ROOT, 'chaos-output');
  const logDir = path.join(outDir, `logs-${o.target}-${p.variant}-${stamp}`);
  fs.mkdirSync(logDir, { recursive: true });
  const [temporalPort, ingressPort, imtPort, icPort] = await freePorts(4);
  const secret = () => randomBytes(18).toString('base64url');
  const creds = { imt: secret(), icGuid: secret(), icKey: secret(), ingress: secret() };
  const payloadKeys = formatPayloadKeys([generatePayloadKey('chaos1')]);
  log(`[chaos] ${p.variant} run on ${o.target}: ${p.payments} payments at ${p.rate}/s; logs in ${logDir}`);

  const bundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: new DefaultLogger('WARN'),
  });
  const bundlePath = path.join(dataDir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, bundle.code);

  const logFile = (name: string) => path.join(logDir, `${name}.log`);
  let dev: Managed | undefined;
  let cluster: ChaosCluster | undefined;
  let address: string;
  if (o.target === 'dev') {
    dev = await devServer(temporalPort, path.join(dataDir, 'temporal.db'), logFile('temporal'));
    address = `127.0.0.1:${temporalPort}`;
    cleanups.push(() => dev!.stop());
  } else {
    cluster = await chaosCluster(dataDir, log);
    address = cluster.address;
    cleanups.push(() => cluster!.stop());
  }

  const imtUrl = `http://127.0.0.1:${imtPort}`;
  const icUrl = `http://127.0.0.1:${icPort}`;
  const baseEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  const sims = new Managed(
    'simulators',
    await commandFor('simulators'),
    {
      ...baseEnv,
      SIMULATORS_HOST: '127.0.0.1',
      IMT_SIMULATOR_PORT: String(imtPort),
      IC_SIMULATOR_PORT: String(icPort),
      IMT_INTEGRATOR_ID: creds.imt,
      IC_BILLER_GUID: creds.icGuid,
      IC_WEB_SERVICE_KEY: creds.icKey,
      SIM_CYCLES: `${CYCLE}:${p.cycleSize}`,
    },
    logFile('simulators'),
    (tail) => waitUntil('simulators', () => httpOk(`${imtUrl}/_sim/health`), 60_000, tail),
  );
  await sims.start();
  cleanups.push(() => sims.stop());

  // contracts A: the service is configured by environment variables only.
  const serviceEnv = {
    ...baseEnv,
    TEMPORAL_ADDRESS: address,
    PAYLOAD_KEYS: payloadKeys,
    IMT_BASE_URL: imtUrl,
    // The simulator on loopback speaks plain HTTP (contracts A).
    ALLOW_INSECURE_URLS: 'true',
    IMT_INTEGRATOR_ID: creds.imt,
    IC_BASE_URL: icUrl,
    IC_BILLER_GUID: creds.icGuid,
    IC_WEB_SERVICE_KEY: creds.icKey,
    INGRESS_PORT: String(ingressPort),
    INGRESS_INTEGRATOR_ID: creds.ingress,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    METRICS_PORT: '0',
    IMT_TIMEOUT_MS: '5000',
    WORKFLOW_BUNDLE_PATH: bundlePath,
  };
  const ingressUrl = `http://127.0.0.1:${ingressPort}`;
  // Dev: one worker process serving both pools (what `npm start` runs). Cluster: the
  // production shape (docker-compose.yml) — the pools as separate processes, two of payments
  // (CLUSTER_WORKERS; the fault schedule kills one of them, then the bulk one).
  const kinds: ProcessKind[] = o.target === 'cluster' ? [...CLUSTER_WORKERS] : ['worker'];
  const workers = await Promise.all(
    kinds.map(
      async (kind, i) =>
        new Managed(
          `worker ${i} (${kind})`,
          await commandFor(kind),
          serviceEnv,
          logFile(`worker-${i}`),
          logSays('worker started'),
        ),
    ),
  );
  const ingress = new Managed(
    'ingress',
    await commandFor('ingress'),
    serviceEnv,
    logFile('ingress'),
    (tail) => waitUntil('ingress', () => httpOk(`${ingressUrl}/healthz`), 120_000, tail),
  );
  await Promise.all(workers.map((w) => w.start()));
  await ingress.start();
  cleanups.unshift(() => ingress.stop(), ...workers.map((w) => () => w.stop()));

  let rssPeak = 0;
  const sampler = setInterval(() => {
    const total = workers.reduce((max, w) => Math.max(max, rssOf(w.pid)), 0);
    rssPeak = Math.max(rssPeak, total);
  }, 1000);
  cleanups.push(async () => clearInterval(sampler));

  const connection = await Connection.connect({ address });
  const client = new Client({ connection, ...dataProtection(parsePayloadKeys(payloadKeys).keys ?? []) });
  cleanups.unshift(() => connection.close());

  const put = async (url: string, body: unknown) => {
    const res = await fetch(`${url}/_sim/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`PUT ${url}/_sim/faults → ${res.status} ${await res.text()}`);
  };
  const controls: ChaosControls = {
    imtFaults: (patch) => put(imtUrl, patch),
    icFaults: (patch) => put(icUrl, patch),
    killWorker: (i) => workers[i].kill(),
    startWorker: (i) => workers[i].start(),
    killStack: async () => {
      await Promise.all([...workers.map((w) => w.kill()), ingress.kill(), dev?.kill()]);
    },
    startStack: async () => {
      if (dev) await dev.start();
      await Promise.all(workers.map((w) => w.start()));
      await ingress.start();
    },
    restartTemporal: async () => {
      if (cluster) return cluster.restartTemporal();
      await dev!.kill();
      await dev!.start();
    },
    restartPostgres: cluster ? () => cluster!.restartPostgres() : undefined,
    startExport: async () => {
      await startExport(client, CONFIG_DEFAULTS.temporalTaskQueue, {
        cycle: CYCLE,
        requestedBy: 'chaos run',
      });
    },
    uploadAttempt: async () => {
      const desc = await client.workflow.getHandle(`export-${CYCLE}`).describe();
      const upload = (desc.raw.pendingActivities ?? []).find(
        (a) => a.activityType?.name === 'uploadInvoiceFile',
      );
      return upload ? (upload.attempt ?? 1) : undefined;
    },
  };

  const txs = buildTransactions({
    count: p.payments,
    invoiceMonth: CYCLE,
    cycleSize: p.cycleSize,
    returnedAt: new Date().toLocaleDateString('en-CA', { timeZone: 'America/Chicago' }),
  });
  const loadSeconds = p.payments / p.rate;
  const schedule = new FaultSchedule(
    controls,
    {
      loadSeconds,
      imtDownSeconds: p.imtDownSeconds,
      burstSeconds: p.burstSeconds,
      icDownMaxSeconds: p.icDownMaxSeconds,
      deadSeconds: p.deadSeconds,
    },
    log,
  );
  const pump = new DataPump(ingressUrl, creds.ingress, txs, p.rate);
  const started = Date.now();
  schedule.start(o.target);
  const progress = setInterval(
    () =>
      log(
        `[chaos] ${Math.round((Date.now() - started) / 1000)} s: ${pump.stats.deliveries} deliveries, ${pump.pending()} pending`,
      ),
    30_000,
  );
  // Bounded: a delivery that never gets a 2xx must not hold the run forever.
  const pumpDeadline = setTimeout(() => pump.stop(), (loadSeconds * 2 + p.settleMs / 1000) * 1000);
  await Promise.all([pump.run(), schedule.done()]);
  clearTimeout(pumpDeadline);
  clearInterval(progress);
  const loadDone = (Date.now() - started) / 1000;
  log(`[chaos] load phase over after ${Math.round(loadDone)} s; waiting for every run to settle`);

  let settleProblem = await waitSettled(client, p.settleMs, log);
  const settleSeconds = (Date.now() - started) / 1000 - loadDone;
  const exportView = await exportStatus(client, CYCLE).catch(() => undefined);
  let exportSummary = 'not found';
  if (exportView) {
    const r = exportView.result;
    exportSummary = r
      ? `${exportView.execution}: ${r.invoiceCount} invoices in the file, IC loaded ${r.icInvoiceCount}, ${r.rejectedCount} left out`
      : `${exportView.execution} ${exportView.status ?? ''} ${exportView.failure ?? ''}`.trim();
    if (exportView.execution !== 'COMPLETED')
      settleProblem = `${settleProblem ?? ''} export ${exportSummary}`.trim();
  }
  const ledger = (await (await fetch(`${imtUrl}/_sim/ledger`)).json()) as LedgerEntry[];
  const parked = await parkedRuns(client);
  const actions = await actionsPerPayment(
    client,
    txs.map((t) => t.payment.transaction_id),
  );
  const facts = {
    target: o.target,
    variant: p.variant,
    txs,
    ledger,
    parked,
    actions,
    workerRssPeakBytes: rssPeak,
    loadSeconds: loadDone,
    settleSeconds,
    rate: p.rate,
    exportSummary,
    events: schedule.events,
    pump: pump.stats,
    settleProblem,
  };
  const rows = reconcile(facts);
  const ok = passed(rows);
  process.stdout.write(
    `\n${printTable(`Chaos run — ${p.variant}, target ${o.target}, ${new Date().toISOString()}: ${ok ? 'PASSED' : 'FAILED'}`, rows)}\n`,
  );
  process.stdout.write(
    `\nfault schedule:\n${schedule.events.map((e) => `  +${e.at}s ${e.event}`).join('\n')}\n`,
  );
  process.stdout.write(`ingress answers: ${JSON.stringify(pump.stats.byStatus)}\n`);
  const refusals = txs.flatMap((t) => t.refusals).slice(0, 5);
  if (refusals.length) process.stdout.write(`refusals (first 5): ${refusals.join(' | ')}\n`);
  log(`[chaos] table written to ${writeJson(outDir, facts, rows, ok)}`);

  return ok;
}

async function run(o: Options): Promise<boolean> {
  // Under the system temp dir: PostgreSQL runs as a non-root user when this runs as root.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imt-ic-chaos-'));
  fs.chmodSync(dataDir, 0o755);
  const cleanups: (() => Promise<void>)[] = [];
  try {
    return await chaosRun(o, cleanups, dataDir);
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    if (!o.keep) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const program = new Command('chaos')
  .description('payments through faults, kills and restarts; then IMT reconciled against IC (issue 14)')
  .option('--short', 'the CI variant: about 500 payments, a 2,000-invoice export, shorter outages')
  .option(
    '--target <target>',
    'dev (Temporal dev server on SQLite, one worker for both pools) or cluster (PostgreSQL; pools as separate processes: two payments workers, one bulk)',
    'dev',
  )
  .option('--payments <n>', 'number of payments (full 10000, short 500)')
  .option('--rate <r>', 'payments per second sent by the Data Pump')
  .option('--keep', 'keep the DATA_DIR (Temporal database, export files) after the run')
  .action(async (raw: unknown) => {
    const parsed = OptionsSchema.safeParse(raw);
    if (!parsed.success) {
      log(parsed.error.issues.map((i) => i.message).join('\n'));
      process.exit(2);
    }
    const ok = await run(parsed.data);
    process.exit(ok ? 0 : 1);
  });

// SIGINT / SIGTERM: exit through 'exit', whose handler SIGKILLs every child of the run.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

program.parseAsync().catch((err: unknown) => {
  log(`chaos run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
