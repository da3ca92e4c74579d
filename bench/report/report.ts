/**
 * The bench's one screen: the payments runs, the export figures and the goals with met / not
 * met. Everything else (stages, slowest payments, per-round rates) stays in the JSON report.
 */
import type { ExportFigures } from '../load/export';
import type { PaymentsBenchResult } from '../load/payments-bench';
import type { PaymentRunResult } from '../load/summarize';
import { fmt, ms, pct, table } from './format';
import { exportGoalRows, paymentGoalRows } from './goals';

export interface BenchReport {
  startedAt: string;
  mode: 'quick' | 'full' | 'custom';
  options: Record<string, unknown>;
  loadAverage: { start: number[]; end?: number[] };
  payments?: PaymentsBenchResult;
  export?: ExportFigures;
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

const EXPORT_KEYS = [
  'invoices in file',
  'wall time (s)',
  'extract + build (s)',
  'upload (s)',
  'history events / bytes',
  'extraction incl. IMT paging MB/s',
];

function exportTable(figures: ExportFigures): string {
  return table(
    ['export', 'value'],
    EXPORT_KEYS.filter((k) => k in figures).map((k) => [k, String(figures[k])]),
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
  if (r.export)
    out.push(
      '',
      `Export — ${r.export['invoices listed']} invoices, worker in its own process`,
      '',
      exportTable(r.export),
    );
  const goals = [...(p ? paymentGoalRows(p) : []), ...(r.export ? exportGoalRows(r.export) : [])];
  if (goals.length) out.push('', 'Goals', '', table(['figure', 'measured', 'goal', 'met?'], goals));
  for (const note of p?.notes ?? []) out.push(`Note: ${note}`);
  for (const e of r.errors) out.push(`ERROR: ${e.split('\n')[0]}`);
  return out.join('\n');
}
