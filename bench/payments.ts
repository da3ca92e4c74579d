/**
 * Payments benchmark (issue 2, item 9): everything in ONE run on this machine —
 *
 *   1. bare ceiling: a trivial one-activity workflow (bench/workflows.ts), started and
 *      awaited by a client with N in flight: what this Temporal server + SDK worker can do;
 *   2. payments: N distinct payments POSTed over keep-alive HTTP to the real ingress
 *      (fastify → paymentWorkflow → postPayment → the real IMT simulator), N in flight,
 *      measured from the first send to the last posting the simulator recorded;
 *   3. (profiling) the same payment workflows started directly by a client, no ingress;
 *   4. latency at a paced 50 payments/s (open-loop arrivals);
 *   5. Temporal actions per payment, counted from a sample of completed histories.
 *
 * The Temporal server is the embedded dev server on a SQLite file with the WAL pragmas
 * (dev/temporal-server.ts — what `npm start` runs); the worker, the ingress and the IMT
 * simulator are this project's own code, wired as client/stack.ts wires them.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { InterceptingCall, status as GrpcStatus, type Interceptor } from '@grpc/grpc-js';
import {
  Client,
  Connection,
  WorkflowNotFoundError,
  defaultGrpcRetryOptions,
  makeGrpcRetryInterceptor,
  type WorkflowHandle,
} from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import {
  NativeConnection,
  Worker,
  bundleWorkflowCode,
  type WorkerOptions,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { buildIngress } from '../client/ingress/server';
import { paymentSummary } from '../client/ingress/payment';
import { fingerprint } from '../client/ingress/runs';
import { loadConfig } from '../common/config';
import { createLogger, type Logger } from '../common/logger';
import { combineIngressHooks, createMetrics, type ServiceMetrics } from '../app/metrics';
import { SQLITE_PRAGMAS, startDevServer } from '../dev/temporal-server';
import { startImtSimulator, type ImtSimulator } from '../simulators/imt/server';
import { buildActivityDeps, resolveEndpoints, type Endpoints } from '../app/wiring';
import { installWorkerRuntime } from '../worker/telemetry';
import { WORKFLOWS_PATH, createWorker } from '../worker/worker';
import { PaymentStatus, SA, workflowIds, type PaymentRequest } from '../domain';
import type { paymentWorkflow } from '../workflows/payment';

// ---------------------------------------------------------------------------
// Options and results

/** Worker options a variant may change; applied to the bare worker and the payments worker alike. */
export type WorkerTuning = Pick<
  WorkerOptions,
  'maxConcurrentWorkflowTaskExecutions' | 'maxConcurrentActivityTaskExecutions' | 'maxCachedWorkflows'
>;

export interface PaymentsBenchOptions {
  /** Workflows / payments per throughput run (BENCH_PAYMENTS, default 1000). */
  payments?: number;
  /** In flight during the throughput runs (BENCH_CONCURRENCY, default 200). */
  concurrency?: number;
  /** The throughput runs are split into this many interleaved rounds (BENCH_ROUNDS, default 2). */
  rounds?: number;
  /** Paced latency run: arrivals per second (default 50) … */
  latencyRate?: number;
  /** … for this long (BENCH_LATENCY_SECONDS, default 20). */
  latencySeconds?: number;
  /** Completed payment histories read to count actions and split the latency (default 50). */
  historySample?: number;
  /** Unmeasured runs first, so JIT, V8 contexts and connections are warm (default 50). */
  warmup?: number;
  /** Payment workflows started directly, without the ingress, for profiling (default payments/2; 0 = skip). */
  directPayments?: number;
  /** Also run a tuned worker variant (same tuning for its bare ceiling). Default false (BENCH_TUNED=1). */
  tuned?: boolean;
  log?: (line: string) => void;
}

