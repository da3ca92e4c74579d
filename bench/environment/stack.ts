/**
 * The payments bench's environment: the embedded Temporal dev server on a SQLite file with the
 * WAL pragmas (what `npm start` runs), the IMT simulator, one client connection whose RPCs are
 * counted, and — per run — the project's own worker and ingress, wired as the composition root
 * wires them. Everything runs in this process except the dev server.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  Client,
  defaultGrpcRetryOptions,
  makeGrpcRetryInterceptor,
  type ConnectionOptions,
} from '@temporalio/client';
import {
  DefaultLogger,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { buildIngress } from '../../client/ingress/server';
import { loadConfig } from '../../common/config';
import { createLogger, type Logger } from '../../common/logger';
import { createMetrics, type ServiceMetrics } from '../../app/metrics';
import { connectTemporal, connectWorkerToTemporal } from '../../common/temporal-connection';
import { SQLITE_PRAGMAS, startDevServer } from '../../dev/temporal-server';
import { startImtSimulator, type ImtSimulator } from '../../simulators/imt/server';
import { buildActivityDeps, resolveEndpoints, serviceIngressOptions, type Endpoints } from '../../app/wiring';
import { installWorkerRuntime } from '../../worker/telemetry';
import { prebuiltWorkflowBundle } from '../../worker/bundle';
import { createWorker } from '../../worker/worker';
import { findDevServerPid, freePort } from './measure';
import { RpcStats } from './rpc';

export interface StackOptions {
  logLevel: string;
  serverLogLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Most HTTP requests in flight at once (keep-alive sockets). */
  concurrency: number;
  log: (line: string) => void;
}

export interface BenchStack {
  log: (line: string) => void;
  logger: Logger;
  client: Client;
  rpc: RpcStats;
  address: string;
  /** The dev server's process, for its CPU time (undefined without /proc). */
  serverPid?: number;
  sim: ImtSimulator;
  endpoints: Endpoints;
  config: ReturnType<typeof loadConfig>;
  metrics: ServiceMetrics;
  paymentBundle: Awaited<ReturnType<typeof prebuiltWorkflowBundle>>;
  bareBundle: WorkflowBundleWithSourceMap;
  agent: http.Agent;
  /** Invoice numbers handed out so far (each payment pays its own invoice). */
  nextInvoice: number;
  server: { storage: string; pragmas: string[] };
  notes: string[];
  close(): Promise<void>;
}

export interface Running {
  stop(): Promise<void>;
}

/** Runs `cleanups` last-first, logging (not throwing) what fails. */
async function runCleanups(cleanups: (() => Promise<unknown>)[], log: (line: string) => void) {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch (err) {
      log(`[bench] cleanup: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

export async function startStack(opts: StackOptions): Promise<BenchStack> {
  const { log } = opts;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'imt-ic-bench-'));
  const cleanups: (() => Promise<unknown>)[] = [async () => fs.rmSync(tmp, { recursive: true, force: true })];
  try {
    const config = loadConfig({
      DATA_DIR: tmp,
      LOG_LEVEL: opts.logLevel,
      IMT_SIMULATOR_PORT: String(await freePort()),
      IC_SIMULATOR_PORT: String(await freePort()),
      INGRESS_PORT: String(await freePort()),
      METRICS_PORT: '0',
    });
    const logger = createLogger({ level: config.logLevel });
    installWorkerRuntime({ logger, metricsPort: 0 });
    const pragmas = SQLITE_PRAGMAS.filter((a) => a !== '--sqlite-pragma');
    log(`[bench] Temporal dev server on a SQLite file (${pragmas.join(', ')}) in ${tmp}`);
    const dev = await startDevServer({
      dbFilename: path.join(tmp, 'temporal.sqlite'),
      namespace: 'default',
      log,
      serverLogLevel: opts.serverLogLevel,
    });
    cleanups.push(() => dev.teardown());
    const notes: string[] = [];
    const serverPid = findDevServerPid();
    if (serverPid === undefined)
      notes.push('The dev server process was not found: its CPU time is not reported.');

    const endpoints = resolveEndpoints(config);
    const sim = await startImtSimulator({
      port: config.imt.simulatorPort,
      integratorId: endpoints.imt.integratorId,
      cycles: [],
    });
    cleanups.push(() => sim.close());

    const rpc = new RpcStats();
    const interceptors: ConnectionOptions['interceptors'] = [
      rpc.interceptor,
      makeGrpcRetryInterceptor(defaultGrpcRetryOptions()),
    ];
    const connection = await connectTemporal({ address: dev.address }, { interceptors });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default' });

    log('[bench] workflow bundles');
    const [paymentBundle, bareBundle] = await Promise.all([
      prebuiltWorkflowBundle({ log }),
      bundleWorkflowCode({
        workflowsPath: require.resolve('../workflows'),
        logger: new DefaultLogger('WARN'),
      }),
    ]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(opts.concurrency, 256) });
    cleanups.push(async () => agent.destroy());
    return {
      log,
      logger,
      client,
      rpc,
      address: dev.address,
      serverPid,
      sim,
      endpoints,
      config,
      metrics: createMetrics(),
      paymentBundle,
      bareBundle,
      agent,
      nextInvoice: 1,
      server: { storage: 'SQLite file', pragmas },
      notes,
      close: () => runCleanups(cleanups, log),
    };
  } catch (err) {
    await runCleanups(cleanups, log);
    throw err;
  }
}

function runWorker(close: () => Promise<void>, worker: Worker): Running {
  const running = worker.run();
  let stopped: Promise<void> | undefined;
  return {
    // Idempotent: called when a run ends and again by the cleanup on an error.
    stop: () =>
      (stopped ??= (async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
        await close();
      })()),
  };
}

/** The project's worker (worker/worker.ts) with the activities the composition root gives it. */
export async function startPaymentsWorker(stack: BenchStack, taskQueue: string): Promise<Running> {
  const connection = await connectWorkerToTemporal({ address: stack.address });
  const worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue,
    deps: {
      ...buildActivityDeps(stack.config, stack.endpoints, stack.logger),
      temporalClient: stack.client,
      metrics: stack.metrics.activity,
    },
    workflowBundle: stack.paymentBundle,
  });
  return runWorker(() => connection.close(), worker);
}

/** The bare ceiling's worker: one no-op activity per workflow (bench/workflows.ts). */
export async function startBareWorker(stack: BenchStack, taskQueue: string): Promise<Running> {
  const connection = await connectWorkerToTemporal({ address: stack.address });
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue,
    workflowBundle: stack.bareBundle,
    activities: { noop: async () => undefined },
  });
  return runWorker(() => connection.close(), worker);
}

/** The ingress exactly as the composition root builds it (metrics hooks included; /metrics is on its own port). */
export async function startIngress(
  stack: BenchStack,
  taskQueue: string,
  maxInFlight = stack.config.ingress.maxInFlight,
): Promise<{ app: FastifyInstance; url: string; maxInFlight: number }> {
  const app = buildIngress({
    ...serviceIngressOptions(stack.config, stack.endpoints, {
      client: stack.client,
      logger: stack.logger,
      metrics: stack.metrics,
    }),
    namespace: 'default',
    taskQueue,
    maxInFlight,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { app, url: `http://127.0.0.1:${port}`, maxInFlight };
}
