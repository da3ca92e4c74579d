/**
 * The business metrics the worker records, in one place: name, help, labels and the
 * bounded set of values each label takes. Two back ends export them under the same names
 * (the alert rules in deploy/prometheus/ and the dashboard in deploy/grafana/ query them):
 * prom-client on the ingress's /metrics in the all-in-one process (app/metrics.ts), and the
 * Temporal SDK's Prometheus endpoint of a stand-alone worker (worker/telemetry.ts). Each
 * back end is a `MetricSink`; `activityMetricsOf` maps what happened to metric updates once.
 *
 * Counters are started at 0 for every label value, so `rate()` and `increase()` see the
 * first event and a dashboard shows 0 instead of "no data".
 */
import { CALL_OUTCOMES, type CallObserver } from '../integrations/http';
import { DIFFERENCE_KINDS, FailureType, ReconcileKind } from '../domain';
import type { ActivityMetrics, ExportStage, ScheduledJob } from './deps';

export interface MetricSpec {
  /** The full exposition name (counters end in `_total`). */
  name: string;
  help: string;
  labels: Readonly<Record<string, readonly string[]>>;
}
export interface CounterSpec extends MetricSpec {
  kind: 'counter';
}
export interface GaugeSpec extends MetricSpec {
  kind: 'gauge';
}
export interface HistogramSpec extends MetricSpec {
  kind: 'histogram';
  /** Upper bounds in seconds. */
  buckets: number[];
}
export type AnySpec = CounterSpec | GaugeSpec | HistogramSpec;

type Labels = Record<string, string>;

/** Where metric updates go: prom-client or the SDK's meter. */
export interface MetricSink {
  add(spec: CounterSpec, labels: Labels, value: number): void;
  set(spec: GaugeSpec, labels: Labels, value: number): void;
  observe(spec: HistogramSpec, labels: Labels, value: number): void;
}

const counter = (name: string, help: string, labels: MetricSpec['labels'] = {}): CounterSpec => ({
  kind: 'counter',
  name,
  help,
  labels,
});

/** What a scheduled job's last success is recorded under (bounded: one per Schedule kind). */
const SCHEDULED_JOBS: readonly ScheduledJob[] = ['export', 'reconcile'];
const EXPORT_STAGES: readonly ExportStage[] = ['build', 'upload'];
const OK_ERROR = ['ok', 'error'] as const;

const IMT_CALLS = [
  'post-payment',
  'reverse-payment',
  'list-invoices',
  'list-payments',
  'invoice-detail',
  'invoice-pdf',
  'other',
];
const IC_CALLS = ['UploadInvoiceFile', 'ViewInvoiceByInvoiceNumber'];

/** Seconds: from a fast HTTP call to a long export build or reconciliation. */
const JOB_BUCKETS = [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];
const CALL_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120];

export const METRICS = {
  paymentsPosted: counter(
    'imt_ic_payments_posted_total',
    'Payments IMT confirmed (post-payment answered 2xx), counted by the worker that posted them.',
  ),
  paymentsParked: counter(
    'imt_ic_payments_parked_total',
    'Payment postings IMT refused for good (the payment waits in NEEDS_ATTENTION for an operator).',
  ),
  paymentAttemptFailures: counter(
    'imt_ic_payment_attempt_failures_total',
    'Failed posting attempts to IMT, by failure type (ServiceUnavailable, RateLimited, InvalidPost, …).',
    // The fixed set of failure types (domain/failures.ts), each started at 0 so alerts see it.
    { type: Object.values(FailureType) },
  ),
  outboundCalls: counter(
    'imt_ic_outbound_calls_total',
    'Calls to IMT and IC by service, call and outcome (ok, refused = IC Success=false, 4xx, 5xx, timeout, network, invalid-response).',
    { service: ['imt', 'ic'], call: [], outcome: CALL_OUTCOMES },
  ),
  outboundDuration: {
    kind: 'histogram',
    name: 'imt_ic_outbound_call_duration_seconds',
    help: 'Duration of calls to IMT and IC, by service and call.',
    labels: { service: ['imt', 'ic'], call: [] },
    buckets: CALL_BUCKETS,
  } satisfies HistogramSpec,
  exportFiles: counter(
    'imt_ic_export_files_total',
    'Invoice files built from IMT and uploaded to IC, by stage (build, upload) and outcome (ok, error).',
    { stage: EXPORT_STAGES, outcome: OK_ERROR },
  ),
  exportInvoices: counter(
    'imt_ic_export_invoices_total',
    'Invoices of built files, by result: written to the file, or left out (missing a required field; listed in the report).',
    { result: ['written', 'left_out'] },
  ),
  exportDuration: {
    kind: 'histogram',
    name: 'imt_ic_export_duration_seconds',
    help: 'Duration of one export stage attempt (build: IMT listing → file; upload: file → IC), by stage and outcome.',
    labels: { stage: EXPORT_STAGES, outcome: OK_ERROR },
    buckets: JOB_BUCKETS,
  } satisfies HistogramSpec,
  reconciliations: counter(
    'imt_ic_reconciliations_total',
    'Reconciliation attempts of one biller day, by outcome (ok = report written, error = attempt failed).',
    { outcome: OK_ERROR },
  ),
  reconciliationDuration: {
    kind: 'histogram',
    name: 'imt_ic_reconciliation_duration_seconds',
    help: 'Duration of one reconciliation attempt, by outcome.',
    labels: { outcome: OK_ERROR },
    buckets: JOB_BUCKETS,
  } satisfies HistogramSpec,
  reconciliationDifferences: {
    kind: 'gauge',
    name: 'imt_ic_reconciliation_differences',
    help: 'Rows of the last finished reconciliation by kind (IN_FLIGHT is not a difference: runs still on their way).',
    labels: { kind: [...DIFFERENCE_KINDS, ReconcileKind.IN_FLIGHT] },
  } satisfies GaugeSpec,
  scheduleLastSuccess: {
    kind: 'gauge',
    name: 'imt_ic_schedule_last_success_timestamp_seconds',
    help: 'When the job a Schedule runs last succeeded (export: a file uploaded to IC; reconcile: a day reconciled), Unix seconds. Resets when the worker restarts.',
    labels: { schedule: SCHEDULED_JOBS },
  } satisfies GaugeSpec,
} as const;