export interface Percentiles {
  n: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface CpuUse {
  wallSeconds: number;
  /** This process: ingress, worker (incl. SDK core threads), simulator, load generator. */
  nodeCpuSeconds: number;
  /** The Temporal dev server process. */
  serverCpuSeconds?: number;
  /** Every process on the machine (from /proc/stat). */
  machineBusySeconds?: number;
  /** Machine busy time not spent by this process or the server: other people's load. */
  otherCpuSeconds?: number;
  cores: number;
  /** Share of the main thread's time the event loop was busy. */
  eventLoopUtilization: number;
  /** CPU time per workflow / payment of the run (ms). */
  nodeCpuMsPerItem: number;
  serverCpuMsPerItem?: number;
  /** Share of the machine's capacity used by other processes during the run (0–1). */
  otherLoad?: number;
}

export interface RpcUse {
  calls: number;
  perItem: number;
  meanMs: number;
  p95Ms: number;
  /** gRPC status name → count, for calls that did not end OK (e.g. NOT_FOUND for describes). */
  errors: Record<string, number>;
}

export interface Stage {
  name: string;
  ms: Percentiles;
}

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
export interface ActionCounts {
  workflowStarted: number;
  activitiesScheduled: number;
  signals: number;
  timers: number;
  updates: number;
  childWorkflows: number;
  externalSignals: number;
  /** As the issue counts them: start + activities + signals + timers + updates (+ children, external signals). */
  actions: number;
  /** Informative, not in `actions`: UpsertWorkflowSearchAttributes (Temporal Cloud bills each as an action). */
  upserts: number;
  events: number;
}

export interface ActionsResult {
  sampled: number;
  /** Sampled histories with exactly one posting attempt that succeeded. */
  happyPath: number;
  /** Means over the happy-path histories. */
  happy: ActionCounts;
  /** Means over every sampled history (retries under overload included). */
  all: ActionCounts;
  maxActionsHappy: number;
  maxActionsAll: number;
  /** Failed / timed-out activities and workflow tasks seen in the sample, by kind. */
  departures: Record<string, number>;
}

export interface ProbeCost {
  perSecond: number;
  meanMs: number;
  serverCpuMsPerCall?: number;
  nodeCpuMsPerCall: number;
}

/** What one DescribeWorkflowExecution costs here — the ingress makes several per payment. */
export interface DescribeProbe {
  calls: number;
  concurrency: number;
  /** Describing a closed payment workflow (the ingress's status poll). */
  found: ProbeCost;
  /** Describing an ID that does not exist (the ingress's void / ACH-reject check before each start). */
  notFound: ProbeCost;
}

export interface VariantResult {
  name: string;
  tuning: WorkerTuning;
  bare: BareResult;
  payments: PaymentRunResult;
  direct?: PaymentRunResult;
  ratio: number;
}

export interface PaymentsBenchResult {
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; platform: string };
  server: { storage: string; pragmas: string[]; address: string };
  logLevel: string;
  variants: VariantResult[];
  latency: PaymentRunResult;
  latencySustained: boolean;
  /** When the target rate was not sustained: the same paced run at a rate this machine does sustain. */
  latencyAtSustainableRate?: PaymentRunResult;
  actions: ActionsResult;
  describeProbe?: DescribeProbe;
  /** Every post-payment call the IMT simulator received in the whole run, by HTTP status (200 = a repeat, contracts C3). */
  imtPostCalls: Record<string, number>;
  notes: string[];
}

// ---------------------------------------------------------------------------
// Small helpers

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { n: 0, mean: NaN, p50: NaN, p95: NaN, p99: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest-rank percentile.
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  const sum = sorted.reduce((s, v) => s + v, 0);
  return {
    n: sorted.length,
    mean: sum / sorted.length,
    p50: at(50),
    p95: at(95),
    p99: at(99),
    max: sorted[sorted.length - 1],
  };
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const address = srv.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (!port) throw new Error('could not find a free port');
  return port;
}

/** Runs `task(0 … n-1)` with at most `concurrency` in flight. */
async function closedLoop(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const runner = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, n)) }, runner));
}

/** Open-loop arrivals: task i is started at t0 + i/rate whatever the earlier ones are doing. */
async function openLoop(
  n: number,
  ratePerSecond: number,
  task: (i: number) => Promise<void>,
): Promise<number> {
  const t0 = performance.now();
  const interval = 1000 / ratePerSecond;
  const running: Promise<void>[] = [];
  let maxLag = 0;
  for (let i = 0; i < n; i++) {
    const due = t0 + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    maxLag = Math.max(maxLag, performance.now() - due);
    running.push(task(i));
  }
  await Promise.all(running);
  return maxLag;
}

function evenlySpaced<T>(items: T[], count: number): T[] {
  if (items.length <= count) return [...items];
  return Array.from({ length: count }, (_, k) => items[Math.floor((k * items.length) / count)]);
}

// ---------------------------------------------------------------------------
// CPU accounting: this process, the dev server process, the whole machine

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function readProcTicks(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state(0) ppid(1) … utime(11) stime(12).
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

function readMachineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((s, x) => s + x, 0);
    const idle = v[3] + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** The dev server: a child process of this one whose command line mentions `start-dev`. */
function findDevServerPid(): number | undefined {
  try {
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid !== process.pid) continue;
        if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('start-dev')) return pid;
      } catch {
        // The process went away while we looked.
      }
    }
  } catch {
    // No /proc: no server CPU figures.
  }
  return undefined;
}

interface CpuMark {
  wall: number;
  node: NodeJS.CpuUsage;
  server?: number;
  machine?: { busy: number; total: number };
  elu: EventLoopUtilization;
}

/** CPU spent between two marks; summed over the rounds of a run by `cpuUse`. */
interface CpuRaw {
  wallSeconds: number;
  nodeCpuSeconds: number;
  serverCpuSeconds?: number;
  machineBusySeconds?: number;
  eluActive: number;
  eluIdle: number;
}

function markCpu(serverPid: number | undefined): CpuMark {
  return {
    wall: performance.now(),
    node: process.cpuUsage(),
    server: serverPid === undefined ? undefined : readProcTicks(serverPid),
    machine: readMachineTicks(),
    elu: performance.eventLoopUtilization(),
  };
}

function cpuSince(mark: CpuMark, serverPid: number | undefined): CpuRaw {
  const now = markCpu(serverPid);
  const hz = ticksPerSecond();
  const node = process.cpuUsage(mark.node);
  const elu = performance.eventLoopUtilization(now.elu, mark.elu);
  return {
    wallSeconds: (now.wall - mark.wall) / 1000,
    nodeCpuSeconds: (node.user + node.system) / 1e6,
    serverCpuSeconds:
      mark.server !== undefined && now.server !== undefined ? (now.server - mark.server) / hz : undefined,
    machineBusySeconds: mark.machine && now.machine ? (now.machine.busy - mark.machine.busy) / hz : undefined,
    eluActive: elu.active,
    eluIdle: elu.idle,
  };
}

