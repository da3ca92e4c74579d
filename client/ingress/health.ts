/**
 * GET /healthz: healthy when Temporal answers and a worker of the payments pool polls its queue:
 * that is what the payment calls need. The bulk pool's queue is reported too (`bulk_worker`) but
 * does not fail the check — an export or reconciliation worker being down does not stop payments,
 * and restarting the ingress would not bring it back. The check runs
 * at most once per `cacheMs` whatever the number of callers (concurrent callers share the one in
 * flight), and each run has a deadline — so neither a flood of probes nor a Temporal outage
 * turns the unauthenticated health call into load on Temporal or into requests held open.
 */
import type { Client } from '@temporalio/client';
import { taskQueuesOf } from '../../domain';

export interface HealthReport {
  healthy: boolean;
  checks: Record<string, string>;
}

export interface HealthCheckOptions {
  client: Client;
  namespace: string;
  /** The payments pool's queue (TEMPORAL_TASK_QUEUE); the bulk pool's is derived from it. */
  taskQueue: string;
  /** How long one result answers every probe (default 5 s). */
  cacheMs?: number;
  /** How long one check may take before it counts as "Temporal unreachable" (default 2 s). */
  deadlineMs?: number;
}

export const DEFAULT_HEALTH_CACHE_MS = 5_000;
export const DEFAULT_HEALTH_DEADLINE_MS = 2_000;

export class HealthCheck {
  private last?: { at: number; report: HealthReport };
  private running?: Promise<HealthReport>;

  constructor(private readonly opts: HealthCheckOptions) {}

  async report(now = Date.now()): Promise<HealthReport> {
    const cacheMs = this.opts.cacheMs ?? DEFAULT_HEALTH_CACHE_MS;
    if (this.last && now - this.last.at < cacheMs) return this.last.report;
    this.running ??= this.check().finally(() => (this.running = undefined));
    return this.running;
  }

  private async check(): Promise<HealthReport> {
    const { client, namespace, taskQueue } = this.opts;
    const deadline = Date.now() + (this.opts.deadlineMs ?? DEFAULT_HEALTH_DEADLINE_MS);
    const checks: Record<string, string> = {};
    const polled = async (name: string) => {
      const tq = await client.withDeadline(deadline, () =>
        client.workflowService.describeTaskQueue({
          namespace,
          taskQueue: { name },
          taskQueueType: 1, // WORKFLOW
        }),
      );
      return (tq.pollers?.length ?? 0) > 0 ? 'ok' : 'no worker polling the task queue';
    };
    try {
      const [payments, bulk] = await Promise.all([polled(taskQueue), polled(taskQueuesOf(taskQueue).bulk)]);
      checks.temporal = 'ok';
      checks.worker = payments;
      checks.bulk_worker = bulk;
    } catch {
      checks.temporal = 'unreachable';
      checks.worker = 'unknown';
    }
    const report = { healthy: checks.temporal === 'ok' && checks.worker === 'ok', checks };
    this.last = { at: Date.now(), report };
    return report;
  }
}