/** Histograms a back end must know before recording (the SDK's bucket overrides). */
export const HISTOGRAMS: HistogramSpec[] = [
  METRICS.outboundDuration,
  METRICS.exportDuration,
  METRICS.reconciliationDuration,
];

/** Every label combination of a spec whose labels are all enumerated (for starting counters at 0). */
export function labelCombinations(spec: MetricSpec): Labels[] {
  let combos: Labels[] = [{}];
  for (const [name, values] of Object.entries(spec.labels)) {
    if (values.length === 0) return [];
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [name]: v })));
  }
  return combos;
}

/** Starts every enumerable counter series at 0; outbound calls per service with their own call names. */
export function startCounters(sink: MetricSink): void {
  for (const spec of Object.values(METRICS)) {
    if (spec.kind !== 'counter') continue;
    for (const labels of labelCombinations(spec)) sink.add(spec, labels, 0);
  }
  for (const [service, calls] of [
    ['imt', IMT_CALLS],
    ['ic', IC_CALLS],
  ] as const) {
    for (const call of calls) {
      for (const outcome of CALL_OUTCOMES) sink.add(METRICS.outboundCalls, { service, call, outcome }, 0);
    }
  }
}

/** The activities' metrics (ActivityMetrics) and the HTTP clients' call observer on one sink. */
export function activityMetricsOf(sink: MetricSink): Required<ActivityMetrics> {
  startCounters(sink);
  const onCall: CallObserver = (service, call, outcome, seconds) => {
    sink.add(METRICS.outboundCalls, { service, call, outcome }, 1);
    sink.observe(METRICS.outboundDuration, { service, call }, seconds);
  };
  return {
    paymentsPosted: { inc: () => sink.add(METRICS.paymentsPosted, {}, 1) },
    paymentsParked: { inc: () => sink.add(METRICS.paymentsParked, {}, 1) },
    paymentAttemptFailures: { inc: (type) => sink.add(METRICS.paymentAttemptFailures, { type }, 1) },
    onCall,
    exportStage: {
      done(stage, outcome, seconds) {
        sink.add(METRICS.exportFiles, { stage, outcome }, 1);
        sink.observe(METRICS.exportDuration, { stage, outcome }, seconds);
      },
    },
    exportInvoices: {
      add(written, leftOut) {
        sink.add(METRICS.exportInvoices, { result: 'written' }, written);
        sink.add(METRICS.exportInvoices, { result: 'left_out' }, leftOut);
      },
    },
    reconciliation: {
      done(outcome, seconds, byKind) {
        sink.add(METRICS.reconciliations, { outcome }, 1);
        sink.observe(METRICS.reconciliationDuration, { outcome }, seconds);
        if (!byKind) return;
        for (const kind of METRICS.reconciliationDifferences.labels.kind) {
          sink.set(METRICS.reconciliationDifferences, { kind }, byKind[kind as ReconcileKind] ?? 0);
        }
      },
    },
    scheduledJobSucceeded: {
      set: (schedule) => sink.set(METRICS.scheduleLastSuccess, { schedule }, Date.now() / 1000),
    },
  };
}