function sumOptional(values: (number | undefined)[]): number | undefined {
  return values.some((v) => v === undefined) ? undefined : values.reduce<number>((s, v) => s + (v ?? 0), 0);
}

function cpuUse(raws: CpuRaw[], items: number): CpuUse {
  const wallSeconds = raws.reduce((s, r) => s + r.wallSeconds, 0);
  const nodeCpuSeconds = raws.reduce((s, r) => s + r.nodeCpuSeconds, 0);
  const serverCpuSeconds = sumOptional(raws.map((r) => r.serverCpuSeconds));
  const machineBusySeconds = sumOptional(raws.map((r) => r.machineBusySeconds));
  const eluActive = raws.reduce((s, r) => s + r.eluActive, 0);
  const eluIdle = raws.reduce((s, r) => s + r.eluIdle, 0);
  const cores = os.cpus().length;
  const otherCpuSeconds =
    machineBusySeconds !== undefined && serverCpuSeconds !== undefined
      ? Math.max(0, machineBusySeconds - nodeCpuSeconds - serverCpuSeconds)
      : undefined;
  return {
    wallSeconds,
    nodeCpuSeconds,
    serverCpuSeconds,
    machineBusySeconds,
    otherCpuSeconds,
    cores,
    eventLoopUtilization: eluActive / Math.max(1e-9, eluActive + eluIdle),
    nodeCpuMsPerItem: (nodeCpuSeconds * 1000) / items,
    serverCpuMsPerItem: serverCpuSeconds === undefined ? undefined : (serverCpuSeconds * 1000) / items,
    otherLoad: otherCpuSeconds === undefined ? undefined : otherCpuSeconds / (wallSeconds * cores),
  };
}

// ---------------------------------------------------------------------------
// gRPC accounting: every call the ingress (and the bench's own client) makes to Temporal

type RpcRaw = Map<string, { ms: number[]; errors: Record<string, number> }>;

class RpcStats {
  private calls: RpcRaw = new Map();

  readonly interceptor: Interceptor = (options, nextCall) => {
    const full = options.method_definition.path;
    const method = full.slice(full.lastIndexOf('/') + 1);
    const t0 = performance.now();
    return new InterceptingCall(nextCall(options), {
      start: (metadata, _listener, next) => {
        next(metadata, {
          onReceiveStatus: (status, nextStatus) => {
            this.record(method, performance.now() - t0, status.code);
            nextStatus(status);
          },
        });
      },
    });
  };

  private record(method: string, ms: number, code: number): void {
    let entry = this.calls.get(method);
    if (!entry) this.calls.set(method, (entry = { ms: [], errors: {} }));
    entry.ms.push(ms);
    if (code !== GrpcStatus.OK) {
      const name = GrpcStatus[code] ?? String(code);
      entry.errors[name] = (entry.errors[name] ?? 0) + 1;
    }
  }

  /** What was recorded since the last take. */
  take(): RpcRaw {
    const taken = this.calls;
    this.calls = new Map();
    return taken;
  }

  static summarize(raws: RpcRaw[], items: number): Record<string, RpcUse> {
    const merged: RpcRaw = new Map();
    for (const raw of raws) {
      for (const [method, { ms, errors }] of raw) {
        let entry = merged.get(method);
        if (!entry) merged.set(method, (entry = { ms: [], errors: {} }));
        entry.ms.push(...ms);
        for (const [k, v] of Object.entries(errors)) entry.errors[k] = (entry.errors[k] ?? 0) + v;
      }
    }
    const out: Record<string, RpcUse> = {};
    for (const [method, { ms, errors }] of [...merged.entries()].sort(
      (a, b) => b[1].ms.length - a[1].ms.length,
    )) {
      const p = percentiles(ms);
      out[method] = { calls: ms.length, perItem: ms.length / items, meanMs: p.mean, p95Ms: p.p95, errors };
    }
    return out;
  }
}

// ---------------------------------------------------------------------------
// HTTP load generator (keep-alive, no client library in the way)

interface HttpAnswer {
  status: number;
  body: string;
}

function postJson(
  agent: http.Agent,
  url: URL,
  headers: Record<string, string>,
  body: string,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          ...headers,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
        },
        timeout: 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out after 60 s')));
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------------------
// Histories: actions and where the time went

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

interface Timeline {
  started?: number;
  wft1Started?: number;
  wft1Completed?: number;
  activityStarted?: number;
  activityCompleted?: number;
  wft2Started?: number;
  closed?: number;
}

function eventMs(e: HistoryEvent): number {
  return tsToMs(e.eventTime);
}

function timelineOf(events: HistoryEvent[]): Timeline {
  const t: Timeline = {};
  let wftStarts = 0;
  for (const e of events) {
    if (e.workflowExecutionStartedEventAttributes) t.started = eventMs(e);
    else if (e.workflowTaskStartedEventAttributes) {
      wftStarts++;
      if (wftStarts === 1) t.wft1Started = eventMs(e);
      else if (t.activityCompleted !== undefined && t.wft2Started === undefined) t.wft2Started = eventMs(e);
    } else if (e.workflowTaskCompletedEventAttributes && t.wft1Completed === undefined)
      t.wft1Completed = eventMs(e);
    else if (e.activityTaskStartedEventAttributes && t.activityStarted === undefined)
      t.activityStarted = eventMs(e);
    else if (e.activityTaskCompletedEventAttributes && t.activityCompleted === undefined)
      t.activityCompleted = eventMs(e);
    else if (e.workflowExecutionCompletedEventAttributes) t.closed = eventMs(e);
  }
  return t;
}

