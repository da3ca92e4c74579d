/**
 * `imt-ic worker [--pool payments|bulk]` — a worker process on its own (the production shape:
 * run several on different machines against one Temporal cluster, each pool scaled apart).
 * Without `--pool` it serves both pools. Connects per contracts A; without TEMPORAL_ADDRESS
 * it joins the embedded server started by `npm start` on this machine.
 */
import { Client } from '@temporalio/client';
import { loadConfig, temporalAddressOf } from '../common/config';
import { createPoolWorkers } from '../worker/worker';
import { taskQueueOfPool, WORKER_POOLS, type WorkerPool } from '../domain';
import { schedulePruning, securePrivateDirs } from '../common/data-dir';
import { installWorkerRuntime, sdkActivityMetrics } from '../worker/telemetry';
import { temporalUiBaseUrl } from '../common/ui';
import { buildActivityDeps, resolveEndpoints, serviceLogger } from './wiring';
import { dataProtection, payloadKeysOf } from '../common/data-protection';
import {
  connectTemporal,
  connectWorkerToTemporal,
  temporalConnectOptions,
} from '../common/temporal-connection';

export async function runWorker(opts: { pools?: readonly WorkerPool[] } = {}): Promise<void> {
  const pools = opts.pools ?? WORKER_POOLS;
  const config = loadConfig(process.env, 'worker');
  const endpoints = resolveEndpoints(config);
  const logger = serviceLogger(config, endpoints, 'worker');
  const address = temporalAddressOf(config);
  // Before any connection: the SDK runtime (Prometheus endpoint, logs through pino) is per process.
  const telemetry = installWorkerRuntime({
    logger,
    metricsPort: config.metricsPort,
    metricsHost: config.metricsHost,
  });
  const connectOptions = temporalConnectOptions(address, { remote: Boolean(config.temporal.address) });
  const connection = await connectWorkerToTemporal(connectOptions);
  const protection = dataProtection(payloadKeysOf(config), {
    allowPlaintext: config.allowPlaintextPayloads,
  });
  // Only bulk activities use a Temporal client (the reconciliation's visibility query, the
  // alert digest's signal-with-start): a payments-only process opens no second connection.
  const clientConnection = pools.includes('bulk') ? await connectTemporal(connectOptions) : undefined;
  const temporalClient = clientConnection
    ? new Client({ connection: clientConnection, namespace: config.temporal.namespace, ...protection })
    : undefined;
  securePrivateDirs(config.dataDir);
  // Export files are written by the bulk pool's activities: its process deletes them past retention.
  const pruning = pools.includes('bulk')
    ? schedulePruning(config.dataDir, config.exportFileRetentionDays, (removed) =>
        logger.info(
          { removed, days: config.exportFileRetentionDays },
          'export files past their retention deleted',
        ),
      )
    : undefined;
  const workers = await createPoolWorkers({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    pools,
    deps: {
      ...buildActivityDeps(config, endpoints, logger, sdkActivityMetrics()),
      temporalClient,
      temporalUiUrl: temporalUiBaseUrl(),
    },
    dataConverter: protection.workerDataConverter,
    workflowBundle: config.workflowBundlePath ? { codePath: config.workflowBundlePath } : undefined,
  });
  logger.info(
    {
      address,
      namespace: config.temporal.namespace,
      pools,
      taskQueues: pools.map((pool) => taskQueueOfPool(config.temporal.taskQueue, pool)),
      imt: endpoints.imt.baseUrl,
      metrics: telemetry.metricsUrl ?? 'off',
    },
    'worker started',
  );
  // Worker.run() installs SIGINT/SIGTERM handlers: it stops polling, lets running
  // activities finish (up to the shutdown grace time) and then resolves.
  await workers.run();
  pruning?.stop();
  await connection.close();
  await clientConnection?.close();
  logger.info('worker stopped');
}
