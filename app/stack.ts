/**
 * The whole service in one process — what `npm start`, the demo and the benchmark run:
 * (embedded Temporal dev server) + (IMT/IC simulators) + worker + ingress. Each embedded
 * part starts only when the configuration does not point at a real one (contracts A).
 */
import path from 'node:path';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { FastifyInstance } from 'fastify';
import { temporalAddressOf, type AppConfig } from '../common/config';
import { cycleOfInstant } from '../domain';
import type { Logger } from '../common/logger';
import { startDevServer } from '../dev/temporal-server';
import { startCluster } from '../dev/cluster';
import { startImtSimulator, type ImtSimulator } from '../simulators/imt/server';
import { startIcSimulator, type IcSimulator } from '../simulators/ic/server';
import { createPoolWorkers, type PoolWorkers } from '../worker/worker';
import { schedulePruning, securePrivateDirs } from '../common/data-dir';
import { buildActivityDeps, resolveEndpoints, serviceIngressOptions, type Endpoints } from './wiring';
import { buildIngress, type IngressOptions } from '../client/ingress/server';
import { createMetrics, freeLoopbackPort, serveMetrics, type ServiceMetrics } from './metrics';
import { temporalUiBaseUrl } from '../common/ui';
import { installWorkerRuntime } from '../worker/telemetry';
import { dataProtection, payloadKeysOf } from '../common/data-protection';
import {
  connectTemporal,
  connectWorkerToTemporal,
  temporalConnectOptions,
} from '../common/temporal-connection';

/**
 * What the bundled IMT simulator holds: the seed's sample cycle, and last month's, which it
 * creates on the 3rd of this month like IMT (contracts C1). So `schedule trigger` on the 1st or
 * 2nd finds the cycle EMPTY, and from the 3rd (16:41 US Central) exports it.
 */
function defaultSimulatorCycles(timeZone: string) {
  return [
    { seed: 42, invoiceMonth: '2022-09-01', count: 25, invalidEvery: 10 },
    { seed: 43, invoiceMonth: cycleOfInstant(new Date(), timeZone, -1), count: 25, invalidEvery: 10 },
  ];
}

export interface Stack {
  config: AppConfig;
  endpoints: Endpoints;
  client: Client;
  /** Both pools' workers (payments and bulk) in this process. */
  workers: PoolWorkers;
  ingress: FastifyInstance;
  ingressUrl: string;
  temporalAddress: string;
  temporalUiUrl?: string;
  /** The local cluster's TEMPORAL_TLS_* variables, when it runs with mTLS. */
  temporalTlsEnv?: Record<string, string>;
  imtSimulator?: ImtSimulator;
  icSimulator?: IcSimulator;
  /** prom-client registry (app/metrics.ts). */
  metrics: ServiceMetrics;
  /** METRICS_HOST:METRICS_PORT/metrics — the service's and the SDK's metrics — unless off. */
  metricsUrl?: string;
  stop(): Promise<void>;
}

export interface StackOptions {
  logger: Logger;
  /** Seeded demo data for the IMT simulator. */
  simulatorCycles?: { seed: number; invoiceMonth: string; count: number; invalidEvery?: number }[];
  ingressHooks?: IngressOptions['hooks'];
  ingressPlugins?: IngressOptions['plugins'];
  workerTuning?: Parameters<typeof createPoolWorkers>[0]['tuning'];
  /** Overrides the configured Temporal address (e.g. an already running dev server). */
  inMemoryTemporal?: boolean;
  /**
   * What to run when TEMPORAL_ADDRESS is unset: the CLI's dev server (`npm start`, default) or a
   * local Temporal cluster on PostgreSQL (`npm run cluster`, dev/cluster.ts).
   */
  localTemporal?: 'dev-server' | 'cluster';
  /** With the local cluster: mTLS on its frontend (`npm run cluster -- --tls`). */
  clusterTls?: boolean;
  /** Install the SDK runtime (Prometheus on config.metricsPort, logs via pino). Default true. */
  sdkTelemetry?: boolean;
}