interface Traced {
  workflowId: string;
  sentAt: number;
  answeredAt?: number;
  postedAt?: number;
  /** 201 = answered once IMT confirmed; a 202 (confirm wait over) answered before the close. */
  status?: number;
}

async function stagesOf(client: Client, traced: Traced[], firstStage: string): Promise<Stage[]> {
  const spans: Record<string, number[]> = {};
  const add = (name: string, from?: number, to?: number) => {
    if (from === undefined || to === undefined) return;
    (spans[name] ??= []).push(to - from);
  };
  const names = [
    firstStage,
    'workflow task 1: queue wait',
    'workflow task 1: on the worker',
    'activity: queue wait',
    'activity: running (the IMT call)',
    'workflow task 2: queue wait',
    'workflow task 2 → workflow closed',
    'closed → answer (result long-poll; 201s only)',
    'total (send → answer; 201s only)',
  ];
  const histories = await Promise.all(
    traced.map(async (t) => ({
      t,
      events: (await client.workflow.getHandle(t.workflowId).fetchHistory()).events ?? [],
    })),
  );
  for (const { t, events } of histories) {
    const tl = timelineOf(events);
    add(names[0], t.sentAt, tl.started);
    add(names[1], tl.started, tl.wft1Started);
    add(names[2], tl.wft1Started, tl.wft1Completed);
    add(names[3], tl.wft1Completed, tl.activityStarted);
    add(names[4], tl.activityStarted, tl.activityCompleted);
    add(names[5], tl.activityCompleted, tl.wft2Started);
    add(names[6], tl.wft2Started, tl.closed);
    // A 202 was answered before the workflow closed: only 201s time the result delivery.
    if (t.status === 201) {
      add(names[7], tl.closed, t.answeredAt);
      add(names[8], t.sentAt, t.answeredAt);
    }
  }
  return names.filter((n) => spans[n]).map((name) => ({ name, ms: percentiles(spans[name]) }));
}

function actionCounts(events: HistoryEvent[]): ActionCounts {
  const c: ActionCounts = {
    workflowStarted: 0,
    activitiesScheduled: 0,
    signals: 0,
    timers: 0,
    updates: 0,
    childWorkflows: 0,
    externalSignals: 0,
    actions: 0,
    upserts: 0,
    events: events.length,
  };
  for (const e of events) {
    if (e.workflowExecutionStartedEventAttributes) c.workflowStarted++;
    else if (e.activityTaskScheduledEventAttributes) c.activitiesScheduled++;
    else if (e.workflowExecutionSignaledEventAttributes) c.signals++;
    else if (e.timerStartedEventAttributes) c.timers++;
    else if (e.workflowExecutionUpdateAcceptedEventAttributes) c.updates++;
    else if (e.startChildWorkflowExecutionInitiatedEventAttributes) c.childWorkflows++;
    else if (e.signalExternalWorkflowExecutionInitiatedEventAttributes) c.externalSignals++;
    else if (e.upsertWorkflowSearchAttributesEventAttributes) c.upserts++;
  }
  c.actions =
    c.workflowStarted +
    c.activitiesScheduled +
    c.signals +
    c.timers +
    c.updates +
    c.childWorkflows +
    c.externalSignals;
  return c;
}

/** Why a history is not a happy-path one (one posting attempt that succeeded), and worker-side hiccups. */
function departures(events: HistoryEvent[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    const failed = e.activityTaskFailedEventAttributes?.failure;
    if (failed)
      out.push(
        `activity failed: ${failed.applicationFailureInfo?.type ?? failed.message?.slice(0, 60) ?? '?'}`,
      );
    else if (e.activityTaskTimedOutEventAttributes) {
      const type = e.activityTaskTimedOutEventAttributes.failure?.timeoutFailureInfo?.timeoutType;
      const names: Record<number, string> = {
        1: 'start-to-close',
        2: 'schedule-to-start',
        3: 'schedule-to-close',
        4: 'heartbeat',
      };
      out.push(`activity timed out (${names[Number(type)] ?? 'unknown'})`);
    } else if (e.workflowTaskTimedOutEventAttributes) out.push('workflow task timed out (no extra action)');
    else if (e.workflowTaskFailedEventAttributes) out.push('workflow task failed (no extra action)');
  }
  return out;
}

function meanCounts(list: ActionCounts[]): ActionCounts {
  const n = Math.max(1, list.length);
  const keys = Object.keys(actionCounts([])) as (keyof ActionCounts)[];
  const out = actionCounts([]);
  for (const k of keys) out[k] = list.reduce((s, c) => s + c[k], 0) / n;
  return out;
}

