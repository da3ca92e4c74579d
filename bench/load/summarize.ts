/** A run's figures from its rounds: throughput, latency percentiles, CPU, RPCs and stages. */
import { departures, stagesOf, type Stage, type Traced } from '../environment/histories';
import {
  cpuUse,
  evenlySpaced,
  ninetyNine,
  percentiles,
  type CpuUse,
  type Percentiles,
} from '../environment/measure';
import { RpcStats, type RpcUse } from '../environment/rpc';
import type { BenchStack } from '../environment/stack';
import type { Round, Sent } from './payments';

export interface BareResult {
  workflows: number;
  concurrency: number;
  /** Interleaved rounds the figures are summed over. */
  rounds: number;
  /** Items per second of each round, in order. */
  perRound: number[];
  seconds: number;
  perSecond: number;
  /** The same up to the moment 99% were done: insensitive to one retried straggler. */
  perSecond99: number;
  /** start call → result, per workflow. */
  latencyMs: Percentiles;
  cpu: CpuUse;
  rpc: Record<string, RpcUse>;
  stages: Stage[];
}

export interface PaymentRunResult {
  kind: 'ingress' | 'direct';
  payments: number;
  /** In flight (closed loop) or undefined for a paced run. */
  concurrency?: number;
  /** Arrivals per second (paced run). */
  rate?: number;
  rounds: number;
  /** Items per second of each round, in order. */
  perRound: number[];
  /** First send → last posting recorded by the IMT simulator. */
  seconds: number;
  perSecond: number;
  /** The same up to the moment 99% were posted: insensitive to one retried straggler. */
  perSecond99: number;
  /** The slowest payments and what their histories show (failed / timed-out tasks), slowest first. */
  slowest: { workflowId: string; latencyMs: number; departures: string[] }[];
  /** First send → last answer. */
  answeredPerSecond: number;
  /** Send → the IMT simulator's posted_at. */
  latencyMs: Percentiles;
  /** Send → HTTP answer (201 once IMT confirmed). */
  answerMs: Percentiles;
  statuses: Record<string, number>;
  /** Paced run: how late the generator sent, at worst (ms). */
  maxSendLagMs?: number;
  cpu: CpuUse;
  rpc: Record<string, RpcUse>;
  stages: Stage[];
}

/** Per history (or means over histories). */

export async function summarizeBare(
  env: BenchStack,
  rounds: Round<Traced>[],
  concurrency: number,
  sample: number,
): Promise<BareResult> {
  const items = rounds.flatMap((r) => r.items);
  const seconds = rounds.reduce((s, r) => s + r.seconds, 0);
  return {
    workflows: items.length,
    concurrency,
    rounds: rounds.length,
    perRound: rounds.map((r) => r.items.length / r.seconds),
    seconds,
    perSecond: items.length / seconds,
    perSecond99:
      rounds.reduce((t, r) => t + ninetyNine(r.items.length), 0) /
      rounds.reduce((t, r) => t + r.seconds99, 0),
    latencyMs: percentiles(items.map((d) => (d.answeredAt ?? 0) - d.sentAt)),
    cpu: cpuUse(
      rounds.map((r) => r.cpu),
      items.length,
    ),
    rpc: RpcStats.summarize(
      rounds.map((r) => r.rpc),
      items.length,
    ),
    stages: await stagesOf(env.client, evenlySpaced(items, sample), 'client start → workflow started'),
  };
}

export async function summarizePayments(
  env: BenchStack,
  kind: PaymentRunResult['kind'],
  rounds: Round<Sent>[],
  spec: { concurrency?: number; rate?: number },
  sample: number,
): Promise<PaymentRunResult> {
  const sent = rounds.flatMap((r) => r.items);
  // Answered 429 by admission control: counted in the answers, never posted.
  const posted = sent.filter((s) => !s.rejected);
  const seconds = rounds.reduce((s, r) => s + r.seconds, 0);
  const answeredSeconds = rounds.reduce(
    (s, r) =>
      s +
      (Math.max(...r.items.map((x) => x.answeredAt ?? 0)) - Math.min(...r.items.map((x) => x.sentAt))) / 1000,
    0,
  );
  const statuses: Record<string, number> = {};
  for (const s of sent) statuses[String(s.status)] = (statuses[String(s.status)] ?? 0) + 1;
  // Answers that were delivered again first (429 / 503 in the closed-loop rounds), counted apart.
  const redelivered = sent.reduce((n, s) => n + (s.redelivered ?? 0), 0);
  if (redelivered > 0) statuses['redelivered after 429/503'] = redelivered;
  const lags = rounds.map((r) => r.maxSendLagMs).filter((x): x is number => x !== undefined);
  const slowest = await Promise.all(
    [...posted]
      .sort((a, b) => (b.postedAt ?? 0) - b.sentAt - ((a.postedAt ?? 0) - a.sentAt))
      .slice(0, 3)
      .map(async (x) => ({
        workflowId: x.workflowId,
        latencyMs: (x.postedAt ?? 0) - x.sentAt,
        departures: departures(
          (await env.client.workflow.getHandle(x.workflowId).fetchHistory()).events ?? [],
        ),
      })),
  );
  return {
    kind,
    payments: sent.length,
    concurrency: spec.concurrency,
    rate: spec.rate,
    rounds: rounds.length,
    perRound: rounds.map((r) => r.items.length / r.seconds),
    seconds,
    perSecond: posted.length / seconds,
    perSecond99:
      rounds.reduce((t, r) => t + ninetyNine(r.items.filter((x) => !x.rejected).length), 0) /
      rounds.reduce((t, r) => t + r.seconds99, 0),
    answeredPerSecond: sent.length / answeredSeconds,
    latencyMs: percentiles(posted.map((s) => (s.postedAt ?? 0) - s.sentAt)),
    answerMs: percentiles(sent.map((s) => (s.answeredAt ?? 0) - s.sentAt)),
    statuses,
    maxSendLagMs: lags.length ? Math.max(...lags) : undefined,
    slowest,
    cpu: cpuUse(
      rounds.map((r) => r.cpu),
      sent.length,
    ),
    rpc: RpcStats.summarize(
      rounds.map((r) => r.rpc),
      sent.length,
    ),
    stages: await stagesOf(
      env.client,
      evenlySpaced(posted, sample),
      kind === 'ingress' ? 'HTTP send → workflow started (ingress)' : 'client start → workflow started',
    ),
  };
}
