/**
 * The bench's one screen: the payments runs, the pools side by side and the goals with met / not
 * met. Everything else (stages, slowest payments, per-round rates) stays in the JSON report.
 */
import type { PoolsFigures } from '../load/pools';
import type { PaymentsBenchResult } from '../load/payments-bench';
import type { PaymentRunResult } from '../load/summarize';
import type { Percentiles } from '../environment/measure';
import { fmt, ms, pct, table } from './format';
import { paymentGoalRows, poolsGoalRows } from './goals';

export interface BenchReport {
  startedAt: string;
  mode: 'quick' | 'full' | 'custom';
  options: Record<string, unknown>;
  loadAverage: { start: number[]; end?: number[] };
  payments?: PaymentsBenchResult;
  pools?: PoolsFigures;
  errors: string[];
}

type AnyRun = Pick<PaymentRunResult, 'cpu' | 'latencyMs' | 'perSecond'> & Partial<PaymentRunResult>;

function runRow(name: string, run: AnyRun, items: number): string[] {
  const answer = run.answerMs ? `${ms(run.answerMs.p50)} / ${ms(run.answerMs.p99)}` : '—';
  return [
    name,
    String(items),
    fmt(run.perSecond),
    `${ms(run.latencyMs.p50)} / ${ms(run.latencyMs.p99)}`,
    answer,
    fmt(run.cpu.nodeCpuMsPerItem),
    fmt(run.cpu.serverCpuMsPerItem),
    pct(run.cpu.otherLoad),
  ];
}

function paymentsTable(p: PaymentsBenchResult): string {
  const c = p.payments.concurrency;
  const rows = [
    runRow(`bare one-activity workflow, ${c} in flight`, p.bare, p.bare.workflows),
    runRow(`payments via ingress, ${c} in flight`, p.payments, p.payments.payments),
    ...(p.direct
      ? [runRow(`payment workflow started directly, ${c} in flight`, p.direct, p.direct.payments)]
      : []),
    runRow(`payments via ingress, paced ${fmt(p.overload.rate, 0)}/s`, p.overload, p.overload.payments),
  ];
  return table(
    [
      'run',
      'items',
      'posted/s',
      'send→posted p50/p99',
      'answer p50/p99',
      'Node CPU ms',
      'server CPU ms',
      'other load',
    ],
    rows,
  );
}

function poolsTable(f: PoolsFigures): string {
  const latency = (p: Percentiles) => `${ms(p.p50)} / ${ms(p.p99)} (${p.n})`;
  return table(
    ['pools side by side', 'value'],
    [
      [`posting p50 / p99, payments alone at ${fmt(f.rate)}/s`, latency(f.alone)],
      ['posting p50 / p99, during export + reconciliation', latency(f.withBulk)],
      ...(f.aloneAfter
        ? [['posting p50 / p99, alone again after them (noise check)', latency(f.aloneAfter)]]
        : []),
      [
        `export of ${f.invoices} invoices: alone / with payments`,
        `${fmt(f.exportAloneSeconds, 2)} / ${fmt(f.exportWithPaymentsSeconds, 2)} s`,
      ],
      [
        `reconciliation of ${f.transactions} payments (seeded in ${fmt(f.seedSeconds, 0)} s)`,
        `${fmt(f.reconcileSeconds, 1)} s, ${f.reconcileDifferences} differences (the bench's own postings)`,
      ],
      [
        'RSS idle / peak: payments pool · bulk pool',
        `${f.rssMb.payments.idle} / ${f.rssMb.payments.peak} · ${f.rssMb.bulk.idle} / ${f.rssMb.bulk.peak} MB`,
      ],
    ],
  );
}

export function renderReport(r: BenchReport): string {
  const out: string[] = [];
  const p = r.payments;
  const machine = p ? `${p.machine.cpus} cores, ${p.machine.memoryGiB} GiB, Node ${p.machine.node}` : '';
  const load = `load ${r.loadAverage.start.join(' ')} at start${r.loadAverage.end ? `, ${r.loadAverage.end.join(' ')} at end` : ''}`;
  out.push(`== npm run bench (${r.mode}) — ${r.startedAt} — ${machine}${machine ? '; ' : ''}${load}`);
  if (p) {
    out.push(
      `Payments — dev server on a ${p.server.storage} (WAL); worker, ingress, IMT simulator and load in one process; CPU per item`,
      '',
      paymentsTable(p),
    );
  }
  if (r.pools)
    out.push(
      '',
      `Pools — compiled payments and bulk workers in their own processes; load ${r.pools.loadAverage.join(' ')} after the side-by-side run`,
      '',
      poolsTable(r.pools),
    );
  const goals = [...(p ? paymentGoalRows(p) : []), ...(r.pools ? poolsGoalRows(r.pools) : [])];
  if (goals.length) out.push('', 'Goals', '', table(['figure', 'measured', 'goal', 'met?'], goals));
  for (const note of p?.notes ?? []) out.push(`Note: ${note}`);
  for (const e of r.errors) out.push(`ERROR: ${e.split('\n')[0]}`);
  return out.join('\n');
}
