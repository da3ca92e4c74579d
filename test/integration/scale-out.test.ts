/**
 * Scale-out on the PostgreSQL-backed cluster (TEST_TEMPORAL=cluster): two real worker
 * processes (`imt-ic worker`, what `npm run worker` runs) poll one task queue; a burst of
 * payments comes in through the ingress; one worker is SIGKILLed mid-burst. Every payment
 * must still be posted exactly once in the IMT simulator's ledger, and both workers must
 * have done work (their identities appear in the histories).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PaymentStatus, transactionStateQuery, workflowIds } from '../../domain';
import { eventually, startHarness, type Harness } from '../helpers/harness';
import { seedPayment } from '../helpers/payments';
import { testPayloadKeys } from '../helpers/payload-keys';

const onCluster = inject('temporalKind') === 'cluster';
const BURST = 60;

interface WorkerProcess {
  child: ChildProcess;
  identity: string;
  output: string[];
}

function startWorkerProcess(h: Harness, dataDir: string): WorkerProcess {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join('app', 'main.ts'), 'worker'], {
    cwd: path.resolve(__dirname, '..', '..'),
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: h.taskQueue,
      IMT_BASE_URL: h.imt.url,
      // The simulator on loopback speaks plain HTTP (contracts A).
      ALLOW_INSECURE_URLS: 'true',
      // A real-like IMT with the IC simulator: allowed by name (common/config.ts).
      ALLOW_ONE_SIMULATOR: 'true',
      IMT_INTEGRATOR_ID: h.imtIntegratorId,
      INGRESS_INTEGRATOR_ID: randomBytes(12).toString('hex'),
      PAYLOAD_KEYS: testPayloadKeys(),
      DATA_DIR: dataDir,
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      WORKFLOW_BUNDLE_PATH: inject('workflowBundlePath'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (c) => output.push(String(c)));
  child.stderr?.on('data', (c) => output.push(String(c)));
  // The SDK's default worker identity.
  return { child, identity: `${child.pid}@${os.hostname()}`, output };
}

describe.skipIf(!onCluster)('scale-out: two worker processes on the PostgreSQL cluster', () => {
  let h: Harness;
  let dataDir: string;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    h = await startHarness({ name: 'scale-out', confirmWaitMs: 1000 });
    // Only the two worker processes poll this task queue.
    await h.stopWorker();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imt-ic-scale-out-'));
    workers.push(startWorkerProcess(h, dataDir), startWorkerProcess(h, dataDir));
    await eventually(
      async () => workers.every((w) => w.output.join('').includes('worker started')),
      120_000,
      250,
    ).catch((err) => {
      throw new Error(`${err}\n${workers.map((w) => w.output.join('')).join('\n---\n')}`);
    });
  }, 180_000);

  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGTERM');
    await Promise.all(
      workers.map((w) =>
        w.child.exitCode === null && w.child.signalCode === null
          ? new Promise((r) => w.child.once('exit', r))
          : undefined,
      ),
    );
    await h?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('posts every payment of a burst exactly once although one worker is SIGKILLed mid-burst', async () => {
    const payments = Array.from({ length: BURST }, () => seedPayment(h.imt));
    // Like IC's Data Pump: a delivery answered 503 (not confirmed in time, e.g. its workflow task
    // was on the killed worker) is delivered again until it gets a 2xx.
    const deliver = async (p: (typeof payments)[number]) => {
      for (let i = 0; ; i++) {
        const res = await h.http.post('/api/integration/invoice/post-payment', p);
        if (res.status !== 503 || i >= 20) return res;
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    const answers = payments.map(deliver);

    // Mid-burst: some payments are posted, most are not yet.
    await eventually(async () => h.imt.postings().length >= 8, 60_000, 20);
    const [victim, survivor] = workers;
    victim.child.kill('SIGKILL');
    const postedAtKill = h.imt.postings().length;
    expect(postedAtKill).toBeLessThan(BURST);

    for (const res of await Promise.all(answers)) expect([201, 202]).toContain(res.status);
    // Each transaction's run stays open after posting (for a void): its state tells when it has posted.
    const outcomes = await Promise.all(
      payments.map((p) =>
        eventually(
          async () => {
            const s = await h.client.workflow
              .getHandle(workflowIds.payment(p.transaction_id))
              .query(transactionStateQuery);
            return s.posting.holds === 'YES' ? s : undefined;
          },
          120_000,
          500,
        ),
      ),
    );
    for (const o of outcomes) expect(o.status).toBe(PaymentStatus.POSTED);

    // Exactly once: one posting per transaction in IMT's ledger, nothing else.
    for (const p of payments) {
      const entries = h.imt.ledger(p.invoice_number).filter((e) => e.transaction_id === p.transaction_id);
      expect(entries.map((e) => e.kind)).toEqual(['posting']);
      expect(entries[0].amount).toBe(p.amount);
    }
    expect(new Set(h.imt.postings().map((x) => x.transaction_id)).size).toBe(BURST);

    // Both workers did work: their identities completed workflow tasks of this burst.
    const identities = new Set<string>();
    for (const p of payments) {
      const history = await h.client.workflow.getHandle(workflowIds.payment(p.transaction_id)).fetchHistory();
      for (const e of history.events ?? []) {
        const id =
          e.workflowTaskCompletedEventAttributes?.identity ?? e.activityTaskStartedEventAttributes?.identity;
        if (id) identities.add(id);
      }
    }
    expect(identities).toContain(victim.identity);
    expect(identities).toContain(survivor.identity);
    expect(survivor.child.exitCode).toBeNull();
  });
});
