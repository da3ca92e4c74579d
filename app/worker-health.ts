/**
 * `imt-ic worker-health --pool payments|bulk` — the container health check of a worker
 * service (docker-compose.yml): exit 0 when a worker of this host polls that pool's
 * workflow and activity queues, 1 otherwise. The SDK names a worker `<pid>@<hostname>`, and
 * each container has its own host name, so the answer is about this container's worker,
 * not another replica's. One line on stdout says what was found.
 */
import os from 'node:os';
import { loadConfig, temporalAddressOf } from '../common/config';
import { connectTemporal, temporalConnectOptions } from '../common/temporal-connection';
import { taskQueueOfPool, type WorkerPool } from '../domain';

const WORKFLOW = 1;
const ACTIVITY = 2;

export async function runWorkerHealth(
  pool: WorkerPool,
  env: NodeJS.ProcessEnv = process.env,
  out: (line: string) => void = (line) => process.stdout.write(line),
): Promise<boolean> {
  const config = loadConfig(env, 'worker');
  const connection = await connectTemporal(
    temporalConnectOptions(temporalAddressOf(config), { remote: Boolean(config.temporal.address) }),
  );
  const taskQueue = taskQueueOfPool(config.temporal.taskQueue, pool);
  const suffix = `@${os.hostname()}`;
  try {
    const missing: string[] = [];
    for (const [kind, taskQueueType] of [
      ['workflow', WORKFLOW],
      ['activity', ACTIVITY],
    ] as const) {
      const tq = await connection.workflowService.describeTaskQueue({
        namespace: config.temporal.namespace,
        taskQueue: { name: taskQueue },
        taskQueueType,
      });
      if (!(tq.pollers ?? []).some((p) => p.identity?.endsWith(suffix))) missing.push(kind);
    }
    out(
      missing.length === 0
        ? `${pool} pool: this host's worker polls ${taskQueue}\n`
        : `${pool} pool: no worker of this host polls ${taskQueue} (${missing.join(', ')} tasks)\n`,
    );
    return missing.length === 0;
  } finally {
    await connection.close();
  }
}
