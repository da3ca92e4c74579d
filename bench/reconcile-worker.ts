/**
 * The reconciliation benchmark's worker (bench/reconcile.ts): the real worker
 * (worker/worker.ts) with the real workflows, alone in its own process so its peak RSS is
 * the reconciliation's. Configured by the parent through the environment; prints `ready`.
 */
import { Client } from '@temporalio/client';
import { z } from 'zod';
import { silentLogger } from '../common/logger';
import { connectTemporal, connectWorkerToTemporal } from '../common/temporal-connection';
import { ImtClient } from '../integrations/imt-client';
import { createWorker } from '../worker/worker';

const Env = z.object({
  BENCH_TEMPORAL_ADDRESS: z.string().min(1),
  BENCH_TASK_QUEUE: z.string().min(1),
  BENCH_WORKFLOW_BUNDLE: z.string().min(1),
  BENCH_DATA_DIR: z.string().min(1),
  BENCH_IMT_URL: z.url(),
  BENCH_IMT_INTEGRATOR_ID: z.string().min(1),
});

async function main(): Promise<void> {
  const env = Env.parse(process.env);
  const connection = await connectWorkerToTemporal({ address: env.BENCH_TEMPORAL_ADDRESS });
  const clientConnection = await connectTemporal({ address: env.BENCH_TEMPORAL_ADDRESS });
  const worker = await createWorker({
    connection,
    namespace: 'default',
    // The service's queue: the seeded runs are on its payments queue, the reconciliation
    // runs on its bulk queue, which this worker serves.
    taskQueue: env.BENCH_TASK_QUEUE,
    pool: 'bulk',
    workflowBundle: { codePath: env.BENCH_WORKFLOW_BUNDLE },
    deps: {
      imt: new ImtClient({ baseUrl: env.BENCH_IMT_URL, integratorId: env.BENCH_IMT_INTEGRATOR_ID }),
      logger: silentLogger,
      dataDir: env.BENCH_DATA_DIR,
      authRetryDelayMs: 1000,
      temporalClient: new Client({ connection: clientConnection, namespace: 'default' }),
    },
  });
  const running = worker.run();
  process.stdout.write('ready\n');
  await running;
  await connection.close();
  await clientConnection.close();
}

main().catch((err) => {
  process.stderr.write(
    `reconcile bench worker failed: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
