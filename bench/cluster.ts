/**
 * `npm run bench:cluster` — payments per second through the real ingress with one and with
 * two worker processes (`imt-ic worker`, encrypted payloads), on the local Temporal cluster
 * on PostgreSQL (dev/cluster.ts) next to the dev server (SQLite + WAL). Not a test: it
 * reports figures. Everything shares this machine's cores, so compare side by side.
 *
 * Environment: BENCH_CLUSTER_PAYMENTS (300 per run), BENCH_CLUSTER_CONCURRENCY (50).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { buildIngress } from '../client/ingress/server';
import { FAILURE_CONVERTER_PATH, dataProtection } from '../common/data-protection';
import { silentLogger } from '../common/logger';
import { generatePayloadKey } from '../common/payload-codec';
import { connectTemporal } from '../common/temporal-connection';
import { startCluster } from '../dev/cluster';
import { startDevServer } from '../dev/temporal-server';
import { ImtClient } from '../integrations/imt-client';
import { startImtSimulator, type ImtSimulator } from '../simulators/imt/server';
import { WORKFLOWS_PATH } from '../worker/worker';

const N = Number(process.env.BENCH_CLUSTER_PAYMENTS || 300);
const CONCURRENCY = Number(process.env.BENCH_CLUSTER_CONCURRENCY || 50);
const root = path.resolve(__dirname, '..');

interface Run {
  server: string;
  workers: number;
  payments: number;
  seconds: number;
  perSecond: number;
  /** When the ingress had answered every call (accepted, not necessarily posted). */
  acceptedSeconds: number;
}

function startWorkers(count: number, env: Record<string, string>): Promise<ChildProcess[]> {
  const children = Array.from({ length: count }, () =>
    spawn(process.execPath, ['--require', 'tsx/cjs', path.join('app', 'main.ts'), 'worker'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  return Promise.all(
    children.map(
      (child) =>
        new Promise<ChildProcess>((resolve, reject) => {
          let out = '';
          child.stdout?.on('data', (c) => {
            out += String(c);
            if (out.includes('worker started')) resolve(child);
          });
          child.stderr?.on('data', (c) => (out += String(c)));
          child.once('exit', (code) => reject(new Error(`worker exited (${code}): ${out.slice(-1000)}`)));
          setTimeout(
            () => reject(new Error(`worker did not start in 120 s: ${out.slice(-1000)}`)),
            120_000,
          ).unref();
        }),
    ),
  );
}

async function stopWorkers(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null) return resolve();
          c.removeAllListeners('exit');
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
        }),
    ),
  );
}

