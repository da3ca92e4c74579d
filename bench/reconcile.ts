/**
 * Reconciliation benchmark (issue 12; not a test): one biller day of N transactions
 * (default 100,000) reconciled end to end — Temporal visibility (the service's side) and
 * the IMT simulator's C4 listing (IMT's side) paged by the real `reconcileDay` activity in
 * the real worker, which runs alone in a child process so its peak RSS (VmHWM) is the
 * reconciliation's.
 *
 * Seeding: N posted transaction runs with the real workflow type, memo and search attributes
 * (a stand-in workflow that completes at once: bench/reconcile-workflows.ts), and the same
 * N payments in IMT; then 10 payments removed from IMT, 10 altered and 10 entered only in
 * IMT, so the run must find exactly 30 differences.
 *
 *   npm run bench:reconcile            # 100,000
 *   npx tsx bench/reconcile.ts 10000
 *   BENCH_DB=sqlite …                  # dev server on a SQLite file (WAL) instead of in memory
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { runReconciliation } from '../client/reconcile';
import { startDevServer } from '../dev/temporal-server';
import { startImtSimulator } from '../simulators/imt/server';
import { WORKFLOWS_PATH } from '../worker/worker';
import { dateOfInstant, PaymentStatus, SA, TRANSACTION_WORKFLOW_TYPE, workflowIds } from '../domain';

const log = (line: string) => process.stderr.write(`[bench:reconcile] ${line}\n`);
const SEED_CONCURRENCY = 64;
const DIFFERENCES_PER_KIND = 10;

/** A fixed-offset zone in which it is about noon now: the seeded day cannot change mid-run. */
function noonZone(): string {
  let offset = 12 - new Date().getUTCHours();
  if (offset > 14) offset -= 24;
  if (offset < -12) offset += 24;
  return offset === 0 ? 'Etc/GMT' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
}

function statusField(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Math.round(Number(m[1]) / 1024);
}

function startWorkerProcess(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--require', 'tsx/cjs', path.join(__dirname, 'reconcile-worker.ts')],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stderr?.on('data', (d: Buffer) => log(`[worker] ${d.toString('utf8').trimEnd()}`));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('reconcile bench worker did not start in 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`reconcile bench worker exited early (code ${code})`)));
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString('utf8').includes('ready')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
  });
}

