/**
 * The payments benchmark, in one run on this machine:
 *   1. throughput: interleaved rounds of bare workflows (the ceiling), payments through the real
 *      ingress and the same transaction runs started directly (update-with-start), N in flight each;
 *   2. overload: payments through the ingress paced at twice the rate the ingress run sustained
 *      (open-loop arrivals) — the answer latency issue 13 bounds;
 *   3. Temporal actions per payment, from a sample of the runs' histories (open: asleep for a void).
 */
import os from 'node:os';
import { countActions, type ActionsResult } from '../environment/histories';
import { evenlySpaced, sleep } from '../environment/measure';
import {
  startBareWorker,
  startIngress,
  startPaymentsWorker,
  startStack,
  type BenchStack,
} from '../environment/stack';
import { bareRound, directRound, ingressRound, share, type Round, type Sent } from './payments';
import { summarizeBare, summarizePayments, type BareResult, type PaymentRunResult } from './summarize';
import type { Traced } from '../environment/histories';

export interface PaymentsBenchOptions {
  /** Payments (and bare workflows) per throughput run. */
  payments: number;
  /** Payment workflows started directly, without the ingress (0 = skip). */
  direct: number;
  /** In flight during the throughput runs. */
  concurrency: number;
  /** Interleaved rounds the throughput runs are split into. */
  rounds: number;
  /** Unmeasured items first, so JIT, V8 contexts and connections are warm. */
  warmup: number;
  /** Length of the paced overload run. */
  overloadSeconds: number;
  /** Arrivals per second of the overload run; default twice the sustained ingress rate. */
  overloadRate?: number;
  /** INGRESS_MAX_IN_FLIGHT of the overload run's ingress; default the configured one. */
  overloadMaxInFlight?: number;
  /** Completed histories read for stages and actions. */
  historySample: number;
  logLevel: string;
  serverLogLevel: 'debug' | 'info' | 'warn' | 'error';
  log: (line: string) => void;
}

export interface PaymentsBenchResult {
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; loadAverage: number[] };
  server: { storage: string; pragmas: string[] };
  bare: BareResult;
  payments: PaymentRunResult;
  direct?: PaymentRunResult;
  /** Payments per second the closed-loop ingress run posted: the rate this machine sustains. */
  sustainable: number;
  overload: PaymentRunResult;
  /** The admission limit (INGRESS_MAX_IN_FLIGHT) the ingress ran with during the overload run. */
  overloadMaxInFlight: number;
  actions: ActionsResult;
  /** Post-payment calls the IMT simulator received, by HTTP status (200 = a repeat, contracts C3). */
  imtPostCalls: Record<string, number>;
  notes: string[];
}

interface Throughput {
  bare: BareResult;
  payments: PaymentRunResult;
  direct?: PaymentRunResult;
  ingressItems: Sent[];
}

