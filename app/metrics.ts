/**
 * Prometheus metrics of the service process (prom-client): what the ingress received,
 * accepted and rejected (by reason), how long it took to answer, and — from the
 * activities running in the same process — how many payments were posted to IMT or
 * parked for a person.
 *
 * The Temporal SDK's own runtime metrics (workflow/activity task latencies, poller
 * counts, …) come from the SDK's Prometheus exporter (worker/telemetry.ts): the native SDK
 * runtime and prom-client cannot share a registry. A process serves one endpoint on
 * METRICS_HOST:METRICS_PORT (loopback by default; 0 = off) — never on the ingress's port,
 * which IC reaches: `serveMetrics` below, which appends the SDK exporter's text when the
 * process runs a worker too.
 *
 * Label values are call names, reasons and status codes only — never transaction IDs,
 * invoice numbers or customers, which would both leak personal data into a metrics
 * system and explode its cardinality.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActivityMetrics } from '../activities';
import { activityMetricsOf, type AnySpec, type MetricSink } from '../activities/metric-catalogue';
import type { IngressHooks } from '../client/ingress/server';

export const METRICS_PATH = '/metrics';

/** Calls that hand an event to Temporal; a 2xx answer to one of them means "accepted". */
const INTAKE_CALLS = new Set(['post-payment', 'void-payment', 'ach-reject']);

/** Probes and scrapes are not traffic: keeping them out keeps the latency histogram honest. */
const UNMEASURED_CALLS = new Set([METRICS_PATH, '/healthz']);

/**
 * One name per call whichever hook reports it: handlers say `post-payment`, the server's
 * request hooks derive `invoice/post-payment` from the route; both become `post-payment`.
 */
export function callName(call: string): string {
  return call.replace(/^\/?api\/integration\//, '').replace(/^invoice\//, '');
}

export interface ServiceMetrics {
  registry: Registry;
  /** Pass as `hooks` to buildIngress / `ingressHooks` to startStack. */
  ingressHooks: Required<IngressHooks>;
  /** Pass as `metrics` in the activity dependencies of a worker in this process. */
  activity: Required<ActivityMetrics>;
  /** The exposition text, as a scrape would see it (used by the demo and tests). */
  scrape(): Promise<string>;
}

export interface MetricsOptions {
  /** Node.js process metrics (event loop lag, heap, GC). Default true. */
  processMetrics?: boolean;
}

const PREFIX = 'imt_ic_';

/** The instruments, registered on `registry` under `prefix`. */
function createInstruments(registry: Registry, prefix = PREFIX) {
  const received = new Counter({
    name: `${prefix}ingress_received_total`,
    help: 'Authenticated calls that reached an ingress handler, by call.',
    labelNames: ['call'] as const,
    registers: [registry],
  });
  const accepted = new Counter({
    name: `${prefix}ingress_accepted_total`,
    help: 'Intake calls answered 2xx (durably handed to Temporal: 201 confirmed or 202 accepted), by call.',
    labelNames: ['call', 'status'] as const,
    registers: [registry],
  });
  const rejected = new Counter({
    name: `${prefix}ingress_rejected_total`,
    help: 'Calls the ingress refused itself, by call and reason (auth, invalid_body, malformed_json, too_large, media_type, conflict). IMT refusing a payment is counted by payments_parked_total.',
    labelNames: ['call', 'reason'] as const,
    registers: [registry],
  });
  const answered = new Counter({
    name: `${prefix}ingress_answers_total`,
    help: 'Ingress answers by call and HTTP status.',
    labelNames: ['call', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: `${prefix}ingress_request_duration_seconds`,
    help: 'Time from receiving an ingress call to answering it, by call and HTTP status.',
    labelNames: ['call', 'status'] as const,
    // Spans an immediate 201 (tens of ms) up to the 5 s confirmation window and beyond.
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 7.5, 10],
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: `${prefix}ingress_in_flight`,
    help: 'Payment / void / ACH-reject calls the ingress holds right now (admission control; 429 past INGRESS_MAX_IN_FLIGHT, counted as ingress_rejected_total{reason="overloaded"}).',
    registers: [registry],
  });
  return {
    received,
    accepted,
    rejected,
    answered,
    latency,
    inFlight,
  };
}

type Instruments = ReturnType<typeof createInstruments>;

/** Why intake calls are refused: the ingress's own reasons (client/ingress/). */
const REJECT_REASONS = [
  'auth',
  'invalid_body',
  'malformed_json',
  'too_large',
  'media_type',
  'conflict',
  'amount_mismatch',
  'not_echeck',
  'overloaded',
  'rate_limited',
];

/**
 * The intake series start at 0, so `rate()` sees the first 202 or 429 (the posting SLO and
 * shedding alerts read them) and the dashboard shows 0 rather than "no data".
 */
function startIntakeCounters(m: Instruments): void {
  for (const call of INTAKE_CALLS) {
    m.received.inc({ call }, 0);
    for (const status of ['201', '202']) m.accepted.inc({ call, status }, 0);
    for (const reason of REJECT_REASONS) m.rejected.inc({ call, reason }, 0);
  }
}

function ingressHooksOf(m: Instruments): Required<IngressHooks> {
  return {
    onReceived(call) {
      m.received.inc({ call: callName(call) });
    },
    onRejected(call, reason) {
      m.rejected.inc({ call: callName(call), reason });
    },
    onInFlight(count) {
      m.inFlight.set(count);
    },
    onAnswered(rawCall, status, seconds) {
      const call = callName(rawCall);
      if (UNMEASURED_CALLS.has(call)) return;
      const code = String(status);
      m.answered.inc({ call, status: code });
      m.latency.observe({ call, status: code }, seconds);
      if (INTAKE_CALLS.has(call) && status >= 200 && status < 300) m.accepted.inc({ call, status: code });
    },
  };
}

/**
 * Creates a fresh registry and the instruments on it. One per process in production;
 * tests may create several (each has its own registry, so nothing is shared globally).
 */
export function createMetrics(opts: MetricsOptions = {}): ServiceMetrics {
  const registry = new Registry();
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: PREFIX });
  const m = createInstruments(registry);
  startIntakeCounters(m);
  const activity = activityMetricsOf(promClientSink(registry));

  return {
    registry,
    ingressHooks: ingressHooksOf(m),
    activity,
    scrape: () => registry.metrics(),
  };
}

