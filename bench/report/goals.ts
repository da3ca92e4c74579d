/**
 * The figures issue 13 (and issue 2's two kept targets) set goals for, each as
 * figure | measured | goal | met?, from one run's results.
 */
import type { ExportFigures } from '../load/export';
import type { PaymentsBenchResult } from '../load/payments-bench';
import type { PaymentRunResult } from '../load/summarize';
import { fmt, met, ms } from './format';

export const GOALS = {
  ingressOverDirect: 0.95,
  cpuOverhead: 1.15,
  answerP99Ms: 1000,
  builderRatio: 0.8,
  rssIdleMb: 150,
  rssPeakMb: 200,
  /** Issue 2: payments/s ÷ bare ceiling, actions per happy-path payment. */
  overBare: 0.7,
  actions: 3,
};

/** "Start 1.00; PollWorkflowExecutionUpdate 1.00; Describe 2.00 (2.00 NOT_FOUND)" per payment. */
export function rpcPerItem(run: PaymentRunResult): string {
  return Object.entries(run.rpc)
    .map(([method, u]) => {
      const errors = Object.entries(u.errors)
        .map(([k, v]) => `${fmt(v / (u.calls / u.perItem), 2)} ${k}`)
        .join(', ');
      const name = method.replace('WorkflowExecution', 'WE');
      return `${name} ${fmt(u.perItem, 2)}${errors ? ` (${errors})` : ''}`;
    })
    .join('; ');
}

function statuses(run: PaymentRunResult): string {
  return Object.entries(run.statuses)
    .map(([k, v]) => `${k}×${v}`)
    .join(' ');
}

export function paymentGoalRows(p: PaymentsBenchResult): string[][] {
  const { payments, direct, overload, bare } = p;
  const rows: string[][] = [];
  if (direct) {
    const ratio = payments.perSecond / direct.perSecond;
    const cpu = payments.cpu.nodeCpuMsPerItem / direct.cpu.nodeCpuMsPerItem;
    rows.push(
      [
        'payments via ingress ÷ payment workflow started directly',
        `${fmt(payments.perSecond)} ÷ ${fmt(direct.perSecond)} /s = ${fmt(ratio, 2)}`,
        `≥ ${GOALS.ingressOverDirect}`,
        met(ratio >= GOALS.ingressOverDirect),
      ],
      [
        'Node CPU per payment, ingress vs direct start',
        `${fmt(payments.cpu.nodeCpuMsPerItem)} vs ${fmt(direct.cpu.nodeCpuMsPerItem)} ms (+${fmt((cpu - 1) * 100, 0)}%)`,
        `within ${Math.round((GOALS.cpuOverhead - 1) * 100)}%`,
        met(cpu <= GOALS.cpuOverhead),
      ],
    );
  }
  // One update-with-start per payment (ExecuteMultiOperation: the start, IC's delivery and,
  // usually, the run's answer in one call; else one long-poll for it). A describe is allowed only where that call was cut before the
  // answer (cancelled): the memo's conflict check (contracts B). On the happy path there is none.
  const describes = payments.rpc.DescribeWorkflowExecution?.perItem ?? 0;
  const withStart = payments.rpc.ExecuteMultiOperation;
  const closedWindows = withStart
    ? (withStart.errors.CANCELLED ?? 0) / (withStart.calls / withStart.perItem)
    : 0;
  const starts = (withStart?.perItem ?? 0) + (payments.rpc.StartWorkflowExecution?.perItem ?? 0);
  const polls = payments.rpc.PollWorkflowExecutionUpdate?.perItem ?? 0;
  rows.push(
    [
      `Temporal RPCs per payment at the ingress, ${payments.concurrency} in flight`,
      rpcPerItem(payments),
      'one update-with-start (+ at most one long-poll); no describe on the happy path (only after a cut call)',
      met(starts <= 1.01 && polls <= 1.01 && describes <= closedWindows + 0.01),
    ],
    [
      `HTTP answer at ${fmt(overload.rate, 0)}/s offered (2× the ${fmt(p.sustainable)}/s sustained), INGRESS_MAX_IN_FLIGHT ${p.overloadMaxInFlight}`,
      `p50 ${ms(overload.answerMs.p50)}, p99 ${ms(overload.answerMs.p99)}; ${statuses(overload)}`,
      `p99 ≤ ${GOALS.answerP99Ms} ms (202 or 429)`,
      met(overload.answerMs.p99 <= GOALS.answerP99Ms),
    ],
    [
      'issue 2: payments via ingress ÷ bare one-activity workflow',
      `${fmt(payments.perSecond)} ÷ ${fmt(bare.perSecond)} /s = ${fmt(payments.perSecond / bare.perSecond, 2)}`,
      `≥ ${GOALS.overBare}`,
      met(payments.perSecond / bare.perSecond >= GOALS.overBare),
    ],
    [
      'issue 2: Temporal actions per happy-path payment',
      `${fmt(p.actions.happy.actions, 2)} (+ ${fmt(p.actions.happy.upserts, 0)} upsert; ${p.actions.happyPath}/${p.actions.sampled} sampled)`,
      `≤ ${GOALS.actions}`,
      met(p.actions.maxActionsHappy <= GOALS.actions),
    ],
  );
  return rows;
}

export function exportGoalRows(figures: ExportFigures): string[][] {
  const n = (key: string) => Number(figures[key]);
  const ratio = n('ratio builder/raw');
  const idle = n('worker RSS idle (MB)');
  const peak = n('worker peak RSS (MB)');
  return [
    [
      'invoice-file builder ÷ raw csv-stringify of the same rows',
      `${n('file builder rows/s')} ÷ ${n('raw csv-stringify rows/s')} rows/s = ${ratio}`,
      `≥ ${GOALS.builderRatio}`,
      met(ratio >= GOALS.builderRatio),
    ],
    [
      `export worker RSS, idle / peak over a ${n('invoices listed')}-invoice export`,
      `${idle} / ${peak} MB`,
      `≤ ${GOALS.rssIdleMb} / ≤ ${GOALS.rssPeakMb} MB`,
      idle <= GOALS.rssIdleMb && peak <= GOALS.rssPeakMb
        ? 'met'
        : `NOT met (idle ${idle <= GOALS.rssIdleMb ? 'met' : 'not'}, peak ${peak <= GOALS.rssPeakMb ? 'met' : 'not'})`,
    ],
  ];
}
