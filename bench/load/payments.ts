/**
 * The payments load generators, one round each: bare workflows (the ceiling), payments POSTed
 * to the real ingress (closed loop or paced), and the same transaction runs started directly
 * with the ingress's update-with-start and start options. A round ends when the IMT simulator
 * recorded every posting.
 */
import { WithStartWorkflowOperation } from '@temporalio/client';
import { transactionStartOptions } from '../../client/ingress/payment';
import { fingerprint } from '../../client/ingress/runs';
import type { ImtSimulator } from '../../simulators/imt/server';
import {
  PaymentStatus,
  SA,
  TRANSACTION_WORKFLOW_TYPE,
  deliverUpdate,
  workflowIds,
  type Delivery,
  type PaymentRequest,
} from '../../domain';
import type { transactionWorkflow } from '../../workflows/transaction';
import type { Traced } from '../environment/histories';
import { cpuSince, markCpu, secondsTo99, sleep, type CpuMark, type CpuRaw } from '../environment/measure';
import type { RpcRaw } from '../environment/rpc';
import type { BenchStack } from '../environment/stack';
import { closedLoop, openLoop, postJson, type HttpAnswer } from './loops';

export interface Sent extends Traced {
  transactionId: string;
  /** Answered 429: not started, so never posted. */
  rejected?: boolean;
  /** Closed-loop rounds: how many times a 429 or 503 was delivered again. */
  redelivered?: number;
  error?: string;
}

/** One measured run (or one round of an interleaved run). */
export interface Round<T extends Traced> {
  items: T[];
  /** First send → last completion (bare) / last posting recorded by the simulator (payments). */
  seconds: number;
  /** First send → the moment 99% of the items were done (a retried straggler does not count). */
  seconds99: number;
  cpu: CpuRaw;
  rpc: RpcRaw;
  maxSendLagMs?: number;
}

function newPayment(env: BenchStack, tag: string, i: number): PaymentRequest {
  const n = env.nextInvoice++;
  const invoice = `BINV-${String(n).padStart(6, '0')}`;
  const customer = `B${String(n % 5000).padStart(4, '0')}`;
  env.sim.addInvoice({
    invoice_number: invoice,
    customer,
    amount_due: '250.00',
    invoice_month: '2022-09-01',
  });
  return {
    customer,
    invoice_number: invoice,
    transaction_id: `bench-${tag}-${i}`,
    amount: (1 + (i % 97)).toFixed(2),
    payment_method: (['credit', 'echeck', 'cash', 'check'] as const)[i % 4],
    message: 'benchmark payment',
    source: 'invoice_cloud',
  };
}

/** Waits until the simulator recorded every one of these transactions; returns posted_at (ms) by transaction. */
async function waitForPostings(
  sim: ImtSimulator,
  ids: Set<string>,
  timeoutMs: number,
): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const posted = new Map<string, number>();
    for (const p of sim.postings())
      if (ids.has(p.transaction_id)) posted.set(p.transaction_id, Date.parse(p.posted_at));
    if (posted.size === ids.size) return posted;
    if (Date.now() > deadline)
      throw new Error(
        `only ${posted.size} of ${ids.size} payments were posted to the IMT simulator in ${timeoutMs} ms`,
      );
    await sleep(200);
  }
}

export async function bareRound(
  env: BenchStack,
  taskQueue: string,
  tag: string,
  n: number,
  concurrency: number,
): Promise<Round<Traced>> {
  env.rpc.take();
  const mark = markCpu(env.serverPid);
  const items = new Array<Traced>(n);
  const t0 = Date.now();
  await closedLoop(n, concurrency, async (i) => {
    const workflowId = `bare-${tag}-${i}`;
    const sentAt = Date.now();
    const handle = await env.client.workflow.start('bareWorkflow', { workflowId, taskQueue });
    await handle.result();
    items[i] = { workflowId, sentAt, answeredAt: Date.now(), status: 201 };
  });
  const last = Math.max(...items.map((d) => d.answeredAt ?? 0));
  return {
    items,
    seconds: (last - t0) / 1000,
    seconds99: secondsTo99(
      t0,
      items.map((d) => d.answeredAt ?? 0),
    ),
    cpu: cpuSince(mark, env.serverPid),
    rpc: env.rpc.take(),
  };
}

