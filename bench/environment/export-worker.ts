/**
 * The export benchmark's worker (bench/load/export.ts): the real worker (worker/worker.ts),
 * alone in its own process so its peak RSS can be read from /proc/<pid>/status.
 * Configured by the parent through the environment; prints `ready` once polling.
 */
import { z } from 'zod';
import { silentLogger } from '../../common/logger';
import { connectWorkerToTemporal } from '../../common/temporal-connection';
import { InvoiceCloudClient } from '../../integrations/ic-client';
import { ImtClient } from '../../integrations/imt-client';
import { createWorker } from '../../worker/worker';

const Env = z.object({
  BENCH_TEMPORAL_ADDRESS: z.string().min(1),
  BENCH_TASK_QUEUE: z.string().min(1),
  BENCH_WORKFLOW_BUNDLE: z.string().min(1),
  BENCH_DATA_DIR: z.string().min(1),
  BENCH_IMT_URL: z.url(),
  BENCH_IMT_INTEGRATOR_ID: z.string().min(1),
  BENCH_IC_URL: z.url(),
  BENCH_IC_BILLER_GUID: z.string().min(1),
  BENCH_IC_WEB_SERVICE_KEY: z.string().min(1),
});

async function main(): Promise<void> {
  const env = Env.parse(process.env);
  const connection = await connectWorkerToTemporal({ address: env.BENCH_TEMPORAL_ADDRESS });
  const worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue: env.BENCH_TASK_QUEUE,
    workflowBundle: { codePath: env.BENCH_WORKFLOW_BUNDLE },
    deps: {
      imt: new ImtClient({ baseUrl: env.BENCH_IMT_URL, integratorId: env.BENCH_IMT_INTEGRATOR_ID }),
      ic: new InvoiceCloudClient({
        baseUrl: env.BENCH_IC_URL,
        billerGuid: env.BENCH_IC_BILLER_GUID,
        webServiceKey: env.BENCH_IC_WEB_SERVICE_KEY,
      }),
      logger: silentLogger,
      dataDir: env.BENCH_DATA_DIR,
      authRetryDelayMs: 1000,
    },
  });
  const running = worker.run();
  process.stdout.write('ready\n');
  // Worker.run() stops polling on SIGINT/SIGTERM and resolves once drained.
  await running;
  await connection.close();
}

main().catch((err) => {
  process.stderr.write(`export bench worker failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
