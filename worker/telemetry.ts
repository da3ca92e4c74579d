/**
 * The Temporal SDK runtime of a process: its Prometheus endpoint (SDK metrics: workflow
 * and activity task latencies, schedule-to-start, poller and slot usage, sticky cache…)
 * and its logger, which we point at pino so SDK, workflow (`log` from
 * @temporalio/workflow) and `Context.current().log` lines come out as the same structured
 * JSON as everything else — carrying workflowId / runId / activityType, which is what
 * makes a log search line up with the Temporal UI.
 *
 * The runtime is a per-process singleton that must be installed before anything creates
 * a NativeConnection, a Worker or a dev server. `installWorkerRuntime` is therefore
 * called first thing by `npm run worker` and by startStack, and is a no-op when a
 * runtime exists already.
 */
import { Runtime, type LogLevel, type LogMetadata, type Logger as SdkLogger } from '@temporalio/worker';
import type { Logger } from '../common/logger';
import type { MetricCounter, MetricGauge, MetricHistogram } from '@temporalio/common';
import type { ActivityMetrics } from '../activities';
import { HISTOGRAMS, activityMetricsOf, type MetricSink } from '../activities/metric-catalogue';

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Adapts pino to the SDK's Logger interface. */
export class PinoSdkLogger implements SdkLogger {
  constructor(private readonly pino: Logger) {}
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    // SDK metadata keys may be symbols; pino serialises only string keys, which is what we want.
    this.pino[PINO_LEVEL[level]]({ ...(meta ?? {}) }, message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

export interface WorkerRuntimeOptions {
  logger: Logger;
  /** Port of the SDK's Prometheus endpoint; 0 = no SDK metrics. */
  metricsPort: number;
  /** METRICS_HOST; default loopback (a Prometheus server elsewhere needs 0.0.0.0 and a firewall). */
  metricsHost?: string;
}

export interface WorkerRuntimeResult {
  /** `http://host:port/metrics` of the SDK endpoint when it is serving. */
  metricsUrl?: string;
  /** False when a runtime already existed in this process (nothing was changed). */
  installed: boolean;
}

export function installWorkerRuntime(opts: WorkerRuntimeOptions): WorkerRuntimeResult {
  if (Runtime._instance !== undefined) return { installed: false };
  const logger = new PinoSdkLogger(opts.logger.child({ component: 'temporal-sdk' }));
  if (opts.metricsPort > 0) {
    const bindAddress = `${opts.metricsHost ?? '127.0.0.1'}:${opts.metricsPort}`;
    try {
      Runtime.install({
        logger,
        telemetryOptions: {
          metrics: { prometheus: { bindAddress, histogramBucketOverrides: secondsBuckets() } },
        },
      });
      return { installed: true, metricsUrl: `http://127.0.0.1:${opts.metricsPort}/metrics` };
    } catch (err) {
      // Typically the port is taken (e.g. `npm start` and `npm run worker` on one machine):
      // metrics are worth a warning, not worth refusing to process payments.
      opts.logger.warn(
        { metricsPort: opts.metricsPort, err: err instanceof Error ? err.message : String(err) },
        'SDK metrics endpoint not started; set METRICS_PORT to a free port (0 = off)',
      );
    }
  }
  Runtime.install({ logger });
  return { installed: true };
}

/**
 * The activities' business metrics (activities/metric-catalogue.ts) on the SDK's metric
 * meter, so that a stand-alone worker (`npm run worker`) exports them on its SDK
 * Prometheus endpoint next to the SDK's own metrics, under the same names prom-client
 * gives them in the all-in-one process (app/metrics.ts) — one set of alert rules and one
 * dashboard for both shapes. Series carry the SDK's global tags (service_name) as well.
 */
export function sdkActivityMetrics(): Required<ActivityMetrics> {
  const meter = Runtime.instance().metricMeter;
  const counters = new Map<string, MetricCounter>();
  const gauges = new Map<string, MetricGauge>();
  const histograms = new Map<string, MetricHistogram>();
  const once = <T>(map: Map<string, T>, name: string, make: () => T): T => {
    let found = map.get(name);
    if (!found) map.set(name, (found = make()));
    return found;
  };
  const sink: MetricSink = {
    add: (spec, labels, value) =>
      once(counters, spec.name, () => meter.createCounter(spec.name, '', spec.help)).add(value, labels),
    set: (spec, labels, value) =>
      once(gauges, spec.name, () => meter.createGauge(spec.name, 'float', '', spec.help)).set(value, labels),
    observe: (spec, labels, value) =>
      once(histograms, spec.name, () => meter.createHistogram(spec.name, 'float', '', spec.help)).record(
        value,
        labels,
      ),
  };
  return activityMetricsOf(sink);
}

/** The SDK's default buckets are milliseconds; ours are seconds (prom-client's, same bounds). */
function secondsBuckets(): Record<string, number[]> {
  return Object.fromEntries(HISTOGRAMS.map((h) => [h.name, h.buckets]));
}
