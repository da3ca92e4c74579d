/**
 * `npm run bench` — the benchmark (issue 2, item 9; not a test): the payments benchmark
 * (bench/payments.ts), then the export benchmark when bench/export.ts exists. Prints a
 * report of figures against their targets and writes it as JSON to
 * bench-output/bench-<timestamp>.json. Missed targets are reported, not failed; errors
 * (a payment not posted, a crash) exit non-zero.
 *
 * Environment: BENCH_PAYMENTS (1000; 0 = skip the payments part), BENCH_CONCURRENCY (200),
 * BENCH_LATENCY_SECONDS (20), BENCH_LATENCY_RATE (50), BENCH_HISTORY_SAMPLE (50),
 * BENCH_WARMUP (50), BENCH_DIRECT (payments/2; 0 = skip), BENCH_TUNED (1 = also a tuned
 * worker variant), BENCH_LOG_LEVEL (warn), BENCH_SERVER_LOG_LEVEL (error), BENCH_ROUNDS (2),
 * BENCH_EXPORT_INVOICES (100000; 0 = skip export), BENCH_RENDER=<bench-output/….json> (re-print a saved report).
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  runPaymentsBench,
  type PaymentRunResult,
  type PaymentsBenchResult,
  type RpcUse,
  type Stage,
} from './payments';

type ExportFigures = Record<string, number | string>;
type ExportBench = (opts: { invoices: number }) => Promise<ExportFigures>;
interface ExportBenchModule {
  runExportBench?: ExportBench;
  /** Issue 13's export goals, figure | measured | goal | met?, as a printed table. */
  exportGoalRows?: (figures: ExportFigures) => string[][];
  goalsTable?: (rows: string[][]) => string;
}

const TARGET_PAYMENTS_PER_S = 100;
const TARGET_RATIO = 0.7;
const TARGET_P99_MS = 250;
const TARGET_ACTIONS = 3;

// ---------------------------------------------------------------------------
// Formatting

function fmt(n: number | undefined, digits = 1): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  return n.toFixed(digits);
}

function ms(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? '—' : `${Math.round(n)} ms`;
}

function pct(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? '—' : `${Math.round(n * 100)}%`;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (c ?? '').padEnd(widths[i])).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

const met = (ok: boolean) => (ok ? 'met' : 'NOT met');

function latencyTriple(run: PaymentRunResult): string {
  return `${ms(run.latencyMs.p50)} / ${ms(run.latencyMs.p95)} / ${ms(run.latencyMs.p99)}`;
}

function rpcSummary(rpc: Record<string, RpcUse>): string {
  return Object.entries(rpc)
    .map(([m, u]) => {
      const errors = Object.entries(u.errors)
        .map(([k, v]) => `${fmt(v / (u.calls / u.perItem), 1)} ${k}`)
        .join(', ');
      return `${m.replace('WorkflowExecution', 'WE')} ${fmt(u.perItem, 2)}${errors ? ` (${errors})` : ''}`;
    })
    .join('; ');
}

// ---------------------------------------------------------------------------
// Report

interface SummaryRow {
  figure: string;
  value: string;
  target: string;
  ratio: string;
  met: string;
}

const cpuPerItem = (c: PaymentRunResult['cpu']) => c.nodeCpuMsPerItem + (c.serverCpuMsPerItem ?? 0);

/** Bare CPU per workflow ÷ CPU per payment: the throughput ratio a CPU-bound machine allows. */
function cpuRatio(v: PaymentsBenchResult['variants'][number]): number {
  return cpuPerItem(v.bare.cpu) / cpuPerItem(v.payments.cpu);
}

