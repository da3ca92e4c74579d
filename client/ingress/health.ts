/**
 * GET /healthz: healthy when Temporal answers and a worker polls the task queue. The check runs
 * at most once per `cacheMs` whatever the number of callers (concurrent callers share the one in
 * flight), and each run has a deadline — so neither a flood of probes nor a Temporal outage
 * turns the unauthenticated health call into load on Temporal or into requests held open.
 */
import type { Client } from '@temporalio/client';

export interface HealthReport {
  healthy: boolean;
  checks: Record<string, string>;
}

export interface HealthCheckOptions {
  client: Client;
  namespace: string;
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
    try {
      const tq = await client.withDeadline(deadline, () =>
        client.workflowService.describeTaskQueue({
          namespace,
          taskQueue: { name: taskQueue },
          taskQueueType: 1, // WORKFLOW
        }),
      );
      checks.temporal = 'ok';
      checks.worker = (tq.pollers?.length ?? 0) > 0 ? 'ok' : 'no worker polling the task queue';
    } catch {
      checks.temporal = 'unreachable';
      checks.worker = 'unknown';
    }
    const report = { healthy: Object.values(checks).every((v) => v === 'ok'), checks };
    this.last = { at: Date.now(), report };
    return report;
  }
}
