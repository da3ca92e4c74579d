/**
 * Per-test-file harness: a real worker on its own task queue (against the shared dev
 * server from global-setup), the real IMT simulator on loopback, and the real ingress on
 * a random port. Nothing of Temporal is mocked.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import axios, { type AxiosInstance } from 'axios';
import { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { inject } from 'vitest';
import { silentLogger } from '../../common/logger';
import { ImtClient } from '../../integrations/imt-client';
import { InvoiceCloudClient } from '../../integrations/ic-client';
import { buildIngress, type IngressOptions } from '../../client/ingress/server';
import type { FastifyInstance } from 'fastify';
import { startImtSimulator, type ImtSimulator } from '../../simulators/imt/server';
import { startIcSimulator, type IcSimulator } from '../../simulators/ic/server';
import { createPoolWorkers, type PoolWorkers } from '../../worker/worker';
import type { WorkerPool } from '../../domain';
import type { ActivityDeps } from '../../activities';
import type { TransactionTiming } from '../../domain';
import { dataProtection } from '../../common/data-protection';
import { connectTemporal, connectWorkerToTemporal } from '../../common/temporal-connection';
import { testPayloadKeyList } from './payload-keys';

// A list of optional settings: alike in shape only to other option lists (e.g. client/cli/payment-details.ts).
export interface HarnessOptions {
  name: string;
  confirmWaitMs?: number;
  authRetryDelayMs?: number;
  /** ActivityDeps.imtAnsweringWindowMs (default: the production 10 s). */
  imtAnsweringWindowMs?: number;
  /** ActivityDeps.postingRetryBudgetPerMinute (default: the production 30). */
  postingRetryBudgetPerMinute?: number;
  imtTimeoutMs?: number;
  cycles?: { seed: number; invoiceMonth: string; count: number; invalidEvery?: number }[];
  withIc?: boolean;
  alertWebhookUrl?: string;
  alertDigestWindowMs?: number;
  /** The transaction run's waits (hold windows, settle time, wait for a payment). */
  timing?: Partial<TransactionTiming>;
  /** Send this X-Integrator-ID to IMT instead of the right one (403 tests). */
  wrongImtIntegratorId?: string;
  /** Another Temporal server than the shared one from global-setup (e.g. one with the UI). */
  address?: string;
  /** Base URL of that server's UI, for links in alerts and the status call. */
  temporalUiUrl?: string;
  /** Ingress hooks / plugins and activity counters (metrics tests). */
  ingressHooks?: IngressOptions['hooks'];
  ingressPlugins?: IngressOptions['plugins'];
  activityMetrics?: ActivityDeps['metrics'];
  /** How adjustments re-check IC's balance (default: the production 30 s × 10). */
  icBalanceCheck?: ActivityDeps['icBalanceCheck'];
  /** The ingress's per-client budget (off by default in tests). */
  rateLimitPerMinute?: number;
  /** The ingress's admission limit (INGRESS_MAX_IN_FLIGHT). */
  maxInFlight?: number;
  /**
   * The worker's shutdown grace time (default the production SHUTDOWN_GRACE_MS). 0 makes
   * `stopWorker()` cut running activities off, as a crash or a deploy past its grace would.
   */
  workerShutdownGraceMs?: number;
  /** The ingress's logger (default silent). */
  ingressLogger?: IngressOptions['logger'];
  /** Records per sorted run of the reconciliation's spills (default activities/sorted-spill.ts). */
  reconcileSpillRunSize?: number;
  /** The worker pools the harness runs (default both, as `npm start`). */
  pools?: readonly WorkerPool[];
}

export interface Harness {
  /** The service's queue (TEMPORAL_TASK_QUEUE): the payments pool's; the bulk pool's is derived (domain/task-queues.ts). */
  taskQueue: string;
  namespace: string;
  client: Client;
  imt: ImtSimulator;
  ic?: IcSimulator;
  /** The IC simulator's credentials (with `withIc`), for worker processes started by a test. */
  icCredentials?: { billerGuid: string; webServiceKey: string };
  ingress: FastifyInstance;
  ingressUrl: string;
  /** axios bound to the ingress with the right X-Integrator-ID; never throws on status. */
  http: AxiosInstance;
  ingressIntegratorId: string;
  imtIntegratorId: string;
  dataDir: string;
  deps: ActivityDeps;
  worker(): PoolWorkers | undefined;
  startWorker(): Promise<PoolWorkers>;
  stopWorker(): Promise<void>;
  stop(): Promise<void>;
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

let runtimeInstalled = false;
/** The SDK logs every failed activity attempt at WARN; tests provoke hundreds on purpose. */
function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // Already installed by another helper in this process.
  }
}