function summaryRows(r: PaymentsBenchResult): SummaryRow[] {
  const d = r.variants[0];
  const rows: SummaryRow[] = [
    {
      figure: `Bare ceiling: one-activity workflow, ${d.bare.concurrency} in flight, ${d.bare.workflows} workflows`,
      value: `${fmt(d.bare.perSecond)} workflows/s`,
      target: '—',
      ratio: '—',
      met: '—',
    },
    {
      figure: `Payments sustained (HTTP ingress → posted in IMT), ${d.payments.concurrency} in flight, ${d.payments.payments} payments`,
      value: `${fmt(d.payments.perSecond)} payments/s`,
      target: `≥ ${TARGET_PAYMENTS_PER_S}/s (issue)`,
      ratio: fmt(d.payments.perSecond / TARGET_PAYMENTS_PER_S, 2),
      met: `${met(d.payments.perSecond >= TARGET_PAYMENTS_PER_S)} (beyond this 2-core machine; see the ratio)`,
    },
    {
      figure: 'Payments/s ÷ bare ceiling (same run, same machine)',
      value: fmt(d.ratio, 2),
      target: `≥ ${TARGET_RATIO}`,
      ratio: fmt(d.ratio / TARGET_RATIO, 2),
      met: met(d.ratio >= TARGET_RATIO),
    },
    {
      figure: '  the same to 99% done (one retried straggler does not count): payments/s ÷ bare/s',
      value: `${fmt(d.payments.perSecond99)} ÷ ${fmt(d.bare.perSecond99)} = ${fmt(d.payments.perSecond99 / d.bare.perSecond99, 2)}`,
      target: `≥ ${TARGET_RATIO}`,
      ratio: fmt(d.payments.perSecond99 / d.bare.perSecond99 / TARGET_RATIO, 2),
      met: met(d.payments.perSecond99 / d.bare.perSecond99 >= TARGET_RATIO),
    },
    {
      figure: '  the same ratio from CPU time per item (less sensitive to other load)',
      value: fmt(cpuRatio(d), 2),
      target: `≥ ${TARGET_RATIO}`,
      ratio: fmt(cpuRatio(d) / TARGET_RATIO, 2),
      met: met(cpuRatio(d) >= TARGET_RATIO),
    },
    {
      figure: `Latency at ${fmt(r.latency.rate, 0)}/s paced: p50 / p95 / p99 (send → posted)`,
      value: latencyTriple(r.latency),
      target: `p99 ≤ ${TARGET_P99_MS} ms`,
      ratio: fmt(r.latency.latencyMs.p99 / TARGET_P99_MS, 2),
      met: met(r.latency.latencyMs.p99 <= TARGET_P99_MS),
    },
    {
      figure: `  rate achieved in that paced run`,
      value: `${fmt(r.latency.perSecond)} payments/s`,
      target: `${fmt(r.latency.rate, 0)}/s`,
      ratio: fmt(r.latency.perSecond / (r.latency.rate ?? 1), 2),
      met: r.latencySustained ? 'sustained' : 'NOT sustained',
    },
  ];
  const s = r.latencyAtSustainableRate;
  if (s) {
    rows.push({
      figure: `Latency at ${fmt(s.rate, 0)}/s paced (a rate this machine sustains): p50 / p95 / p99`,
      value: latencyTriple(s),
      target: `p99 ≤ ${TARGET_P99_MS} ms`,
      ratio: fmt(s.latencyMs.p99 / TARGET_P99_MS, 2),
      met: `${met(s.latencyMs.p99 <= TARGET_P99_MS)} (achieved ${fmt(s.perSecond)}/s)`,
    });
  }
  const a = r.actions;
  const h = a.happy;
  const departures = Object.entries(a.departures)
    .map(([k, v]) => `${k} ×${v}`)
    .join('; ');
  rows.push(
    {
      figure: `Temporal actions per happy-path payment (${a.happyPath} of ${a.sampled} sampled histories)`,
      value: `${fmt(h.actions, 2)} (start ${fmt(h.workflowStarted, 0)}, activities ${fmt(h.activitiesScheduled, 0)}, signals ${fmt(h.signals, 0)}, timers ${fmt(h.timers, 0)}, updates ${fmt(h.updates, 0)}; max ${a.maxActionsHappy})`,
      target: `≤ ${TARGET_ACTIONS}`,
      ratio: fmt(h.actions / TARGET_ACTIONS, 2),
      met: met(a.maxActionsHappy <= TARGET_ACTIONS),
    },
    {
      figure: '  search-attribute upserts per happy-path payment (informative; not counted above)',
      value: `${fmt(h.upserts, 2)} (${fmt(h.events, 0)} history events per payment)`,
      target: '—',
      ratio: '—',
      met: `Temporal Cloud bills upserts: ${fmt(h.actions + h.upserts, 0)} billable, ${met(h.actions + h.upserts <= TARGET_ACTIONS)} even so`,
    },
  );
  if (a.happyPath < a.sampled || departures) {
    rows.push({
      figure: `  all ${a.sampled} sampled payments (incl. retries under overload)`,
      value: `${fmt(a.all.actions, 2)} actions, max ${a.maxActionsAll}${departures ? `; ${departures}` : ''}`,
      target: '—',
      ratio: '—',
      met: '—',
    });
  }
  for (const v of r.variants.slice(1)) {
    rows.push(
      {
        figure: `Tuned worker "${v.name}": bare ceiling (same tuning)`,
        value: `${fmt(v.bare.perSecond)} workflows/s`,
        target: '—',
        ratio: '—',
        met: '—',
      },
      {
        figure: `Tuned worker "${v.name}": payments sustained / ratio`,
        value: `${fmt(v.payments.perSecond)} payments/s / ${fmt(v.ratio, 2)}`,
        target: `≥ ${TARGET_RATIO}`,
        ratio: fmt(v.ratio / TARGET_RATIO, 2),
        met: met(v.ratio >= TARGET_RATIO),
      },
    );
  }
  return rows;
}