export interface RunSpec {
  tag: string;
  n: number;
  /** Closed loop: this many in flight. */
  concurrency?: number;
  /** Open loop: arrivals per second. */
  rate?: number;
  /**
   * Deliver a 429 / 503 again, as IC does (default: closed-loop rounds only; the overload
   * round counts answers as they are).
   */
  redeliver?: boolean;
}

/**
 * The direct start holds its call until the outcome, as the ingress would with an unbounded
 * confirm window: the run answers the update once IMT confirmed (or after this long).
 */
const DIRECT_WAIT_MS = 60_000;

/**
 * A transaction's run stays open (asleep for a void) after posting: it is done with the
 * posting once its status search attribute (describe: the run's own record) is no longer
 * POSTING / MAYBE_POSTED.
 */
async function postingRecorded(env: BenchStack, workflowId: string, timeoutMs: number): Promise<void> {
  const handle = env.client.workflow.getHandle(workflowId);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = (await handle.describe()).typedSearchAttributes.get(SA.PaymentStatus);
    if (status !== PaymentStatus.POSTING && status !== PaymentStatus.MAYBE_POSTED) return;
    if (Date.now() > deadline) throw new Error(`${workflowId} still ${status} after ${timeoutMs} ms`);
    await sleep(200);
  }
}

/**
 * Ends a payments round: fails on any error, waits for every posting, then until the runs
 * answered 202 recorded it (so their last workflow task is counted in this round, not the next).
 */
async function endPaymentsRound(
  env: BenchStack,
  spec: RunSpec,
  sent: Sent[],
  mark: CpuMark,
  maxSendLagMs?: number,
): Promise<Round<Sent>> {
  const failed = sent.filter((s) => s.error);
  if (failed.length > 0) {
    throw new Error(
      `${failed.length} of ${sent.length} payments failed (${spec.tag}); first: ${failed[0].transactionId}: ${failed[0].error}`,
    );
  }
  const started = sent.filter((s) => !s.rejected);
  const posted = await waitForPostings(env.sim, new Set(started.map((s) => s.transactionId)), 300_000);
  const rpc = env.rpc.take();
  await Promise.all(
    started.filter((s) => s.status !== 201).map((s) => postingRecorded(env, s.workflowId, 300_000)),
  );
  env.rpc.take();
  const cpu = cpuSince(mark, env.serverPid);
  for (const s of sent) s.postedAt = posted.get(s.transactionId);
  const first = Math.min(...sent.map((s) => s.sentAt));
  const lastPosted = Math.max(...started.map((s) => s.postedAt ?? 0));
  return {
    items: sent,
    seconds: (lastPosted - first) / 1000,
    seconds99: secondsTo99(
      first,
      started.map((x) => x.postedAt ?? 0),
    ),
    cpu,
    rpc,
    maxSendLagMs,
  };
}

/**
 * A keep-alive socket the ingress closes just as it is reused fails with ECONNRESET before
 * the request was read; IC's Data Pump would deliver again, and so does the bench (twice at
 * most). The payment is idempotent by transaction id, so a repeat is answered, not doubled.
 */
async function postWithRedelivery(
  env: BenchStack,
  url: URL,
  headers: Record<string, string>,
  body: string,
): Promise<HttpAnswer> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await postJson(env.agent, url, headers, body);
    } catch (err) {
      if (attempt >= 2 || (err as NodeJS.ErrnoException).code !== 'ECONNRESET') throw err;
    }
  }
}

