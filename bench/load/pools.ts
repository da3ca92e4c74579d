/**
 * The two worker pools side by side (issue 24; `npm run bench`): the compiled service
 * (`npm run build`, then `node lib/app/main.js worker --pool payments|bulk` — not tsx) as two
 * processes on one task-queue pair, the ingress in the bench's process, the bulk pool's
 * partners in a process of their own (bench/environment/bulk-simulators.ts).
 *
 *   1. both pools idle: RSS of each;
 *   2. payments alone: paced at `rate` (60 % of the sustained rate) for `seconds` →
 *      posting latency (send → IMT's ledger) p50 / p99;
 *   3. the export alone: wall time of an `invoices`-invoice export, start → result;
 *   4. payments again at `rate` while the export (again, forced) and a reconciliation of a
 *      `transactions`-payment day run on the bulk pool → p50 / p99, the export's and the
 *      reconciliation's wall times;
 *   5. payments alone once more, after the bulk work: the noise between rounds;
 *   and each pool's RSS peak across all of it (sampled every 100 ms, and VmHWM).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { buildIngress } from '../../client/ingress/server';
import { startExport } from '../../client/exports';
import { runReconciliation } from '../../client/reconcile';
import { dataProtection } from '../../common/data-protection';
import { formatPayloadKeys, generatePayloadKey } from '../../common/payload-codec';
import { connectWorkerToTemporal } from '../../common/temporal-connection';
import { serviceIngressOptions } from '../../app/wiring';
import { dateOfInstant, taskQueuesOf, type WorkerPool } from '../../domain';
import { percentiles, sleep, type Percentiles } from '../environment/measure';
import { seedServiceSide } from '../environment/reconcile-day';
import type { BenchStack } from '../environment/stack';
import { ingressRound } from './payments';

const ROOT = path.resolve(__dirname, '..', '..');
const CYCLE = '2022-10-01';
/** What docker-compose.yml gives the payments pool. */
const PAYMENTS_NODE_OPTIONS = '--max-semi-space-size=1';
/**
 * How the bulk pool runs beside the payments pool, as docker-compose.yml runs it: under Linux's
 * idle scheduling class (`chrt --idle 0`), so it takes only CPU time nothing else wants.
 */
const IDLE_CLASS = ['chrt', '--idle', '0'] as const;

export interface PoolsBenchOptions {
  /** Payments per second of the steady runs (60 % of the sustained rate). */
  rate: number;
  /** The sustained rate it was derived from, for the report. */
  sustained: number;
  seconds: number;
  invoices: number;
  transactions: number;
  log: (line: string) => void;
}

export interface PoolsFigures {
  rate: number;
  sustained: number;
  seconds: number;
  alone: Percentiles;
  withBulk: Percentiles;
  /** Alone again after the bulk work (a noise check; the ratio is against `alone`). */
  aloneAfter?: Percentiles;
  invoices: number;
  exportAloneSeconds: number;
  exportWithPaymentsSeconds: number;
  transactions: number;
  reconcileSeconds: number;
  reconcileDifferences: number;
  rssMb: Record<WorkerPool, { idle: number; peak: number }>;
  seedSeconds: number;
  loadAverage: number[];
}

/** A fixed-offset zone in which it is about noon now: the seeded day cannot change mid-run. */
function noonZone(): string {
  let offset = 12 - new Date().getUTCHours();
  if (offset > 14) offset -= 24;
  if (offset < -12) offset += 24;
  return offset === 0 ? 'Etc/GMT' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
}

function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : 0;
}