async function countActions(client: Client, workflowIds: string[]): Promise<ActionsResult> {
  const happy: ActionCounts[] = [];
  const all: ActionCounts[] = [];
  const reasons: Record<string, number> = {};
  for (const id of workflowIds) {
    const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
    const counts = actionCounts(events);
    all.push(counts);
    const why = departures(events);
    for (const r of why) reasons[r] = (reasons[r] ?? 0) + 1;
    const onePosting = counts.activitiesScheduled === 1 && !why.some((r) => r.startsWith('activity'));
    if (onePosting) happy.push(counts);
  }
  return {
    sampled: workflowIds.length,
    happyPath: happy.length,
    happy: meanCounts(happy),
    all: meanCounts(all),
    maxActionsHappy: Math.max(0, ...happy.map((c) => c.actions)),
    maxActionsAll: Math.max(0, ...all.map((c) => c.actions)),
    departures: reasons,
  };
}

// ---------------------------------------------------------------------------
// The benchmark

interface Env {
  log: (line: string) => void;
  logger: Logger;
  client: Client;
  rpc: RpcStats;
  address: string;
  serverPid?: number;
  sim: ImtSimulator;
  endpoints: Endpoints;
  config: ReturnType<typeof loadConfig>;
  metrics: ServiceMetrics;
  paymentBundle: WorkflowBundleWithSourceMap;
  bareBundle: WorkflowBundleWithSourceMap;
  agent: http.Agent;
  nextInvoice: number;
}

interface Sent extends Traced {
  transactionId: string;
  error?: string;
}

/** One measured run (or one round of an interleaved run). */
interface Round<T extends Traced> {
  items: T[];
  /** First send → last completion (bare) / last posting recorded by the simulator (payments). */
  seconds: number;
  /** First send → the moment 99% of the items were done (a retried straggler does not count). */
  seconds99: number;
  cpu: CpuRaw;
  rpc: RpcRaw;
  maxSendLagMs?: number;
}

function newPayment(env: Env, tag: string, i: number): PaymentRequest {
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

interface Running {
  stop(): Promise<void>;
}

async function runWorker(connection: NativeConnection, worker: Worker): Promise<Running> {
  const running = worker.run();
  let stopped: Promise<void> | undefined;
  return {
    // Idempotent: called when a variant ends and again by the cleanup on an error.
    stop: () =>
      (stopped ??= (async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
        await connection.close();
      })()),
  };
}

async function startPaymentsWorker(env: Env, taskQueue: string, tuning: WorkerTuning): Promise<Running> {
  const connection = await NativeConnection.connect({ address: env.address });
  const worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue,
    deps: {
      ...buildActivityDeps(env.config, env.endpoints, env.logger),
      temporalClient: env.client,
      metrics: env.metrics.activity,
    },
    workflowBundle: env.paymentBundle,
    tuning,
  });
  return runWorker(connection, worker);
}

async function startBareWorker(env: Env, taskQueue: string, tuning: WorkerTuning): Promise<Running> {
  const connection = await NativeConnection.connect({ address: env.address });
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue,
    workflowBundle: env.bareBundle,
    activities: { noop: async () => undefined },
    ...tuning,
  });
  return runWorker(connection, worker);
}

/** The ingress exactly as client/stack.ts builds it (metrics hooks and /metrics included). */
async function startIngress(env: Env, taskQueue: string): Promise<{ app: FastifyInstance; url: string }> {
  const app = buildIngress({
    client: env.client,
    namespace: 'default',
    taskQueue,
    integratorId: env.endpoints.ingressIntegratorId,
    confirmWaitMs: env.config.ingress.confirmWaitMs,
    unknownPaymentWaitMs: env.config.unknownPaymentWaitMs,
    logger: env.logger,
    imt: buildActivityDeps(env.config, env.endpoints, env.logger).imt,
    hooks: combineIngressHooks(env.metrics.ingressHooks, undefined),
    plugins: [env.metrics.ingressPlugin],
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { app, url: `http://127.0.0.1:${port}` };
}

async function bareRound(
  env: Env,
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

interface RunSpec {
  tag: string;
  n: number;
  /** Closed loop: this many in flight. */
  concurrency?: number;
  /** Open loop: arrivals per second. */
  rate?: number;
}

/**
 * Ends a payments round: fails on any error, waits for every posting, then for the close of
 * the runs answered 202 (so their last workflow task is counted in this round, not the next).
 */
async function endPaymentsRound(
  env: Env,
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
  const posted = await waitForPostings(env.sim, new Set(sent.map((s) => s.transactionId)), 300_000);
  const rpc = env.rpc.take();
  await Promise.all(
    sent.filter((s) => s.status !== 201).map((s) => env.client.workflow.getHandle(s.workflowId).result()),
  );
  env.rpc.take();
  const cpu = cpuSince(mark, env.serverPid);
  for (const s of sent) s.postedAt = posted.get(s.transactionId);
  const first = Math.min(...sent.map((s) => s.sentAt));
  const lastPosted = Math.max(...sent.map((s) => s.postedAt ?? 0));
  return {
    items: sent,
    seconds: (lastPosted - first) / 1000,
    seconds99: secondsTo99(
      first,
      sent.map((x) => x.postedAt ?? 0),
    ),
    cpu,
    rpc,
    maxSendLagMs,
  };
}

/** Payments through the ingress over keep-alive HTTP: closed loop (`concurrency`) or paced (`rate`). */
async function ingressRound(env: Env, ingressUrl: string, spec: RunSpec): Promise<Round<Sent>> {
  const url = new URL('/api/integration/invoice/post-payment', ingressUrl);
  const headers = { 'X-Integrator-ID': env.endpoints.ingressIntegratorId };
  const bodies = Array.from({ length: spec.n }, (_, i) => JSON.stringify(newPayment(env, spec.tag, i)));
  const sent: Sent[] = bodies.map((_, i) => {
    const transactionId = `bench-${spec.tag}-${i}`;
    return { transactionId, workflowId: workflowIds.payment(transactionId), sentAt: 0 };
  });
  const task = async (i: number) => {
    const s = sent[i];
    s.sentAt = Date.now();
    try {
      const answer = await postJson(env.agent, url, headers, bodies[i]);
      s.status = answer.status;
      if (answer.status !== 201 && answer.status !== 202)
        s.error = `HTTP ${answer.status}: ${answer.body.slice(0, 300)}`;
    } catch (err) {
      s.error = err instanceof Error ? err.message : String(err);
    }
    s.answeredAt = Date.now();
  };
  env.rpc.take();
  const mark = markCpu(env.serverPid);
  let maxSendLagMs: number | undefined;
  if (spec.rate !== undefined) maxSendLagMs = await openLoop(spec.n, spec.rate, task);
  else await closedLoop(spec.n, spec.concurrency ?? 1, task);
  return endPaymentsRound(env, spec, sent, mark, maxSendLagMs);
}

/** The same payment workflows, started by a client with the ingress's start options but no ingress. */
async function directRound(env: Env, taskQueue: string, spec: RunSpec): Promise<Round<Sent>> {
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
      const handle = await env.client.workflow.start<typeof paymentWorkflow>('paymentWorkflow', {
        workflowId: s.workflowId,
        taskQueue,
        args: [{ payment, receivedAt: new Date().toISOString() }],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        memo: {
          fingerprint: fingerprint(payment),
          amount: payment.amount,
          payment_method: payment.payment_method,
        },
        typedSearchAttributes: [
          { key: SA.TransactionId, value: payment.transaction_id },
          { key: SA.InvoiceNumber, value: payment.invoice_number },
          { key: SA.CustomerId, value: payment.customer },
          { key: SA.PaymentStatus, value: PaymentStatus.RECEIVED },
        ],
        staticSummary: paymentSummary(payment),
      });
      const outcome = await handle.result();
      s.status = outcome.status === PaymentStatus.POSTED ? 201 : 202;
    } catch (err) {
      s.error = err instanceof Error ? err.message : String(err);
    }
    s.answeredAt = Date.now();
  });
  return endPaymentsRound(env, spec, sent, mark);
}