function runRow(
  name: string,
  perSecond: number,
  unit: string,
  run: { cpu: PaymentRunResult['cpu']; rpc: Record<string, RpcUse>; perRound: number[] },
): string[] {
  const c = run.cpu;
  const ours = c.nodeCpuSeconds + (c.serverCpuSeconds ?? 0);
  const rounds = run.perRound.length > 1 ? ` (rounds ${run.perRound.map((x) => fmt(x)).join(', ')})` : '';
  return [
    name,
    `${fmt(perSecond)} ${unit}${rounds}`,
    fmt(c.nodeCpuMsPerItem, 1),
    fmt(c.serverCpuMsPerItem, 1),
    fmt(c.nodeCpuMsPerItem + (c.serverCpuMsPerItem ?? 0), 1),
    pct(ours / (c.wallSeconds * c.cores)),
    pct(c.otherLoad),
    pct(c.eventLoopUtilization),
    rpcSummary(run.rpc),
  ];
}

function stageTable(columns: { name: string; stages: Stage[] }[]): string {
  const names = columns[0]?.stages.map((s) => s.name) ?? [];
  for (const c of columns) for (const s of c.stages) if (!names.includes(s.name)) names.push(s.name);
  return table(
    ['stage (mean / p95 over the sampled histories)', ...columns.map((c) => c.name)],
    names.map((n) => [
      n,
      ...columns.map((c) => {
        const s = c.stages.find((x) => x.name === n);
        return s ? `${ms(s.ms.mean)} / ${ms(s.ms.p95)}` : '—';
      }),
    ]),
  );
}

