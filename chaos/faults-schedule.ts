/**
 * The fault schedule, laid over the load phase (times are fractions of it): partner faults
 * through the simulators' switchable failure modes (simulators/faults.ts), and kills /
 * restarts of the real processes. Every step is logged with its time for the report.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultConfig } from '../simulators/faults';

export interface ChaosControls {
  imtFaults(patch: Partial<FaultConfig>): Promise<void>;
  icFaults(patch: Partial<FaultConfig>): Promise<void>;
  killWorker(index: number): Promise<void>;
  startWorker(index: number): Promise<void>;
  /** SIGKILL of worker(s) + ingress (+ the dev server on the dev target), then all back on the same DATA_DIR. */
  killStack(): Promise<void>;
  startStack(): Promise<void>;
  restartTemporal(): Promise<void>;
  /** Cluster target only. */
  restartPostgres?: () => Promise<void>;
  startExport(): Promise<void>;
  /** The running upload activity's attempt number while the export is UPLOADING, else undefined. */
  uploadAttempt(): Promise<number | undefined>;
}

export interface ScheduleOptions {
  loadSeconds: number;
  imtDownSeconds: number;
  burstSeconds: number;
  /** Longest time IC stays down waiting for an upload attempt to hit it. */
  icDownMaxSeconds: number;
  /** How long a killed process stays dead. */
  deadSeconds: number;
}

export interface ScheduleEvent {
  at: number;
  event: string;
}

/** IMT's steady faults: 20% 5xx, 5% applied-but-unanswered, 2% answered 5xx after being applied. */
export function steadyImtFaults(): Partial<FaultConfig> {
  // decide() draws these in turn: 5xx first, then apply-then-hang, then apply-then-error, so
  // each later rate is divided by what is left after the earlier ones.
  const error = 0.2;
  const hang = 0.05 / (1 - error);
  const applyError = 0.02 / ((1 - error) * (1 - hang));
  return {
    errorRate: error,
    errorStatus: 503,
    applyThenHangRate: hang,
    applyThenErrorRate: applyError,
    routes: ['/api/integration/'],
  };
}

export class FaultSchedule {
  readonly events: ScheduleEvent[] = [];
  private readonly started = Date.now();
  private readonly steps: Promise<void>[] = [];
  private failures: unknown[] = [];
  /** Kills and restarts never overlap: each one starts from a complete, running stack. */
  private processLock: Promise<void> = Promise.resolve();

  constructor(
    private readonly controls: ChaosControls,
    private readonly o: ScheduleOptions,
    private readonly log: (line: string) => void,
  ) {}

  private note(event: string): void {
    const at = Math.round((Date.now() - this.started) / 100) / 10;
    this.events.push({ at, event });
    this.log(`[chaos +${at}s] ${event}`);
  }

  private at(fraction: number, name: string, step: () => Promise<void>, exclusive = false): void {
    const run = async () => {
      await sleep(fraction * this.o.loadSeconds * 1000);
      try {
        if (exclusive) {
          const previous = this.processLock;
          let release = () => {};
          this.processLock = new Promise<void>((resolve) => (release = resolve));
          await previous;
          try {
            await step();
          } finally {
            release();
          }
        } else await step();
      } catch (err) {
        this.note(`${name} FAILED: ${err instanceof Error ? err.message : String(err)}`);
        this.failures.push(err);
      }
    };
    this.steps.push(run());
  }

  /** Starts every step; `done()` resolves when all of them have run. */
  start(target: 'dev' | 'cluster'): void {
    const c = this.controls;
    const o = this.o;
    this.at(0, 'IMT steady faults', async () => {
      await c.imtFaults(steadyImtFaults());
      this.note('IMT: 20% 5xx, 5% applied then unanswered, 2% applied then 5xx');
    });
    this.at(0.05, 'export + IC down', () => this.exportWithIcDown());
    for (const [fraction, n] of [
      [0.12, 1],
      [0.62, 2],
    ] as const) {
      this.at(fraction, `429 burst ${n}`, async () => {
        await c.imtFaults({ rateLimitRetryAfterSeconds: 2 });
        this.note(`IMT: 429 burst ${n} (Retry-After: 2) for ${o.burstSeconds} s`);
        await sleep(o.burstSeconds * 1000);
        await c.imtFaults({ rateLimitRetryAfterSeconds: null });
        this.note(`IMT: 429 burst ${n} over`);
      });
    }
    for (const [fraction, n] of [
      [0.18, 1],
      [0.58, 2],
    ] as const) {
      this.at(
        fraction,
        `worker SIGKILL ${n}`,
        async () => {
          // Cluster (chaos/processes.ts CLUSTER_WORKERS): first a payments worker, then the bulk one.
          const index = target === 'cluster' ? [0, 2][n - 1] : 0;
          await c.killWorker(index);
          this.note(`worker ${index} SIGKILLed (${n} of 2)`);
          await sleep(o.deadSeconds * 1000);
          await c.startWorker(index);
          this.note(`worker ${index} restarted`);
        },
        true,
      );
    }
    this.at(0.3, 'IMT down', async () => {
      await c.imtFaults({ reset: true });
      this.note(`IMT: down (connections reset) for ${o.imtDownSeconds} s`);
      await sleep(o.imtDownSeconds * 1000);
      await c.imtFaults({ reset: false });
      this.note('IMT: back up');
    });
    this.at(
      0.45,
      'whole-stack SIGKILL',
      async () => {
        await c.killStack();
        this.note(
          `whole stack SIGKILLed (worker${target === 'cluster' ? 's' : ''}, ingress${target === 'dev' ? ', dev server' : ''})`,
        );
        await sleep(o.deadSeconds * 1000);
        await c.startStack();
        this.note('whole stack restarted on the same DATA_DIR');
      },
      true,
    );
    this.at(
      0.75,
      'Temporal restart',
      async () => {
        await c.restartTemporal();
        this.note(
          target === 'dev'
            ? 'Temporal dev server SIGKILLed and restarted on its SQLite file'
            : 'Temporal server SIGKILLed and restarted',
        );
      },
      true,
    );
    if (c.restartPostgres) {
      const restartPostgres = c.restartPostgres;
      this.at(
        0.85,
        'PostgreSQL restart',
        async () => {
          await restartPostgres();
          this.note('PostgreSQL crashed (immediate shutdown) and restarted');
        },
        true,
      );
    }
  }

  /** IC goes down as the export starts and comes back once an upload attempt has hit the outage. */
  private async exportWithIcDown(): Promise<void> {
    const c = this.controls;
    await c.icFaults({ reset: true });
    this.note('IC: down (connections reset)');
    await c.startExport();
    this.note('export of the cycle started');
    const deadline = Date.now() + this.o.icDownMaxSeconds * 1000;
    let attempt: number | undefined;
    while (Date.now() < deadline) {
      attempt = await c.uploadAttempt().catch(() => undefined);
      if (attempt !== undefined && attempt >= 2) break;
      await sleep(1000);
    }
    await c.icFaults({ reset: false });
    this.note(
      attempt !== undefined && attempt >= 2
        ? `IC: back up (upload attempt ${attempt} was running: ${attempt - 1} failed while IC was down)`
        : `IC: back up after ${this.o.icDownMaxSeconds} s without an upload attempt hitting the outage`,
    );
  }

  /** Resolves when every step has run, then brings back any process a failed step left down. */
  async done(): Promise<unknown[]> {
    await Promise.all(this.steps);
    await this.controls.startStack();
    return this.failures;
  }
}