/** Payments through the ingress over keep-alive HTTP: closed loop (`concurrency`) or paced (`rate`). */
export async function ingressRound(env: BenchStack, ingressUrl: string, spec: RunSpec): Promise<Round<Sent>> {
  const url = new URL('/api/integration/invoice/post-payment', ingressUrl);
  const headers = { 'X-Integrator-ID': env.endpoints.ingressIntegratorId };
  const bodies = Array.from({ length: spec.n }, (_, i) => JSON.stringify(newPayment(env, spec.tag, i)));
  const sent: Sent[] = bodies.map((_, i) => {
    const transactionId = `bench-${spec.tag}-${i}`;
    return { transactionId, workflowId: workflowIds.payment(transactionId), sentAt: 0 };
  });
  const redeliverAll = spec.redeliver ?? spec.rate === undefined;
  const task = async (i: number) => {
    const s = sent[i];
    s.sentAt = Date.now();
    const again = async (answer: HttpAnswer): Promise<HttpAnswer> => {
      s.redelivered = (s.redelivered ?? 0) + 1;
      const waitS = answer.retryAfterS ?? (answer.status === 503 ? 1 : 5);
      await new Promise((r) => setTimeout(r, waitS * 1000));
      return postWithRedelivery(env, url, headers, bodies[i]);
    };
    try {
      let answer = await postWithRedelivery(env, url, headers, bodies[i]);
      // Closed loop (a throughput round): like IC's Data Pump, deliver a 429 again after its
      // Retry-After, and a 503 ("not confirmed as received in time; deliver it again": the
      // machine is saturated by design here) after a second, so every payment is posted and
      // the round measures what got through.
      while ((answer.status === 429 || answer.status === 503) && redeliverAll) answer = await again(answer);
      s.status = answer.status;
      s.answeredAt = Date.now();
      // The paced overload round measures the first answer as it is. A 503 is then delivered
      // again, unmeasured, as IC would, so the payment is still posted (or refused 429).
      while (answer.status === 503) answer = await again(answer);
      // 429 (admission control, with Retry-After) is an answer: IC's Data Pump redelivers later.
      if (answer.status === 429) s.rejected = true;
      else if (answer.status !== 201 && answer.status !== 202)
        s.error = `HTTP ${answer.status}: ${answer.body.slice(0, 300)}`;
    } catch (err) {
      s.error = err instanceof Error ? err.message : String(err);
      s.answeredAt ??= Date.now();
    }
  };
  env.rpc.take();
  const mark = markCpu(env.serverPid);
  let maxSendLagMs: number | undefined;
  if (spec.rate !== undefined) maxSendLagMs = await openLoop(spec.n, spec.rate, task);
  else await closedLoop(spec.n, spec.concurrency ?? 1, task);
  return endPaymentsRound(env, spec, sent, mark, maxSendLagMs);
}

/** The same transaction runs, started by a client with the ingress's update-with-start but no ingress. */
export async function directRound(env: BenchStack, taskQueue: string, spec: RunSpec): Promise<Round<Sent>> {
  const payments = Array.from({ length: spec.n }, (_, i) => newPayment(env, spec.tag, i));
  const sent: Sent[] = payments.map((p) => ({
    transactionId: p.transaction_id,
    workflowId: workflowIds.payment(p.transaction_id),
    sentAt: 0,
  }));
  env.rpc.take();
  const mark = markCpu(env.serverPid);
  await closedLoop(spec.n, spec.concurrency ?? 1, async (i) => {
    const payment = payments[i];
    const s = sent[i];
    s.sentAt = Date.now();
    try {
      const delivery: Delivery = { kind: 'payment', payment };
      const answer = await env.client.workflow.executeUpdateWithStart(deliverUpdate, {
        args: [{ delivery, waitMs: DIRECT_WAIT_MS, fingerprint: fingerprint(delivery) }],
        startWorkflowOperation: new WithStartWorkflowOperation<typeof transactionWorkflow>(
          TRANSACTION_WORKFLOW_TYPE,
          transactionStartOptions(delivery, { taskQueue }),
        ),
      });
      s.status = answer.imtHolds === 'YES' ? 201 : 202;
    } catch (err) {
      s.error = err instanceof Error ? err.message : String(err);
    }
    s.answeredAt = Date.now();
  });
  return endPaymentsRound(env, spec, sent, mark);
}

/** Round r's share of n items split over `rounds` rounds. */
export function share(n: number, rounds: number, r: number): number {
  return Math.floor(((r + 1) * n) / rounds) - Math.floor((r * n) / rounds);
}