export async function startHarness(opts: HarnessOptions): Promise<Harness> {
  installQuietRuntime();
  const address = opts.address ?? inject('temporalAddress');
  const bundlePath = inject('workflowBundlePath');
  const namespace = 'default';
  const taskQueue = uniqueId(`tq-${opts.name}`);
  const imtIntegratorId = randomBytes(12).toString('hex');
  const ingressIntegratorId = randomBytes(12).toString('hex');
  const icBillerGuid = randomBytes(8).toString('hex');
  const icKey = randomBytes(12).toString('hex');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `imt-ic-${opts.name}-`));

  const imt = await startImtSimulator({
    port: 0,
    integratorId: imtIntegratorId,
    cycles: opts.cycles ?? [],
  });
  const ic = opts.withIc
    ? await startIcSimulator({ port: 0, billerGuid: icBillerGuid, webServiceKey: icKey })
    : undefined;

  const connection = await connectTemporal({ address });
  // Encrypted like the service: every test's payloads go through the codec.
  const protection = dataProtection(testPayloadKeyList());
  const client = new Client({ connection, namespace, ...protection });
  const deps: ActivityDeps = {
    imt: new ImtClient({
      baseUrl: imt.url,
      integratorId: opts.wrongImtIntegratorId ?? imtIntegratorId,
      timeoutMs: opts.imtTimeoutMs ?? 2000,
    }),
    ic: ic
      ? new InvoiceCloudClient({ baseUrl: ic.url, billerGuid: icBillerGuid, webServiceKey: icKey })
      : undefined,
    logger: silentLogger,
    authRetryDelayMs: opts.authRetryDelayMs ?? 500,
    imtAnsweringWindowMs: opts.imtAnsweringWindowMs,
    postingRetryBudgetPerMinute: opts.postingRetryBudgetPerMinute,
    alertWebhookUrl: opts.alertWebhookUrl,
    alertDigestWindowMs: opts.alertDigestWindowMs,
    temporalUiUrl: opts.temporalUiUrl,
    metrics: opts.activityMetrics,
    icBalanceCheck: opts.icBalanceCheck,
    dataDir,
    temporalClient: client,
    reconcileSpillRunSize: opts.reconcileSpillRunSize,
  };

  let nativeConnection: NativeConnection | undefined;
  let worker: PoolWorkers | undefined;
  let running: Promise<void> | undefined;
  const startWorker = async () => {
    nativeConnection = await connectWorkerToTemporal({ address });
    worker = await createPoolWorkers({
      connection: nativeConnection,
      namespace,
      taskQueue,
      pools: opts.pools,
      deps,
      dataConverter: protection.workerDataConverter,
      workflowBundle: { codePath: bundlePath },
      tuning:
        opts.workerShutdownGraceMs === undefined
          ? undefined
          : { shutdownGraceTime: opts.workerShutdownGraceMs },
    });
    running = worker.run();
    return worker;
  };
  const stopWorker = async () => {
    worker?.shutdown();
    await running;
    await nativeConnection?.close();
    nativeConnection = undefined;
    worker = undefined;
    running = undefined;
  };
  await startWorker();

  const ingress = buildIngress({
    client,
    namespace,
    taskQueue,
    integratorId: ingressIntegratorId,
    confirmWaitMs: opts.confirmWaitMs ?? 5000,
    timing: opts.timing,
    logger: opts.ingressLogger ?? silentLogger,
    rateLimitPerMinute: opts.rateLimitPerMinute,
    maxInFlight: opts.maxInFlight,
    imt: deps.imt,
    temporalUiUrl: opts.temporalUiUrl,
    hooks: opts.ingressHooks,
    plugins: opts.ingressPlugins,
  });
  await ingress.listen({ port: 0, host: '127.0.0.1' });
  const addr = ingress.server.address();
  const ingressUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const http = axios.create({
    baseURL: ingressUrl,
    headers: { 'X-Integrator-ID': ingressIntegratorId },
    validateStatus: () => true,
    timeout: 30_000,
  });

  return {
    taskQueue,
    namespace,
    client,
    imt,
    ic,
    icCredentials: ic ? { billerGuid: icBillerGuid, webServiceKey: icKey } : undefined,
    ingress,
    ingressUrl,
    http,
    ingressIntegratorId,
    imtIntegratorId,
    dataDir,
    deps,
    worker: () => worker,
    startWorker,
    stopWorker,
    async stop() {
      await ingress.close();
      await stopWorker();
      await connection.close();
      await imt.close();
      await ic?.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a truthy value (real-time waits against real servers). */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