/** Where the throughput goes, from the CPU, RPC and history figures of this run. */
function analysis(r: PaymentsBenchResult): string[] {
  const d = r.variants[0];
  const cpuPer = cpuPerItem;
  const cores = d.payments.cpu.cores;
  const lines: string[] = [];
  const payCpu = cpuPer(d.payments.cpu);
  const bareCpu = cpuPer(d.bare.cpu);
  const used =
    (d.payments.cpu.nodeCpuSeconds + (d.payments.cpu.serverCpuSeconds ?? 0)) /
    (d.payments.cpu.wallSeconds * cores);
  const busy = (d.payments.cpu.machineBusySeconds ?? 0) / (d.payments.cpu.wallSeconds * cores);
  lines.push(
    `- During the payments run the machine was ${pct(busy)} busy: this process and the Temporal server ${pct(used)} of the ${cores} cores,` +
      ` other processes ${pct(d.payments.cpu.otherLoad)}. A payment costs ${fmt(payCpu, 1)} ms of CPU (${fmt(d.payments.cpu.nodeCpuMsPerItem, 1)} in` +
      ` Node: ingress + worker + simulator + load generator; ${fmt(d.payments.cpu.serverCpuMsPerItem, 1)} in the server), a bare workflow ${fmt(bareCpu, 1)} ms` +
      ` (${fmt(d.bare.cpu.nodeCpuMsPerItem, 1)} + ${fmt(d.bare.cpu.serverCpuMsPerItem, 1)}). On a CPU-bound machine that allows a ratio of ${fmt(bareCpu / payCpu, 2)}; measured ${fmt(d.ratio, 2)}.`,
  );
  if (d.direct) {
    const directCpu = cpuPer(d.direct.cpu);
    lines.push(
      `- Split of the extra ${fmt(payCpu - bareCpu, 1)} ms/payment: the payment workflow itself, started directly with the ingress's options` +
        ` (payload, memo, 4 search attributes at start, 1 upsert at close, the real HTTP call to IMT) costs ${fmt(directCpu, 1)} ms` +
        ` (${fmt(d.direct.cpu.nodeCpuMsPerItem, 1)} Node + ${fmt(d.direct.cpu.serverCpuMsPerItem, 1)} server) = ${fmt(directCpu - bareCpu, 1)} ms more than bare` +
        ` and runs at ${fmt(d.direct.perSecond)}/s (${fmt(d.direct.perSecond / d.bare.perSecond, 2)} of bare; CPU ratio ${fmt(bareCpu / directCpu, 2)});` +
        ` the ingress path adds ${fmt(payCpu - directCpu, 1)} ms (${fmt(d.payments.cpu.nodeCpuMsPerItem - d.direct.cpu.nodeCpuMsPerItem, 1)} Node + ` +
        `${fmt((d.payments.cpu.serverCpuMsPerItem ?? 0) - (d.direct.cpu.serverCpuMsPerItem ?? 0), 1)} server).`,
    );
  }
  const describe = d.payments.rpc.DescribeWorkflowExecution;
  const probe = r.describeProbe;
  if (describe) {
    const notFound = (describe.errors.NOT_FOUND ?? 0) / d.payments.payments;
    const polls = describe.perItem - notFound;
    let cost = '';
    if (probe) {
      const found = probe.found.nodeCpuMsPerCall + (probe.found.serverCpuMsPerCall ?? 0);
      const missing = probe.notFound.nodeCpuMsPerCall + (probe.notFound.serverCpuMsPerCall ?? 0);
      const perPayment = polls * found + notFound * missing;
      cost =
        ` Measured alone, a describe costs ${fmt(found, 2)} ms CPU (${fmt(missing, 2)} ms when NOT_FOUND), so the describes cost` +
        ` ≈ ${fmt(perPayment, 1)} ms per payment at this load (${pct(perPayment / payCpu)} of a payment's CPU).`;
    }
    lines.push(
      `- The ingress makes ${fmt(describe.perItem, 1)} DescribeWorkflowExecution calls per payment under load: ${fmt(notFound, 1)} NOT_FOUND` +
        ` (pendingReversalEvents checks void-/ach-reject-<id> before every start) and ${fmt(polls, 1)} status polls` +
        ` (waitForOutcome describes at 300 ms, 600 ms, then every 1 s until the close, so they grow with the latency: p50 answer ${ms(d.payments.answerMs.p50)}).${cost}`,
    );
  }
  const stage = (run: PaymentRunResult | undefined, prefix: string) =>
    run?.stages.find((s) => s.name.startsWith(prefix));
  const wq = stage(d.payments, 'workflow task 1: queue');
  const ing = stage(d.payments, 'HTTP send');
  if (wq && ing) {
    lines.push(
      `- At ${d.payments.concurrency} in flight the latency is queueing (Little's law: ${d.payments.concurrency} / ${fmt(d.payments.perSecond)}/s ≈ ${ms(((d.payments.concurrency ?? 0) / d.payments.perSecond) * 1000)}): ` +
        `the first workflow task waits ${ms(wq.ms.mean)} on average for a worker slot and the server; the ingress part before the start (HTTP, zod, 2 describes, start) takes ${ms(ing.ms.mean)}.`,
    );
  }
  const lat = r.latencyAtSustainableRate ?? r.latency;
  const latIng = stage(lat, 'HTTP send');
  const latAct = stage(lat, 'activity: running');
  const latWq = stage(lat, 'workflow task 1: queue');
  if (latIng && latAct && latWq) {
    lines.push(
      `- In the paced run at ${fmt(lat.rate, 0)}/s (p50 ${ms(lat.latencyMs.p50)}): before the start ${ms(latIng.ms.mean)}, first workflow task queue ${ms(latWq.ms.mean)},` +
        ` the IMT call ${ms(latAct.ms.mean)} — see the stage table.`,
    );
  }
  return lines;
}