// Long on purpose: seeding and the measured run share the servers and the cleanup in one try.
export async function runReconcileBench(transactions: number) {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imt-ic-bench-reconcile-'));
  const env = await startDevServer({
    serverLogLevel: 'error',
    dbFilename: process.env.BENCH_DB === 'sqlite' ? path.join(workDir, 'temporal.db') : undefined,
  });
  const integratorId = randomBytes(12).toString('hex');
  const timeZone = noonZone();
  const date = dateOfInstant(new Date(), timeZone);
  const imt = await startImtSimulator({ integratorId, billerTimeZone: timeZone });
  const taskQueue = `bench-reconcile-${randomBytes(4).toString('hex')}`;
  const { client } = env;
  let child: ChildProcess | undefined;
  try {
    // ---- Seed both sides ---------------------------------------------------------------
    const seedStarted = Date.now();
    const stubBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('./reconcile-workflows'),
      logger: new DefaultLogger('WARN'),
    });
    const seeder = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: stubBundle,
    });
    const seederRun = seeder.run();
    let next = 0;
    const seedOne = async (i: number) => {
      const txid = `B-${String(i).padStart(7, '0')}`;
      const customer = String(i).padStart(6, '0');
      const invoice = `${customer}20221001`;
      const amount = `${10 + (i % 990)}.${String(i % 100).padStart(2, '0')}`;
      if (i >= DIFFERENCES_PER_KIND) {
        imt.payments.postDirectly({
          transaction_id: txid,
          customer,
          invoice_number: invoice,
          amount: i < 2 * DIFFERENCES_PER_KIND ? '1.00' : amount,
        });
      }
      // A start retried after a timeout may find its first attempt succeeded: that is fine here.
      await client.workflow
        .start(TRANSACTION_WORKFLOW_TYPE, {
          workflowId: workflowIds.payment(txid),
          taskQueue,
          memo: { amount, payment_method: 'echeck' },
          typedSearchAttributes: [
            { key: SA.TransactionId, value: txid },
            { key: SA.InvoiceNumber, value: invoice },
            { key: SA.CustomerId, value: customer },
            { key: SA.PaymentStatus, value: PaymentStatus.POSTED },
          ],
        })
        .catch((err: unknown) => {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        });
    };
    await Promise.all(
      Array.from({ length: SEED_CONCURRENCY }, async () => {
        while (next < transactions) {
          const i = next++;
          await seedOne(i);
          if ((i + 1) % 10_000 === 0)
            log(`seeded ${i + 1} / ${transactions} (${Math.round((Date.now() - seedStarted) / 1000)} s)`);
        }
      }),
    );
    for (let k = 0; k < DIFFERENCES_PER_KIND; k++)
      imt.payments.postDirectly({
        transaction_id: `IMT-ONLY-${k}`,
        customer: 'X',
        invoice_number: 'X20221001',
        amount: '5.00',
      });
    const closedQuery = `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Completed'`;
    for (;;) {
      const { count } = await client.workflow.count(closedQuery);
      if (count >= transactions) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    seeder.shutdown();
    await seederRun;
    const seedSeconds = (Date.now() - seedStarted) / 1000;
    log(`seeded ${transactions} runs and IMT payments in ${seedSeconds.toFixed(0)} s`);

    // ---- The measured run: the real worker alone in a child process ------------------------
    const bundle = await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      logger: new DefaultLogger('WARN'),
    });
    const bundlePath = path.join(workDir, 'workflow-bundle.js');
    fs.writeFileSync(bundlePath, bundle.code);
    child = await startWorkerProcess({
      BENCH_TEMPORAL_ADDRESS: env.connection.options.address,
      BENCH_TASK_QUEUE: taskQueue,
      BENCH_WORKFLOW_BUNDLE: bundlePath,
      BENCH_DATA_DIR: path.join(workDir, 'data'),
      BENCH_IMT_URL: imt.url,
      BENCH_IMT_INTEGRATOR_ID: integratorId,
    });
    await new Promise((r) => setTimeout(r, 2000));
    const idleRssMb = statusField(child.pid!, 'VmRSS');
    const started = Date.now();
    const summary = await runReconciliation({ client, taskQueue, timeZone }, date);
    const wallSeconds = (Date.now() - started) / 1000;
    const peakRssMb = statusField(child.pid!, 'VmHWM');
    const history = await client.workflow.getHandle(summary.workflowId).fetchHistory();
    const expected = 3 * DIFFERENCES_PER_KIND;
    const figures = {
      transactions,
      timeZone,
      date,
      wallSeconds: Number(wallSeconds.toFixed(2)),
      activitySeconds: Number(
        ((Date.parse(summary.finishedAt) - Date.parse(summary.startedAt)) / 1000).toFixed(2),
      ),
      workerIdleRssMb: idleRssMb,
      workerPeakRssMb: peakRssMb,
      historyEvents: history.events?.length ?? 0,
      imtPages: summary.imtPages,
      serviceRunsListed: summary.serviceRunsListed,
      differences: summary.differences,
      differencesExpected: expected,
      reportBytes: fs.statSync(summary.reportPath).size,
      seedSeconds: Number(seedSeconds.toFixed(0)),
      dev: process.env.BENCH_DB === 'sqlite' ? 'dev server, SQLite file (WAL)' : 'dev server, in memory',
    };
    if (summary.differences !== expected || summary.transactions !== transactions + DIFFERENCES_PER_KIND)
      throw new Error(
        `wrong result: ${JSON.stringify(summary.byKind)}, ${summary.transactions} transactions`,
      );
    return figures;
  } finally {
    child?.kill('SIGTERM');
    await imt.close();
    await env.teardown();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const n = Number(process.argv[2] ?? process.env.BENCH_RECONCILE_TRANSACTIONS ?? 100_000);
  runReconcileBench(n).then(
    (figures) => {
      process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(
        `reconcile bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