async function summarizeBare(
  env: Env,
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

async function summarizePayments(
  env: Env,
  kind: PaymentRunResult['kind'],
  rounds: Round<Sent>[],
  spec: { concurrency?: number; rate?: number },
  sample: number,
): Promise<PaymentRunResult> {
  const sent = rounds.flatMap((r) => r.items);
  const seconds = rounds.reduce((s, r) => s + r.seconds, 0);
  const answeredSeconds = rounds.reduce(
    (s, r) =>
      s +
      (Math.max(...r.items.map((x) => x.answeredAt ?? 0)) - Math.min(...r.items.map((x) => x.sentAt))) / 1000,
    0,
  );
  const statuses: Record<string, number> = {};
  for (const s of sent) statuses[String(s.status)] = (statuses[String(s.status)] ?? 0) + 1;
  const lags = rounds.map((r) => r.maxSendLagMs).filter((x): x is number => x !== undefined);
  const slowest = await Promise.all(
    [...sent]
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
    perSecond: sent.length / seconds,
    perSecond99:
      rounds.reduce((t, r) => t + ninetyNine(r.items.length), 0) /
      rounds.reduce((t, r) => t + r.seconds99, 0),
    answeredPerSecond: sent.length / answeredSeconds,
    latencyMs: percentiles(sent.map((s) => (s.postedAt ?? 0) - s.sentAt)),
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
      evenlySpaced(sent, sample),
      kind === 'ingress' ? 'HTTP send → workflow started (ingress)' : 'client start → workflow started',
    ),
  };
}

async function probeDescribes(
  env: Env,
  existingIds: string[],
  calls: number,
  concurrency: number,
): Promise<DescribeProbe> {
  const run = async (idFor: (i: number) => string): Promise<ProbeCost> => {
    const ms: number[] = [];
    const mark = markCpu(env.serverPid);
    const t0 = performance.now();
    await closedLoop(calls, concurrency, async (i) => {
      const t = performance.now();
      try {
        await env.client.workflow.getHandle(idFor(i)).describe();
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
      ms.push(performance.now() - t);
    });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuUse([cpuSince(mark, env.serverPid)], calls);
    return {
      perSecond: calls / seconds,
      meanMs: percentiles(ms).mean,
      serverCpuMsPerCall: cpu.serverCpuMsPerItem,
      nodeCpuMsPerCall: cpu.nodeCpuMsPerItem,
    };
  };
  return {
    calls,
    concurrency,
    found: await run((i) => existingIds[i % existingIds.length]),
    notFound: await run((i) => workflowIds.void(`bench-probe-${i}`)),
  };
}

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return n;
}

/** Seconds from `t0` until 99% of `doneAt` (ms) had happened. */
function secondsTo99(t0: number, doneAt: number[]): number {
  const sorted = [...doneAt].sort((a, b) => a - b);
  return (sorted[Math.max(0, Math.ceil(0.99 * sorted.length) - 1)] - t0) / 1000;
}