/** What to change in the product, with this run's numbers. */
function proposals(r: PaymentsBenchResult): string[] {
  const d = r.variants[0];
  const payCpu = cpuPerItem(d.payments.cpu);
  const bareCpu = cpuPerItem(d.bare.cpu);
  const describe = d.payments.rpc.DescribeWorkflowExecution;
  const probe = r.describeProbe;
  const notFound = describe ? (describe.errors.NOT_FOUND ?? 0) / d.payments.payments : 0;
  const polls = describe ? describe.perItem - notFound : 0;
  const pollCpu = probe
    ? polls * (probe.found.nodeCpuMsPerCall + (probe.found.serverCpuMsPerCall ?? 0))
    : NaN;
  const checkCpu = probe
    ? notFound * (probe.notFound.nodeCpuMsPerCall + (probe.notFound.serverCpuMsPerCall ?? 0))
    : NaN;
  const visibility = d.direct ? cpuPerItem(d.direct.cpu) - bareCpu : NaN;
  return [
    `Where the ingress and the workflow could be cheaper (proposals, not made here; ratio ${d.ratio >= TARGET_RATIO ? 'met' : 'NOT met'} in this run):`,
    `1. client/ingress/payments.ts waitForOutcome polls describe at 300 ms, 600 ms, then every 1 s while the result long-poll runs:`,
    `   ${fmt(polls, 1)} polls per payment here ≈ ${fmt(pollCpu, 1)} ms CPU of the ${fmt(payCpu, 1)} ms a payment costs, and the count grows with`,
    `   the latency exactly when the machine is saturated (up to ~6 per payment within the 5 s confirm wait). Without them a`,
    `   payment would cost ≈ ${fmt(payCpu - pollCpu, 1)} ms → CPU-predicted ratio ${fmt(bareCpu / (payCpu - pollCpu), 2)} (now ${fmt(bareCpu / payCpu, 2)}). Options: poll for`,
    '   NEEDS_ATTENTION even less often (the rare path), or replace start + long-poll +',
    '   polls with one executeUpdateWithStart whose update returns once the posting is resolved (POSTED or NEEDS_ATTENTION):',
    '   one RPC and no polling, at +1 action (start + activity + update = 3, within the target; 4 billable with the upsert).',
    `2. client/ingress/reversals.ts pendingReversalEvents: ${fmt(notFound, 1)} NOT_FOUND describes before every start ≈ ${fmt(checkCpu, 1)} ms CPU per payment`,
    '   and one round-trip before the start. Minor; keep it (it is what makes "voided before it arrived → never posted" hold).',
    `3. The payment workflow itself costs ${fmt(visibility, 1)} ms CPU more than the bare one in this run (payload, memo and 4 search`,
    '   attributes at start, the PaymentStatus upsert at the close, the real IMT call). Keep them: they are how operators find',
    '   payments, and on a real cluster visibility has its own store instead of sharing one SQLite file and two cores with the worker.',
    ...stallProposal(r),
  ];
}

