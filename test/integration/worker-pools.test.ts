/**
 * The two worker pools (domain/task-queues.ts, worker/pools.ts), each served alone by a real
 * worker process (`imt-ic worker --pool payments|bulk`) on the dev server, on this file's own
 * task queues: the payments pool alone posts payments that come through the ingress; the
 * bulk pool alone runs a billing-cycle export. Each run is checked to have run on its pool's
 * queue, and the other pool's work to wait for its own workers rather than be taken by the
 * wrong pool.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { runWorkerHealth } from '../../app/worker-health';
import { startExport } from '../../client/exports';
import {
  PaymentStatus,
  taskQueuesOf,
  transactionStateQuery,
  workflowIds,
  type WorkerPool,
} from '../../domain';
import { eventually, startHarness, type Harness } from '../helpers/harness';
import { seedPayment } from '../helpers/payments';
import { testPayloadKeys } from '../helpers/payload-keys';

/**
 * Export workflow IDs are namespace-wide: cycles no other test file exports. Past cycles: IMT
 * lists a cycle's invoices only once it has created them (the month after the cycle).
 */
const PAYMENTS_ONLY_CYCLE = { seed: 401, invoiceMonth: '2019-05-01', count: 8, invalidEvery: 0 };
const BULK_ONLY_CYCLE = { seed: 403, invoiceMonth: '2019-06-01', count: 12, invalidEvery: 0 };

interface PoolProcess {
  child: ChildProcess;
  output: string[];
  dataDir: string;
}
const processes: PoolProcess[] = [];
const harnesses: Harness[] = [];