const ninetyNine = (n: number) => Math.ceil(0.99 * n);

/** Round r's share of n items split over `rounds` rounds. */
function share(n: number, rounds: number, r: number): number {
  return Math.floor(((r + 1) * n) / rounds) - Math.floor((r * n) / rounds);
}

/** The tuned variant: more workflow-task slots and a cache big enough to keep every in-flight run sticky. */
export const TUNED: WorkerTuning = {
  maxConcurrentWorkflowTaskExecutions: 100,
  maxConcurrentActivityTaskExecutions: 200,
  maxCachedWorkflows: 2000,
};

export async function runPaymentsBench(opts: PaymentsBenchOptions = {}): Promise<PaymentsBenchResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const n = opts.payments ?? envNumber('BENCH_PAYMENTS', 1000);
  const concurrency = opts.concurrency ?? envNumber('BENCH_CONCURRENCY', 200);
  const rounds = Math.max(1, Math.floor(opts.rounds ?? envNumber('BENCH_ROUNDS', 2)));
  const latencyRate = opts.latencyRate ?? envNumber('BENCH_LATENCY_RATE', 50);
  const latencySeconds = opts.latencySeconds ?? envNumber('BENCH_LATENCY_SECONDS', 20);
  const sample = opts.historySample ?? envNumber('BENCH_HISTORY_SAMPLE', 50);
  const warmup = opts.warmup ?? envNumber('BENCH_WARMUP', 50);
  const directN = opts.directPayments ?? envNumber('BENCH_DIRECT', Math.round(n / 2));
  const tuned = opts.tuned ?? ['1', 'true', 'yes'].includes(process.env.BENCH_TUNED ?? '');
  const startedAt = new Date().toISOString();
  const notes: string[] = [];

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'imt-ic-bench-'));
  const logLevel = process.env.BENCH_LOG_LEVEL ?? 'warn';
  const config = loadConfig({
    DATA_DIR: tmp,
    LOG_LEVEL: logLevel,
    IMT_SIMULATOR_PORT: String(await freePort()),
    IC_SIMULATOR_PORT: String(await freePort()),
    INGRESS_PORT: String(await freePort()),
    METRICS_PORT: '0',
  });
  const logger = createLogger({ level: config.logLevel });
  installWorkerRuntime({ logger, metricsPort: 0 });
  const cleanups: (() => Promise<void>)[] = [];

  try {
    log(
      `[bench] Temporal dev server on a SQLite file (${SQLITE_PRAGMAS.filter((a) => a !== '--sqlite-pragma').join(', ')}) in ${tmp}`,
    );
    const serverLogLevel =
      (['debug', 'info', 'warn', 'error'] as const).find((l) => l === process.env.BENCH_SERVER_LOG_LEVEL) ??
      'error';
    const dev = await startDevServer({
      dbFilename: path.join(tmp, 'temporal.sqlite'),
      namespace: 'default',
      log,
      serverLogLevel,
    });
    cleanups.push(() => dev.teardown());
    const serverPid = findDevServerPid();
    if (serverPid === undefined)
      notes.push('The dev server process was not found under /proc: its CPU time is not reported.');

    const endpoints = resolveEndpoints(config);
    const sim = await startImtSimulator({
      port: config.imt.simulatorPort,
      integratorId: endpoints.imt.integratorId,
      cycles: [],
    });
    cleanups.push(() => sim.close());

    const rpc = new RpcStats();
    const connection = await Connection.connect({
      address: dev.address,
      interceptors: [rpc.interceptor, makeGrpcRetryInterceptor(defaultGrpcRetryOptions())],
    });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default' });

    log('[bench] bundling workflows');
    const [paymentBundle, bareBundle] = await Promise.all([
      bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH }),
      bundleWorkflowCode({ workflowsPath: require.resolve('./workflows') }),
    ]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(concurrency, 256) });
    cleanups.push(async () => agent.destroy());

    const env: Env = {
      log,
      logger,
      client,
      rpc,
      address: dev.address,
      serverPid,
      sim,
      endpoints,
      config,
      metrics: createMetrics(),
      paymentBundle,
      bareBundle,
      agent,
      nextInvoice: 1,
    };

    const variants: VariantResult[] = [];
    let latency: PaymentRunResult | undefined;
    let latencyAtSustainableRate: PaymentRunResult | undefined;
    let actions: ActionsResult | undefined;
    let describeProbe: DescribeProbe | undefined;
    const plan: { name: string; tuning: WorkerTuning }[] = [{ name: 'defaults', tuning: {} }];
    if (tuned) plan.push({ name: 'tuned', tuning: TUNED });

    for (const { name, tuning } of plan) {
      log(
        `[bench] variant "${name}" ${JSON.stringify(tuning)}: ${rounds} interleaved round(s) of bare / ingress${directN > 0 ? ' / direct' : ''}`,
      );
      const bareQueue = `bench-bare-${name}`;
      const paymentsQueue = `bench-payments-${name}`;
      const bareWorker = await startBareWorker(env, bareQueue, tuning);
      cleanups.push(() => bareWorker.stop());
      const worker = await startPaymentsWorker(env, paymentsQueue, tuning);
      cleanups.push(() => worker.stop());
      const ingress = await startIngress(env, paymentsQueue);
      let ingressClosed: Promise<void> | undefined;
      const closeIngress = () => (ingressClosed ??= ingress.app.close());
      cleanups.push(closeIngress);

      // Warm-up, not measured: JIT, workflow contexts, keep-alive connections.
      await bareRound(env, bareQueue, `${name}-warmup`, warmup, concurrency);
      await ingressRound(env, ingress.url, { tag: `${name}-warmup`, n: warmup, concurrency });
      if (directN > 0)
        await directRound(env, paymentsQueue, { tag: `${name}-warmup-direct`, n: warmup, concurrency });

      // Interleaved rounds (bare, ingress, direct; then reversed) so that a change in the machine's
      // other load over time hits every kind alike and the ratio stays fair.
      const bareRounds: Round<Traced>[] = [];
      const ingressRounds: Round<Sent>[] = [];
      const directRounds: Round<Sent>[] = [];
      for (let r = 0; r < rounds; r++) {
        const kinds: ('bare' | 'ingress' | 'direct')[] = [
          'bare',
          'ingress',
          ...(directN > 0 ? ['direct' as const] : []),
        ];
        if (r % 2 === 1) kinds.reverse();
        for (const kind of kinds) {
          await sleep(500);
          if (kind === 'bare') {
            const round = await bareRound(env, bareQueue, `${name}-r${r}`, share(n, rounds, r), concurrency);
            bareRounds.push(round);
            log(
              `  round ${r + 1} bare: ${round.items.length} workflows, ${(round.items.length / round.seconds).toFixed(1)}/s`,
            );
          } else if (kind === 'ingress') {
            const round = await ingressRound(env, ingress.url, {
              tag: `${name}-r${r}`,
              n: share(n, rounds, r),
              concurrency,
            });
            ingressRounds.push(round);
            log(
              `  round ${r + 1} ingress: ${round.items.length} payments, ${(round.items.length / round.seconds).toFixed(1)}/s`,
            );
          } else {
            const round = await directRound(env, paymentsQueue, {
              tag: `${name}-r${r}-direct`,
              n: share(directN, rounds, r),
              concurrency,
            });
            directRounds.push(round);
            log(
              `  round ${r + 1} direct: ${round.items.length} payments, ${(round.items.length / round.seconds).toFixed(1)}/s`,
            );
          }
        }
      }
      await bareWorker.stop();
      const bare = await summarizeBare(env, bareRounds, concurrency, sample);
      const payments = await summarizePayments(env, 'ingress', ingressRounds, { concurrency }, sample);
      const direct = directRounds.length
        ? await summarizePayments(env, 'direct', directRounds, { concurrency }, sample)
        : undefined;

      if (name === 'defaults') {
        await sleep(1000);
        const paced = await ingressRound(env, ingress.url, {
          tag: `${name}-latency`,
          n: Math.max(1, Math.round(latencyRate * latencySeconds)),
          rate: latencyRate,
        });
        latency = await summarizePayments(env, 'ingress', [paced], { rate: latencyRate }, sample);
        log(
          `  paced ${latencyRate}/s: ${latency.perSecond.toFixed(1)}/s posted, p99 ${latency.latencyMs.p99.toFixed(0)} ms`,
        );
        if (latency.perSecond < 0.95 * latencyRate) {
          // Report what the machine does at a rate it can sustain, too.
          const rate = Math.max(1, Math.floor(0.6 * Math.max(payments.perSecond, latency.perSecond)));
          log(`[bench] ${latencyRate}/s was not sustained; paced run at ${rate}/s`);
          await sleep(1000);
          const slower = await ingressRound(env, ingress.url, {
            tag: `${name}-latency-${rate}`,
            n: Math.max(1, Math.round(rate * latencySeconds)),
            rate,
          });
          latencyAtSustainableRate = await summarizePayments(env, 'ingress', [slower], { rate }, sample);
          log(`  paced ${rate}/s: p99 ${latencyAtSustainableRate.latencyMs.p99.toFixed(0)} ms`);
        }
        const sampled = evenlySpaced(
          ingressRounds.flatMap((r) => r.items),
          sample,
        ).map((s) => s.workflowId);
        actions = await countActions(client, sampled);
        describeProbe = await probeDescribes(env, sampled, 1000, 50);
      }
      variants.push({ name, tuning, bare, payments, direct, ratio: payments.perSecond / bare.perSecond });
      await closeIngress();
      await worker.stop();
    }
    if (!latency || !actions) throw new Error('the defaults variant did not run');

    const latencySustained = latency.perSecond >= 0.95 * latencyRate;
    if (!latencySustained)
      notes.push(
        `The machine did not sustain ${latencyRate}/s: it posted ${latency.perSecond.toFixed(1)}/s during the paced run.`,
      );

    const imtPostCalls: Record<string, number> = {};
    for (const entry of sim.requestLog())
      if (entry.method === 'POST' && entry.path.endsWith('/post-payment'))
        imtPostCalls[String(entry.status)] = (imtPostCalls[String(entry.status)] ?? 0) + 1;

    return {
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
      },
      server: {
        storage: 'SQLite file',
        pragmas: SQLITE_PRAGMAS.filter((a) => a !== '--sqlite-pragma'),
        address: dev.address,
      },
      logLevel,
      variants,
      latency,
      latencySustained,
      latencyAtSustainableRate,
      actions,
      describeProbe,
      imtPostCalls,
      notes,
    };
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        log(`[bench] cleanup: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