/** When an overloaded run lost a posting attempt to the 30 s start-to-close timeout. */
function stallProposal(r: PaymentsBenchResult): string[] {
  const d = r.variants[0];
  const stalled = [d.payments, ...(d.direct ? [d.direct] : []), r.latency]
    .flatMap((run) => run.slowest)
    .filter((x) => x.departures.some((dep) => dep.includes('start-to-close')));
  if (stalled.length === 0) return [];
  const repeats = r.imtPostCalls['200'] ?? 0;
  return [
    `4. workflows/payment.ts: under overload ${stalled.length} of the slowest payments lost an attempt to the 30 s start-to-close timeout`,
    `   (posted after ${stalled.map((x) => `${fmt(x.latencyMs / 1000, 1)} s`).join(', ')}); IMT answered ${repeats} repeated posting(s) (200) in the whole run,`,
    `   so ${repeats > 0 ? 'at least some of those attempts had reached IMT and only their completion was late' : 'those attempts never reached IMT (the task was lost or queued, not the call)'}.`,
    '   A start-to-close of ~15 s (the IMT client times out at 10 s) would halve that stall; it is an overload effect, not a',
    '   happy-path cost.',
  ];
}

const SCALING = [
  'Scaling past one machine:',
  '- Every figure above is one 2-core machine running the Temporal server, the worker, the ingress, the IMT simulator and the',
  '  load generator together; they compete for the same two cores (see the CPU columns). ≥ 100 payments/s is a deployment',
  '  target, not a single-box one.',
  '- Workers: run several `npm run worker` processes on other machines against one Temporal cluster and the same task queue;',
  '  Temporal spreads workflow and activity tasks across them. Nothing to change in the code.',
  '- Ingress: stateless (dedup is the workflow ID `payment-<transaction_id>`, state lives in Temporal) — run N instances behind',
  '  a load balancer.',
  '- Workflows: one per payment with no shared state, so they scale horizontally with history shards; the server side is a',
  '  real Temporal cluster (Postgres/Cassandra, more history shards) or Temporal Cloud instead of the dev server on SQLite.',
  '- IMT becomes the limit: the posting activity should then be rate-limited to what IMT accepts (maxActivitiesPerSecond / a',
  '  task-queue rate limit), which Temporal provides without code changes in the workflow.',
];