/** `imt-ic worker --pool <pool>` against the harness's simulators, on its task queue. */
async function startPoolProcess(h: Harness, pool: WorkerPool): Promise<PoolProcess> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `imt-ic-pool-${pool}-`));
  const child = spawn(
    process.execPath,
    ['--require', 'tsx/cjs', path.join('app', 'main.ts'), 'worker', '--pool', pool],
    {
      cwd: path.resolve(__dirname, '..', '..'),
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_TASK_QUEUE: h.taskQueue,
        IMT_BASE_URL: h.imt.url,
        IMT_INTEGRATOR_ID: h.imtIntegratorId,
        // The simulators on loopback speak plain HTTP; without IC, the IC side is simulated (contracts A).
        ALLOW_INSECURE_URLS: 'true',
        ALLOW_ONE_SIMULATOR: 'true',
        ...(h.ic && h.icCredentials
          ? {
              IC_BASE_URL: h.ic.url,
              IC_BILLER_GUID: h.icCredentials.billerGuid,
              IC_WEB_SERVICE_KEY: h.icCredentials.webServiceKey,
            }
          : {}),
        INGRESS_INTEGRATOR_ID: randomBytes(12).toString('hex'),
        PAYLOAD_KEYS: testPayloadKeys(),
        DATA_DIR: dataDir,
        METRICS_PORT: '0',
        LOG_LEVEL: 'info',
        WORKFLOW_BUNDLE_PATH: inject('workflowBundlePath'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const proc: PoolProcess = { child, output: [], dataDir };
  child.stdout?.on('data', (c) => proc.output.push(String(c)));
  child.stderr?.on('data', (c) => proc.output.push(String(c)));
  processes.push(proc);
  await eventually(async () => proc.output.join('').includes('worker started'), 120_000, 250).catch((err) => {
    throw new Error(`${err}\n${proc.output.join('')}`);
  });
  return proc;
}

async function stopAll(): Promise<void> {
  for (const p of processes.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      const exited = new Promise((r) => p.child.once('exit', r));
      p.child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(p.dataDir, { recursive: true, force: true });
  }
  for (const h of harnesses.splice(0)) await h.stop();
}
afterEach(stopAll, 60_000);
afterAll(stopAll, 60_000);

/** A harness whose only workers are the processes a test starts. */
async function harness(opts: Parameters<typeof startHarness>[0]): Promise<Harness> {
  const h = await startHarness({ ...opts, pools: [] });
  harnesses.push(h);
  return h;
}

describe('worker pools, each alone in its own process', () => {
  it('--pool payments posts payments from the ingress on the payments queue; an export waits on the bulk queue', async () => {
    const h = await harness({ name: 'pool-payments', cycles: [PAYMENTS_ONLY_CYCLE] });
    const proc = await startPoolProcess(h, 'payments');
    expect(proc.output.join('')).toContain(`"taskQueues":["${h.taskQueue}"]`);
    const queues = taskQueuesOf(h.taskQueue);
    // The container health check (`imt-ic worker-health`): this host's worker polls payments only.
    const health = async (pool: WorkerPool) => {
      const lines: string[] = [];
      const env = {
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_TASK_QUEUE: h.taskQueue,
        PAYLOAD_KEYS: testPayloadKeys(),
      };
      return { ok: await runWorkerHealth(pool, env, (l) => lines.push(l)), said: lines.join('') };
    };
    await eventually(async () => (await health('payments')).ok);
    expect(await health('bulk')).toEqual({
      ok: false,
      said: `bulk pool: no worker of this host polls ${queues.bulk} (workflow, activity tasks)\n`,
    });

    const exported = await startExport(h.client, h.taskQueue, { cycle: PAYMENTS_ONLY_CYCLE.invoiceMonth });
    const p = seedPayment(h.imt);
    const res = await h.http.post('/api/integration/invoice/post-payment', p);
    expect(res.status).toBe(201);
    expect(h.imt.postings().filter((x) => x.transaction_id === p.transaction_id)).toHaveLength(1);
    const run = h.client.workflow.getHandle(workflowIds.payment(p.transaction_id));
    expect((await run.describe()).taskQueue).toBe(queues.payments);
    // The run stays open after posting (a void or ACH reject may follow): its state says POSTED.
    expect((await run.query(transactionStateQuery)).status).toBe(PaymentStatus.POSTED);

    // No bulk worker: the export is on its own queue and not one of its activities ran.
    const exportRun = await h.client.workflow.getHandle(exported.workflowId).describe();
    expect(exportRun.taskQueue).toBe(queues.bulk);
    expect(exportRun.status.name).toBe('RUNNING');
    expect(h.imt.listPageRequests()).toEqual([]);
    await h.client.workflow.getHandle(exported.workflowId).terminate('test over');
  }, 180_000);

  it('--pool bulk runs a billing-cycle export on the bulk queue; a payment waits on the payments queue', async () => {
    const h = await harness({
      name: 'pool-bulk',
      withIc: true,
      cycles: [BULK_ONLY_CYCLE],
      confirmWaitMs: 200,
    });
    const proc = await startPoolProcess(h, 'bulk');
    const queues = taskQueuesOf(h.taskQueue);
    expect(proc.output.join('')).toContain(`"taskQueues":["${queues.bulk}"]`);

    // No payments worker: the run is started on the payments queue, but no worker accepts the
    // delivery, so the ingress cannot show it received (503: IC delivers it again); nothing posted.
    const p = seedPayment(h.imt);
    expect((await h.http.post('/api/integration/invoice/post-payment', p)).status).toBe(503);

    const started = await startExport(h.client, h.taskQueue, {
      cycle: BULK_ONLY_CYCLE.invoiceMonth,
      wait: true,
    });
    expect(started.result).toMatchObject({ invoiceCount: 12, icInvoiceCount: 12 });
    expect((await h.client.workflow.getHandle(started.workflowId).describe()).taskQueue).toBe(queues.bulk);

    const payment = h.client.workflow.getHandle(workflowIds.payment(p.transaction_id));
    expect((await payment.describe()).taskQueue).toBe(queues.payments);
    expect((await payment.describe()).status.name).toBe('RUNNING');
    expect(h.imt.postings().filter((x) => x.transaction_id === p.transaction_id)).toEqual([]);
    await payment.terminate('test over');
  }, 180_000);
});
