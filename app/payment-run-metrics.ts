/**
 * How many payment runs are open in each status, read from Temporal's visibility store
 * (the `PaymentStatus` search attribute) when Prometheus scrapes the ingress — the numbers
 * behind "payments parked too long" and "payments retrying too long" (deploy/prometheus/).
 *
 * Why visibility and not counters kept by the workflows: the state lives in Temporal, so
 * any ingress replica answers the same, a restart loses nothing, and a run that waits for
 * days is still counted. Label values are the status enum only (bounded).
 *
 * Cost: two count queries per status per refresh; results are kept for `cacheMs` so that
 * several scrapers (or a fast scrape interval) do not multiply the load on visibility.
 */
import type { Client } from '@temporalio/client';
import { Gauge } from 'prom-client';
import { PaymentStatus, SA } from '../domain';
import type { ServiceMetrics } from './metrics';

/** A run in one status for longer than this counts as stuck in it (the "too long" alerts use it). */
export const PAYMENT_RUN_STUCK_AFTER_MS = 15 * 60_000;

export interface PaymentRunWatch {
  client: Client;
  taskQueue: string;
  stuckAfterMs?: number;
  cacheMs?: number;
}

const quote = (value: string) => `'${value.replace(/'/g, "\\'")}'`;

/** Registers `imt_ic_payment_runs{status}` and `imt_ic_payment_runs_stuck{status}` on the registry. */
export function watchPaymentRuns(metrics: ServiceMetrics, watch: PaymentRunWatch): void {
  const stuckAfterMs = watch.stuckAfterMs ?? PAYMENT_RUN_STUCK_AFTER_MS;
  const cacheMs = watch.cacheMs ?? 15_000;
  const statuses = Object.values(PaymentStatus);
  let cached: { at: number; open: Map<string, number>; stuck: Map<string, number> } | undefined;
  let pending: Promise<NonNullable<typeof cached>> | undefined;

  const count = async (query: string) => (await watch.client.workflow.count(query)).count;
  const refresh = async () => {
    const open = new Map<string, number>();
    const stuck = new Map<string, number>();
    const cutoff = new Date(Date.now() - stuckAfterMs).toISOString();
    for (const status of statuses) {
      const base = `TaskQueue = ${quote(watch.taskQueue)} AND ExecutionStatus = 'Running' AND ${SA.PaymentStatus.name} = ${quote(status)}`;
      open.set(status, await count(base));
      stuck.set(status, await count(`${base} AND StartTime < ${quote(cutoff)}`));
    }
    return { at: Date.now(), open, stuck };
  };
  const current = async () => {
    if (cached && Date.now() - cached.at < cacheMs) return cached;
    pending ??= refresh().finally(() => (pending = undefined));
    cached = await pending;
    return cached;
  };

  new Gauge({
    name: 'imt_ic_payment_runs',
    help: 'Open payment runs by status (Temporal visibility, PaymentStatus search attribute).',
    labelNames: ['status'],
    registers: [metrics.registry],
    async collect() {
      const { open } = (await current().catch(() => cached)) ?? { open: new Map<string, number>() };
      for (const status of statuses) this.set({ status }, open.get(status) ?? 0);
    },
  });
  new Gauge({
    name: 'imt_ic_payment_runs_stuck',
    help: `Open payment runs by status that started more than ${stuckAfterMs / 60_000} minutes ago.`,
    labelNames: ['status'],
    registers: [metrics.registry],
    async collect() {
      // Visibility unreachable: the last numbers (or none) rather than a failed scrape.
      const { stuck } = (await current().catch(() => cached)) ?? { stuck: new Map<string, number>() };
      for (const status of statuses) this.set({ status }, stuck.get(status) ?? 0);
    },
  });
}