function paymentsReport(r: PaymentsBenchResult): string {
  const d = r.variants[0];
  const out: string[] = [];
  out.push(
    '',
    `== Payments benchmark — ${r.startedAt} — ${r.machine.cpus} cores (${r.machine.cpuModel}), ${r.machine.memoryGiB} GiB, Node ${r.machine.node}`,
    `   Temporal dev server on a ${r.server.storage} (${r.server.pragmas.join(', ')}); worker, ingress and IMT simulator in this process;` +
      ` worker on SDK defaults${r.variants.length > 1 ? ' (+ tuned variant)' : ''}; log level ${r.logLevel}.`,
    `   Throughput runs: ${d.bare.rounds} interleaved round(s) of bare / ingress${d.direct ? ' / direct' : ''}, summed (items ÷ Σ round durations).`,
    '',
    table(
      ['figure', 'value', 'target', 'ratio', 'met?'],
      summaryRows(r).map((row) => [row.figure, row.value, row.target, row.ratio, row.met]),
    ),
    '',
    'Runs (CPU per item = CPU time / items; "ours" = this process + the Temporal server, as a share of all cores):',
  );
  const runs: string[][] = [];
  for (const v of r.variants) {
    const tag = r.variants.length > 1 ? ` [${v.name}]` : '';
    runs.push(
      runRow(`bare workflow, ${v.bare.concurrency} in flight${tag}`, v.bare.perSecond, 'wf/s', v.bare),
    );
    runs.push(
      runRow(
        `payments via ingress, ${v.payments.concurrency} in flight${tag}`,
        v.payments.perSecond,
        '/s',
        v.payments,
      ),
    );
    if (v.direct)
      runs.push(
        runRow(`payment workflow, direct start (no ingress)${tag}`, v.direct.perSecond, '/s', v.direct),
      );
  }
  runs.push(
    runRow(`payments via ingress, paced ${fmt(r.latency.rate, 0)}/s`, r.latency.perSecond, '/s', r.latency),
  );
  if (r.latencyAtSustainableRate) {
    const s = r.latencyAtSustainableRate;
    runs.push(runRow(`payments via ingress, paced ${fmt(s.rate, 0)}/s`, s.perSecond, '/s', s));
  }
  out.push(
    table(
      [
        'run',
        'rate',
        'Node CPU ms/item',
        'server CPU ms/item',
        'total',
        'ours',
        'other load',
        'event loop',
        'Temporal RPCs per item (ingress/client side)',
      ],
      runs,
    ),
    '',
    table(
      [
        'answers and latency (send → posted; send → HTTP answer)',
        'p50',
        'p95',
        'p99',
        'max',
        'answer p50 / p99',
        'statuses',
      ],
      [
        d.payments,
        ...(d.direct ? [d.direct] : []),
        r.latency,
        ...(r.latencyAtSustainableRate ? [r.latencyAtSustainableRate] : []),
      ].map((run) => [
        `${run.kind === 'direct' ? 'direct start' : 'ingress'}, ${run.rate !== undefined ? `paced ${fmt(run.rate, 0)}/s` : `${run.concurrency} in flight`}, ${run.payments} payments`,
        ms(run.latencyMs.p50),
        ms(run.latencyMs.p95),
        ms(run.latencyMs.p99),
        ms(run.latencyMs.max),
        `${ms(run.answerMs.p50)} / ${ms(run.answerMs.p99)}`,
        Object.entries(run.statuses)
          .map(([k, v]) => `${k}×${v}`)
          .join(' '),
      ]),
    ),
    '',
    'Where the time goes (from the event timestamps of sampled histories):',
    stageTable([
      { name: 'bare', stages: d.bare.stages },
      { name: `payments ${d.payments.concurrency} in flight`, stages: d.payments.stages },
      { name: `paced ${fmt(r.latency.rate, 0)}/s`, stages: r.latency.stages },
      ...(r.latencyAtSustainableRate
        ? [
            {
              name: `paced ${fmt(r.latencyAtSustainableRate.rate, 0)}/s`,
              stages: r.latencyAtSustainableRate.stages,
            },
          ]
        : []),
    ]),
  );
  const slow = [d.payments, ...(d.direct ? [d.direct] : []), r.latency].map(
    (run) =>
      `${run.kind === 'direct' ? 'direct' : run.rate !== undefined ? `paced ${fmt(run.rate, 0)}/s` : 'ingress'}: ` +
      run.slowest
        .map(
          (x) =>
            `${fmt(x.latencyMs / 1000, 1)} s${x.departures.length ? ` (${x.departures.join(', ')})` : ''}`,
        )
        .join(', '),
  );
  out.push(
    '',
    `Slowest payments (send → posted, with what their histories show): ${slow.join('; ')}.`,
    `IMT simulator post-payment calls in the whole run, by status: ${Object.entries(r.imtPostCalls)
      .map(([k, v]) => `${k}×${v}`)
      .join(' ')} (200 = a repeated posting answered from C3 idempotency).`,
  );
  if (r.describeProbe) {
    const p = r.describeProbe;
    out.push(
      '',
      `DescribeWorkflowExecution alone (${p.calls} calls, ${p.concurrency} in flight): existing workflow ${fmt(p.found.perSecond, 0)}/s,` +
        ` ${fmt(p.found.nodeCpuMsPerCall, 2)} ms Node + ${fmt(p.found.serverCpuMsPerCall, 2)} ms server CPU per call;` +
        ` NOT_FOUND ${fmt(p.notFound.perSecond, 0)}/s, ${fmt(p.notFound.nodeCpuMsPerCall, 2)} + ${fmt(p.notFound.serverCpuMsPerCall, 2)} ms.`,
    );
  }
  out.push('', 'Analysis:', ...analysis(r));
  out.push('', ...proposals(r));
  out.push(
    '',
    `Tuning: ${
      r.variants.length > 1
        ? `the tuned variant(s) applied the same worker options to the bare worker and the payments worker (${r.variants
            .slice(1)
            .map((v) => `${v.name}: ${JSON.stringify(v.tuning)}`)
            .join('; ')}).`
        : 'SDK defaults only (set BENCH_TUNED=1 to add a tuned variant; the same tuning is then applied to the bare worker).'
    }`,
  );
  for (const n of r.notes) out.push(`Note: ${n}`);
  const busiest = Math.max(...[d.bare, d.payments, r.latency].map((x) => x.cpu.otherLoad ?? 0));
  if (busiest > 0.1)
    out.push(
      `WARNING: other processes used up to ${pct(busiest)} of the machine during a run; the figures are lower than on an idle machine.`,
    );
  out.push('', ...SCALING);
  return out.join('\n');
}

