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
import type { ActivityMetrics } from '../activities';

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
      Runtime.install({ logger, telemetryOptions: { metrics: { prometheus: { bindAddress } } } });
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
 * The activities' business counters (payments posted / parked, failed attempts) on the
 * SDK's metric meter, so that a stand-alone worker (`npm run worker`) exports them on
 * its SDK Prometheus endpoint next to the SDK's own metrics. (In the all-in-one process
 * they go to prom-client instead and show on the ingress's /metrics: app/metrics.ts.)
 */
export function sdkActivityMetrics(): Required<ActivityMetrics> {
  const meter = Runtime.instance().metricMeter;
  const posted = meter.createCounter('imt_ic_payments_posted', '', 'Payments IMT confirmed.');
  const parked = meter.createCounter(
    'imt_ic_payments_parked',
    '',
    'Postings IMT refused for good (NEEDS_ATTENTION).',
  );
  const failures = meter.createCounter(
    'imt_ic_payment_attempt_failures',
    '',
    'Failed posting attempts by type.',
  );
  return {
    paymentsPosted: { inc: () => posted.add(1) },
    paymentsParked: { inc: () => parked.add(1) },
    paymentAttemptFailures: { inc: (type: string) => failures.add(1, { type }) },
  };
}