// Long on purpose: one measured run reads top to bottom (workers, ingress, send, wait, stop).
async function measure(
  server: string,
  address: string,
  imt: ImtSimulator,
  imtIntegratorId: string,
  bundlePath: string,
  workers: number,
): Promise<Run> {
  const key = generatePayloadKey('bench1');
  const keys = `${key.id}:${key.key.toString('base64')}`;
  const taskQueue = `bench-${server}-${workers}-${randomBytes(4).toString('hex')}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imt-ic-bench-cluster-'));
  const ingressId = randomBytes(12).toString('hex');
  const children = await startWorkers(workers, {
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    IMT_BASE_URL: imt.url,
    // The simulator on loopback speaks plain HTTP (contracts A).
    ALLOW_INSECURE_URLS: 'true',
    // A real-like IMT with the IC simulator: allowed by name (common/config.ts).
    ALLOW_ONE_SIMULATOR: 'true',
    IMT_INTEGRATOR_ID: imtIntegratorId,
    INGRESS_INTEGRATOR_ID: ingressId,
    PAYLOAD_KEYS: keys,
    DATA_DIR: dataDir,
    METRICS_PORT: '0',
    // info: the worker announces 'worker started' at info.
    LOG_LEVEL: 'info',
    WORKFLOW_BUNDLE_PATH: bundlePath,
  });
  const connection = await connectTemporal({ address });
  const client = new Client({
    connection,
    namespace: 'default',
    ...dataProtection([key]),
  });
  const ingress = buildIngress({
    client,
    namespace: 'default',
    taskQueue,
    integratorId: ingressId,
    confirmWaitMs: 0,
    logger: silentLogger,
    imt: new ImtClient({ baseUrl: imt.url, integratorId: imtIntegratorId, timeoutMs: 10_000 }),
  });
  await ingress.listen({ port: 0, host: '127.0.0.1' });
  const addr = ingress.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  try {
    const tag = randomBytes(3).toString('hex');
    const payments = Array.from({ length: N }, (_, i) => {
      const customer = `B${tag}${String(i).padStart(5, '0')}`;
      const invoice_number = `${customer}20220901`;
      imt.addInvoice({ invoice_number, customer, amount_due: '50.00', past_due: '0.00' });
      return {
        customer,
        invoice_number,
        transaction_id: `T-${tag}-${i}`,
        amount: '50.00',
        payment_method: 'echeck',
        message: '',
        source: 'invoice_cloud',
      };
    });
    const ids = new Set(payments.map((p) => p.transaction_id));
    const posted = () => imt.postings().filter((p) => ids.has(p.transaction_id)).length;
    const t0 = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < payments.length) {
          const p = payments[next++];
          const res = await axios.post(`${url}/api/integration/invoice/post-payment`, p, {
            headers: { 'X-Integrator-ID': ingressId },
            validateStatus: () => true,
          });
          if (res.status !== 201 && res.status !== 202) throw new Error(`ingress answered ${res.status}`);
        }
      }),
    );
    const acceptedSeconds = (Date.now() - t0) / 1000;
    const deadline = Date.now() + 600_000;
    while (posted() < N) {
      if (Date.now() > deadline) throw new Error(`only ${posted()} of ${N} posted in 10 minutes`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (Date.now() - t0) / 1000;
    return { server, workers, payments: N, seconds, perSecond: N / seconds, acceptedSeconds };
  } finally {
    await ingress.close();
    await connection.close();
    await stopWorkers(children);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function runClusterBench(): Promise<Run[]> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imt-ic-bench-servers-'));
  fs.chmodSync(work, 0o755);
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: new DefaultLogger('WARN'),
  });
  const bundlePath = path.join(work, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, code);
  const imtIntegratorId = randomBytes(12).toString('hex');
  const imt = await startImtSimulator({ port: 0, integratorId: imtIntegratorId, cycles: [] });
  const runs: Run[] = [];
  try {
    const dev = await startDevServer({ dbFilename: path.join(work, 'dev.sqlite'), serverLogLevel: 'error' });
    try {
      for (const workers of [1, 2]) {
        runs.push(
          await measure(
            'dev server (SQLite+WAL)',
            dev.connection.options.address,
            imt,
            imtIntegratorId,
            bundlePath,
            workers,
          ),
        );
      }
    } finally {
      await dev.teardown();
    }
    const cluster = await startCluster({ dataDir: work, port: 0, serverLogLevel: 'error' });
    try {
      for (const workers of [1, 2]) {
        runs.push(
          await measure('cluster (PostgreSQL)', cluster.address, imt, imtIntegratorId, bundlePath, workers),
        );
      }
    } finally {
      await cluster.stop();
    }
  } finally {
    await imt.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
  return runs;
}

if (require.main === module) {
  runClusterBench().then(
    (runs) => {
      process.stdout.write(`\nPayments through the ingress, ${N} per run, ${CONCURRENCY} in flight:\n\n`);
      process.stdout.write(
        '| server | workers | all accepted (s) | all posted (s) | payments/s |\n|---|---|---|---|---|\n',
      );
      for (const r of runs) {
        process.stdout.write(
          `| ${r.server} | ${r.workers} | ${r.acceptedSeconds.toFixed(1)} | ${r.seconds.toFixed(1)} | ${r.perSecond.toFixed(1)} |\n`,
        );
      }
    },
    (err) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