export async function startStack(config: AppConfig, opts: StackOptions): Promise<Stack> {
  const { logger } = opts;
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        logger.warn({ err }, 'error while stopping');
      }
    }
  };

  // The SDK runtime is per process and must exist before the dev server or any connection.
  // Its exporter listens on a loopback port of its own; METRICS_PORT serves both texts.
  const sdkPort = config.metricsPort > 0 && opts.sdkTelemetry !== false ? await freeLoopbackPort() : 0;
  const telemetry =
    opts.sdkTelemetry === false
      ? { installed: false }
      : installWorkerRuntime({ logger, metricsPort: sdkPort, metricsHost: '127.0.0.1' });
  const metrics = createMetrics();

  try {
    const { temporalAddress, temporalUiUrl, temporalTlsEnv } = await startLocalTemporal(
      config,
      opts,
      cleanups,
    );
    const endpoints = resolveEndpoints(config);
    const { imtSimulator, icSimulator } = await startSimulators(config, endpoints, opts, cleanups);
    // A configured cluster, or the local one with mTLS, through the SDK's standard variables.
    const connectOptions = temporalConnectOptions(temporalAddress, {
      remote: Boolean(config.temporal.address) || temporalTlsEnv !== undefined,
      env: temporalTlsEnv ? { ...process.env, ...temporalTlsEnv } : undefined,
    });
    const connection = await connectTemporal(connectOptions);
    cleanups.push(() => connection.close());
    const protection = dataProtection(payloadKeysOf(config), {
      allowPlaintext: config.allowPlaintextPayloads,
    });
    const client = new Client({ connection, namespace: config.temporal.namespace, ...protection });

    securePrivateDirs(config.dataDir);
    const pruning = schedulePruning(config.dataDir, config.exportFileRetentionDays, (removed) =>
      logger.info(
        { removed, days: config.exportFileRetentionDays },
        'export files past their retention deleted',
      ),
    );
    cleanups.push(async () => pruning.stop());
    const nativeConnection = await connectWorkerToTemporal(connectOptions);
    const workers = await createPoolWorkers({
      connection: nativeConnection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      deps: {
        ...buildActivityDeps(config, endpoints, logger, metrics.activity),
        temporalClient: client,
        temporalUiUrl,
      },
      tuning: opts.workerTuning,
      dataConverter: protection.workerDataConverter,
    });
    const running = workers.run();
    cleanups.push(async () => {
      workers.shutdown();
      await running;
      await nativeConnection.close();
    });

    const ingress = buildIngress(
      serviceIngressOptions(config, endpoints, {
        client,
        logger,
        metrics,
        temporalUiUrl,
        hooks: opts.ingressHooks,
        plugins: opts.ingressPlugins,
      }),
    );
    await ingress.listen({ port: config.ingress.port, host: '0.0.0.0' });
    cleanups.push(() => ingress.close());
    const ingressUrl = `${config.ingress.tls ? 'https' : 'http'}://127.0.0.1:${config.ingress.port}`;
    const metricsServer =
      config.metricsPort > 0
        ? await serveMetrics(metrics.registry, {
            host: config.metricsHost,
            port: config.metricsPort,
            sdkMetricsUrl: 'metricsUrl' in telemetry ? telemetry.metricsUrl : undefined,
          })
        : undefined;
    if (metricsServer) cleanups.push(() => metricsServer.close());

    return {
      config,
      endpoints,
      client,
      workers,
      ingress,
      ingressUrl,
      temporalAddress,
      temporalUiUrl,
      temporalTlsEnv,
      imtSimulator,
      icSimulator,
      metrics,
      metricsUrl: metricsServer?.url,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

type Cleanups = (() => Promise<void>)[];

/**
 * The Temporal to use: the configured one, else a local cluster on PostgreSQL
 * (`imt-ic start --cluster`), else the CLI's dev server on a SQLite file in DATA_DIR.
 */
async function startLocalTemporal(
  config: AppConfig,
  opts: StackOptions,
  cleanups: Cleanups,
): Promise<{ temporalAddress: string; temporalUiUrl?: string; temporalTlsEnv?: Record<string, string> }> {
  const { logger } = opts;
  let env: TestWorkflowEnvironment | undefined;
  let temporalAddress = config.temporal.address;
  let temporalUiUrl: string | undefined;
  let temporalTlsEnv: Record<string, string> | undefined;
  if (!temporalAddress && opts.localTemporal === 'cluster') {
    const started = Date.now();
    const cluster = await startCluster({
      dataDir: config.dataDir,
      port: config.temporal.embeddedPort,
      namespace: config.temporal.namespace,
      log: (line) => logger.info(line),
      tls: opts.clusterTls,
    });
    cleanups.push(() => cluster.stop());
    temporalAddress = cluster.address;
    temporalTlsEnv = cluster.tls?.env;
    // The local cluster runs no UI; TEMPORAL_UI_URL may name one pointed at it.
    temporalUiUrl = temporalUiBaseUrl({
      TEMPORAL_UI_URL: process.env.TEMPORAL_UI_URL,
      TEMPORAL_ADDRESS: temporalAddress,
    });
    logger.info(
      { timings: cluster.timings, seconds: (Date.now() - started) / 1000, dir: cluster.dir },
      'local Temporal cluster on PostgreSQL is up',
    );
  }
  if (!temporalAddress) {
    env = await startDevServer({
      dbFilename: opts.inMemoryTemporal ? undefined : path.join(config.dataDir, 'temporal.sqlite'),
      port: config.temporal.embeddedPort,
      uiPort: config.temporal.uiPort,
      namespace: config.temporal.namespace,
      log: (line) => logger.info(line),
    });
    const started = env;
    cleanups.push(() => started.teardown());
    temporalAddress = temporalAddressOf(config);
    temporalUiUrl = `http://127.0.0.1:${config.temporal.uiPort}`;
  }
  // A real cluster's UI, when TEMPORAL_UI_URL says where it is.
  temporalUiUrl ??= temporalUiBaseUrl();
  return { temporalAddress, temporalUiUrl, temporalTlsEnv };
}

/** The IMT and IC simulators, each only when no real system is configured (contracts A). */
async function startSimulators(
  config: AppConfig,
  endpoints: Endpoints,
  opts: StackOptions,
  cleanups: Cleanups,
): Promise<{ imtSimulator?: ImtSimulator; icSimulator?: IcSimulator }> {
  let imtSimulator: ImtSimulator | undefined;
  let icSimulator: IcSimulator | undefined;
  if (endpoints.imt.simulated) {
    imtSimulator = await startImtSimulator({
      port: config.imt.simulatorPort,
      integratorId: endpoints.imt.integratorId,
      billerTimeZone: config.biller.timeZone,
      cycles: opts.simulatorCycles ?? defaultSimulatorCycles(config.biller.timeZone),
    });
    const sim = imtSimulator;
    cleanups.push(() => sim.close());
  }
  if (endpoints.ic.simulated) {
    icSimulator = await startIcSimulator({
      port: config.ic.simulatorPort,
      billerGuid: endpoints.ic.billerGuid,
      webServiceKey: endpoints.ic.webServiceKey,
      dateFormat: config.bif.dateFormat,
    });
    const sim = icSimulator;
    cleanups.push(() => sim.close());
  }
  return { imtSimulator, icSimulator };
}