function run(cmd: string, args: string[], log: (line: string) => void): void {
  log(`[bench] ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
}

/** A child process, ready once its output contains `ready` (its output is kept for errors). */
async function startChild(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: string,
  idle = false,
): Promise<{ child: ChildProcess; output: () => string }> {
  // `chrt` execs node in place: the child's pid is node's, whose RSS is read.
  const [file, argv] = idle
    ? [IDLE_CLASS[0], [...IDLE_CLASS.slice(1), process.execPath, ...args]]
    : [process.execPath, args];
  const child = spawn(file, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 180 s:\n${output}`)), 180_000);
    child.once('exit', (code) => reject(new Error(`${name} exited at start (${code}):\n${output}`)));
    const check = () => {
      if (output.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
  });
  return { child, output: () => output };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Send → posted (IMT's ledger) of every payment of a paced round. */
async function steadyRound(
  stack: BenchStack,
  ingressUrl: string,
  tag: string,
  o: PoolsBenchOptions,
): Promise<Percentiles> {
  const round = await ingressRound(stack, ingressUrl, {
    tag,
    n: Math.max(1, Math.round(o.rate * o.seconds)),
    rate: o.rate,
    // Like IC: a 503 is delivered again; the figure is send → posted either way.
    redeliver: true,
  });
  return percentiles(round.items.filter((s) => s.postedAt).map((s) => (s.postedAt ?? 0) - s.sentAt));
}

export async function runPoolsBench(stack: BenchStack, o: PoolsBenchOptions): Promise<PoolsFigures> {
  const { log } = o;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imt-ic-bench-pools-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    // The compiled service, as the container image runs it.
    run('npx', ['tsc', '-p', 'tsconfig.build.json'], log);
    const bundlePath = path.join(dir, 'workflow-bundle.js');
    run(process.execPath, [path.join('lib', 'worker', 'bundle.js'), bundlePath], log);

    const timeZone = noonZone();
    const date = dateOfInstant(new Date(), timeZone);
    const secrets = {
      imt: stack.endpoints.imt.integratorId,
      guid: randomBytes(8).toString('hex'),
      key: randomBytes(12).toString('hex'),
    };
    log(`[bench] bulk partners: ${o.invoices} invoices, a day of ${o.transactions} payments in IMT`);
    const sims = await startChild(
      'bulk simulators',
      ['--require', 'tsx/cjs', path.join('bench', 'environment', 'bulk-simulators.ts')],
      {
        ...process.env,
        BENCH_IMT_INTEGRATOR_ID: secrets.imt,
        BENCH_IC_BILLER_GUID: secrets.guid,
        BENCH_IC_WEB_SERVICE_KEY: secrets.key,
        BENCH_CYCLE: CYCLE,
        BENCH_INVOICES: String(o.invoices),
        BENCH_TRANSACTIONS: String(o.transactions),
        BENCH_TIME_ZONE: timeZone,
      },
      'imtUrl',
      // They stand for IMT and IC, which run on other machines: never ahead of the service.
      true,
    );
    cleanups.push(() => stopChild(sims.child));
    const urls = JSON.parse(
      sims
        .output()
        .split('\n')
        .find((l) => l.includes('imtUrl')) ?? '{}',
    ) as {
      imtUrl: string;
      icUrl: string;
    };

    const serviceQueue = `bench-pools-${randomBytes(4).toString('hex')}`;
    const queues = taskQueuesOf(serviceQueue);
    const keys = [generatePayloadKey('bench1')];
    const protection = dataProtection(keys);
    const client = new Client({ connection: stack.client.connection, namespace: 'default', ...protection });
    log(`[bench] seeding the reconciliation's day: ${o.transactions} posted-payment runs`);
    const seedConnection = await connectWorkerToTemporal({ address: stack.address });
    const seedSeconds = await seedServiceSide(
      client,
      seedConnection,
      queues.payments,
      o.transactions,
      log,
      protection.dataConverter,
    );
    await seedConnection.close();

    const base: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: stack.address,
      TEMPORAL_TASK_QUEUE: serviceQueue,
      PAYLOAD_KEYS: formatPayloadKeys(keys),
      IMT_INTEGRATOR_ID: secrets.imt,
      IC_BILLER_GUID: secrets.guid,
      IC_WEB_SERVICE_KEY: secrets.key,
      INGRESS_INTEGRATOR_ID: stack.endpoints.ingressIntegratorId,
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      BILLER_TIME_ZONE: timeZone,
      WORKFLOW_BUNDLE_PATH: bundlePath,
      NODE_ENV: 'production',
    };
    // As docker-compose.yml runs them: the payments pool with a 1 MB young generation, the
    // bulk pool in the idle scheduling class.
    const pool = (name: WorkerPool, imtUrl: string, icUrl: string) =>
      startChild(
        `${name} pool`,
        [path.join('lib', 'app', 'main.js'), 'worker', '--pool', name],
        {
          ...base,
          IMT_BASE_URL: imtUrl,
          IC_BASE_URL: icUrl,
          // The simulators on loopback speak plain HTTP (contracts A).
          ALLOW_INSECURE_URLS: 'true',
          DATA_DIR: path.join(dir, `data-${name}`),
          ...(name === 'payments' ? { NODE_OPTIONS: PAYMENTS_NODE_OPTIONS } : {}),
        },
        'worker started',
        name === 'bulk',
      );
    // The payments pool posts into the bench's IMT simulator (it checks every posting); the
    // bulk pool reads the big cycle and day from its own.
    const payments = await pool('payments', stack.sim.url, urls.icUrl);
    cleanups.push(() => stopChild(payments.child));
    const bulk = await pool('bulk', urls.imtUrl, urls.icUrl);
    cleanups.push(() => stopChild(bulk.child));
    const pids: Record<WorkerPool, number> = { payments: payments.child.pid!, bulk: bulk.child.pid! };

    const ingress = buildIngress({
      ...serviceIngressOptions(stack.config, stack.endpoints, {
        client,
        logger: stack.logger,
        metrics: stack.metrics,
      }),
      namespace: 'default',
      taskQueue: queues.payments,
    });
    await ingress.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => ingress.close());
    const address = ingress.server.address();
    const ingressUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const env: BenchStack = { ...stack, client };

    // Idle as the decision record measures it: 10 s after the workers started.
    await sleep(10_000);
    const idle = { payments: statusMb(pids.payments, 'VmRSS'), bulk: statusMb(pids.bulk, 'VmRSS') };
    log(`[bench] pools idle: payments ${idle.payments} MB, bulk ${idle.bulk} MB RSS`);
    const peak = { ...idle };
    const sampler = setInterval(() => {
      for (const p of ['payments', 'bulk'] as const) peak[p] = Math.max(peak[p], statusMb(pids[p], 'VmRSS'));
    }, 100);
    cleanups.push(async () => clearInterval(sampler));

    log(`[bench] payments alone: ${o.rate.toFixed(1)}/s for ${o.seconds} s`);
    await steadyRound(env, ingressUrl, 'pools-warmup', { ...o, seconds: Math.min(5, o.seconds) });
    const alone = await steadyRound(env, ingressUrl, 'pools-alone', o);

    log(`[bench] export of ${o.invoices} invoices, alone`);
    let t = Date.now();
    await startExport(client, serviceQueue, { cycle: CYCLE, wait: true, requestedBy: 'bench' });
    const exportAloneSeconds = (Date.now() - t) / 1000;

    log(`[bench] payments at ${o.rate.toFixed(1)}/s while the export and a reconciliation run`);
    t = Date.now();
    const exporting = startExport(client, serviceQueue, {
      cycle: CYCLE,
      wait: true,
      force: true,
      requestedBy: 'bench',
    }).then(() => (Date.now() - t) / 1000);
    const reconciling = runReconciliation({ client, taskQueue: serviceQueue, timeZone }, date, {
      requestedBy: 'bench',
    }).then((summary) => ({ seconds: (Date.now() - t) / 1000, summary }));
    await sleep(500);
    const withBulk = await steadyRound(env, ingressUrl, 'pools-bulk', o);
    const exportWithPaymentsSeconds = await exporting;
    const reconciled = await reconciling;
    // Alone once more: how much of the difference is run-to-run noise, not the bulk work.
    log(`[bench] payments alone again, after the bulk work`);
    const aloneAfter = await steadyRound(env, ingressUrl, 'pools-after', o);
    const loadAverage = os.loadavg().map((l) => Number(l.toFixed(2)));
    clearInterval(sampler);
    for (const p of ['payments', 'bulk'] as const) peak[p] = Math.max(peak[p], statusMb(pids[p], 'VmHWM'));
    return {
      rate: o.rate,
      sustained: o.sustained,
      seconds: o.seconds,
      alone,
      withBulk,
      aloneAfter,
      invoices: o.invoices,
      exportAloneSeconds,
      exportWithPaymentsSeconds,
      transactions: o.transactions,
      reconcileSeconds: reconciled.seconds,
      reconcileDifferences: reconciled.summary.differences,
      rssMb: {
        payments: { idle: idle.payments, peak: peak.payments },
        bulk: { idle: idle.bulk, peak: peak.bulk },
      },
      seedSeconds,
      loadAverage,
    };
  } finally {
    for (const c of cleanups.reverse())
      await c().catch((err: unknown) => log(`[bench] stop: ${String(err)}`));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