// ---------------------------------------------------------------------------
// Main

async function loadExportBench(): Promise<ExportBench | undefined> {
  const file = ['export.ts', 'export.js'].map((f) => path.join(__dirname, f)).find((f) => fs.existsSync(f));
  if (!file) return undefined;
  const mod = (await import(file)) as { runExportBench?: ExportBench };
  if (typeof mod.runExportBench !== 'function') throw new Error(`${file} does not export runExportBench`);
  return mod.runExportBench;
}

/** Issue 13's export goals table (figure | measured | goal | met?), when bench/export exports it. */
async function exportGoals(figures: ExportFigures): Promise<string | undefined> {
  const file = ['export.ts', 'export.js'].map((f) => path.join(__dirname, f)).find((f) => fs.existsSync(f));
  if (!file) return undefined;
  const mod = (await import(file)) as ExportBenchModule;
  if (!mod.exportGoalRows || !mod.goalsTable) return undefined;
  return mod.goalsTable(mod.exportGoalRows(figures));
}

async function main(): Promise<number> {
  const report: {
    startedAt: string;
    payments?: PaymentsBenchResult;
    paymentsSummary?: SummaryRow[];
    export?: ExportFigures;
    exportSkipped?: string;
    errors: string[];
  } = { startedAt: new Date().toISOString(), errors: [] };
  const outDir = path.join(__dirname, '..', 'bench-output');
  const outFile = path.join(outDir, `bench-${report.startedAt.replace(/[:.]/g, '-')}.json`);
  const write = () => {
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
  };

  const render = process.env.BENCH_RENDER;
  if (render) {
    // Re-print the report of an earlier run from its JSON, without running anything.
    const saved = JSON.parse(fs.readFileSync(render, 'utf8')) as typeof report;
    if (saved.payments) process.stdout.write(`${paymentsReport(saved.payments)}\n`);
    return 0;
  }
  try {
    if (process.env.BENCH_PAYMENTS === '0') {
      process.stdout.write('Payments benchmark skipped (BENCH_PAYMENTS=0).\n');
    } else {
      report.payments = await runPaymentsBench();
      report.paymentsSummary = summaryRows(report.payments);
      process.stdout.write(`${paymentsReport(report.payments)}\n`);
    }

    const invoices = Number(process.env.BENCH_EXPORT_INVOICES ?? 100000);
    const runExportBench = await loadExportBench();
    if (!runExportBench) report.exportSkipped = 'bench/export.ts does not exist';
    else if (!(invoices > 0)) report.exportSkipped = 'BENCH_EXPORT_INVOICES=0';
    else {
      process.stderr.write(`[bench] export benchmark, ${invoices} invoices\n`);
      report.export = await runExportBench({ invoices });
      process.stdout.write(
        `\n== Export benchmark (${invoices} invoices)\n\n${table(
          ['figure', 'value'],
          Object.entries(report.export).map(([k, v]) => [
            k,
            typeof v === 'number' ? String(Number(v.toFixed(3))) : v,
          ]),
        )}\n`,
      );
      const goals = await exportGoals(report.export);
      if (goals) process.stdout.write(`\n== Export goals (issue 13)\n\n${goals}\n`);
    }
    if (report.exportSkipped) process.stdout.write(`\nExport benchmark skipped: ${report.exportSkipped}.\n`);
  } catch (err) {
    report.errors.push(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.stderr.write(
      `\nBenchmark FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
  }
  write();
  process.stdout.write(`\nReport written to ${path.relative(process.cwd(), outFile)}\n`);
  return report.errors.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`Benchmark FAILED: ${String(err)}\n`);
    process.exit(1);
  },
);