/** Warm-up, then rounds of bare / ingress / direct (reversed every other round, so a change in the machine's other load hits each kind alike). */
async function throughput(
  stack: BenchStack,
  opts: PaymentsBenchOptions,
  q: { bare: string; payments: string },
  ingressUrl: string,
): Promise<Throughput> {
  const { concurrency, rounds } = opts;
  await bareRound(stack, q.bare, 'warmup', opts.warmup, concurrency);
  await ingressRound(stack, ingressUrl, { tag: 'warmup', n: opts.warmup, concurrency });
  if (opts.direct > 0)
    await directRound(stack, q.payments, { tag: 'warmup-direct', n: opts.warmup, concurrency });
  const bare: Round<Traced>[] = [];
  const ingress: Round<Sent>[] = [];
  const direct: Round<Sent>[] = [];
  for (let r = 0; r < rounds; r++) {
    const kinds = ['bare', 'ingress', ...(opts.direct > 0 ? ['direct'] : [])];
    if (r % 2 === 1) kinds.reverse();
    for (const kind of kinds) {
      await sleep(500);
      const n = share(kind === 'direct' ? opts.direct : opts.payments, rounds, r);
      const round =
        kind === 'bare'
          ? await bareRound(stack, q.bare, `r${r}`, n, concurrency)
          : kind === 'ingress'
            ? await ingressRound(stack, ingressUrl, { tag: `r${r}`, n, concurrency })
            : await directRound(stack, q.payments, { tag: `r${r}-direct`, n, concurrency });
      (kind === 'bare' ? bare : kind === 'ingress' ? ingress : direct).push(round as Round<Sent>);
      opts.log(`  round ${r + 1} ${kind}: ${n} items, ${(n / round.seconds).toFixed(1)}/s`);
    }
  }
  const sample = opts.historySample;
  return {
    bare: await summarizeBare(stack, bare, concurrency, sample),
    payments: await summarizePayments(stack, 'ingress', ingress, { concurrency }, sample),
    direct: direct.length
      ? await summarizePayments(stack, 'direct', direct, { concurrency }, sample)
      : undefined,
    ingressItems: ingress.flatMap((r) => r.items),
  };
}

function imtPostCalls(stack: BenchStack): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const entry of stack.sim.requestLog())
    if (entry.method === 'POST' && entry.path.endsWith('/post-payment'))
      calls[String(entry.status)] = (calls[String(entry.status)] ?? 0) + 1;
  return calls;
}

export async function runPaymentsBench(opts: PaymentsBenchOptions): Promise<PaymentsBenchResult> {
  const startedAt = new Date().toISOString();
  const stack = await startStack({ ...opts });
  const stops: (() => Promise<void>)[] = [];
  try {
    const q = { bare: 'bench-bare', payments: 'bench-payments' };
    const bareWorker = await startBareWorker(stack, q.bare);
    stops.push(() => bareWorker.stop());
    const worker = await startPaymentsWorker(stack, q.payments);
    stops.push(() => worker.stop());
    const ingress = await startIngress(stack, q.payments);
    stops.push(() => ingress.app.close());

    opts.log(
      `[bench] ${opts.rounds} interleaved round(s) of bare / ingress${opts.direct > 0 ? ' / direct' : ''}`,
    );
    const t = await throughput(stack, opts, q, ingress.url);
    await bareWorker.stop();

    const sustainable = t.payments.perSecond;
    const rate = opts.overloadRate ?? Math.max(1, Math.round(2 * sustainable));
    opts.log(
      `[bench] overload: paced ${rate}/s (sustained ${sustainable.toFixed(1)}/s) for ${opts.overloadSeconds} s`,
    );
    const overloadIngress =
      opts.overloadMaxInFlight === undefined
        ? ingress
        : await startIngress(stack, q.payments, opts.overloadMaxInFlight);
    if (overloadIngress !== ingress) stops.push(() => overloadIngress.app.close());
    await sleep(1000);
    const paced = await ingressRound(stack, overloadIngress.url, {
      tag: 'overload',
      n: Math.max(1, Math.round(rate * opts.overloadSeconds)),
      rate,
    });
    const overload = await summarizePayments(stack, 'ingress', [paced], { rate }, opts.historySample);
    // Only runs that were started: a 429 left nothing behind to count.
    const sampled = evenlySpaced(
      t.ingressItems.filter((s) => !s.rejected),
      opts.historySample,
    ).map((s) => s.workflowId);
    const actions = await countActions(stack.client, sampled);
    return {
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
      },
      server: stack.server,
      bare: t.bare,
      payments: t.payments,
      direct: t.direct,
      sustainable,
      overload,
      overloadMaxInFlight: overloadIngress.maxInFlight,
      actions,
      imtPostCalls: imtPostCalls(stack),
      notes: stack.notes,
    };
  } finally {
    for (const stop of stops.reverse())
      await stop().catch((err: unknown) => opts.log(`[bench] stop: ${String(err)}`));
    await stack.close();
  }
}