/** A loopback port free right now (for the SDK exporter, which serveMetrics reads). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export interface MetricsServer {
  /** `http://host:port/metrics` */
  url: string;
  close(): Promise<void>;
}

/** How long a scrape waits for the SDK exporter's text before answering without it. */
const SDK_SCRAPE_TIMEOUT_MS = 2_000;

/**
 * GET /metrics on its own port: the registry's text, then (`sdkMetricsUrl`) the SDK exporter's,
 * which then listens on loopback only. Nothing else is served.
 */
export async function serveMetrics(
  registry: Registry,
  opts: { host: string; port: number; sdkMetricsUrl?: string },
): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== METRICS_PATH) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    void (async () => {
      let text = await registry.metrics();
      if (opts.sdkMetricsUrl) {
        try {
          const sdk = await fetch(opts.sdkMetricsUrl, { signal: AbortSignal.timeout(SDK_SCRAPE_TIMEOUT_MS) });
          text += `\n${await sdk.text()}`;
        } catch {
          // Business metrics are still worth a scrape without the SDK's.
        }
      }
      res.writeHead(200, { 'Content-Type': registry.contentType }).end(text);
    })().catch(() => res.writeHead(500).end());
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}${METRICS_PATH}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The business metrics of activities/metric-catalogue.ts as prom-client instruments on `registry`. */
function promClientSink(registry: Registry): MetricSink {
  const made = new Map<string, Counter | Gauge | Histogram>();
  const instrument = (spec: AnySpec) => {
    let found = made.get(spec.name);
    if (!found) {
      const base = {
        name: spec.name,
        help: spec.help,
        labelNames: Object.keys(spec.labels),
        registers: [registry],
      };
      found =
        spec.kind === 'counter'
          ? new Counter(base)
          : spec.kind === 'gauge'
            ? new Gauge(base)
            : new Histogram({ ...base, buckets: spec.buckets });
      made.set(spec.name, found);
    }
    return found;
  };
  return {
    add: (spec, labels, value) => (instrument(spec) as Counter).inc(labels, value),
    set: (spec, labels, value) => (instrument(spec) as Gauge).set(labels, value),
    observe: (spec, labels, value) => (instrument(spec) as Histogram).observe(labels, value),
  };
}

/**
 * Reads one sample from Prometheus exposition text, e.g.
 * `sampleValue(text, 'imt_ic_ingress_received_total', { call: 'post-payment' })`.
 * Returns 0 when the series does not exist yet (a counter that never moved).
 */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = new Map<string, string>();
    for (const pair of (match[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) present.set(pair[1], pair[2]);
    if (wanted.every(([k, v]) => present.get(k) === v)) return Number(match[4]);
  }
  return 0;
}

/** Calls every given hook set in turn (e.g. the metrics hooks plus a benchmark's own). */
export function combineIngressHooks(...sets: (IngressHooks | undefined)[]): IngressHooks {
  const present = sets.filter((s): s is IngressHooks => s !== undefined);
  return {
    onReceived: (call) => present.forEach((s) => s.onReceived?.(call)),
    onRejected: (call, reason) => present.forEach((s) => s.onRejected?.(call, reason)),
    onAnswered: (call, status, seconds) => present.forEach((s) => s.onAnswered?.(call, status, seconds)),
    onInFlight: (count) => present.forEach((s) => s.onInFlight?.(count)),
  };
}
