/**
 * Admission control (issue 13): bounds what the ingress holds in flight so that overload
 * is answered in time — 429 with Retry-After past the limit, and a payment that is durably
 * started answered 202 at once when the backlog is too deep for its wait to succeed.
 */
import { setMaxListeners } from 'node:events';
import type { FastifyRequest } from 'fastify';
import { REDELIVER_AFTER_S, type Answer } from './answers';
import type { WaitPlan } from './payment';

export interface AdmissionHooks {
  /** The number of intake calls held right now. */
  onInFlight?(count: number): void;
  /** How many calls the ingress admits now (≤ INGRESS_MAX_IN_FLIGHT; lower while starts are slow). */
  onAdmissionLimit?(allowed: number): void;
}

export const DEFAULT_MAX_IN_FLIGHT = 200;
/**
 * A start slower than this means Temporal is queueing: each admitted call then waits longer
 * than IC should, so the ingress admits fewer (see Admission.started).
 */
const START_TARGET_MS = 400;
/** Never admit fewer than this: the starts that keep measuring must go on. */
const MIN_ALLOWED = 8;
/** At most one cut of the admitted count per this long (a burst of slow starts is one signal). */
const CUT_INTERVAL_MS = 250;
/** Each cut keeps this share of what was admitted. */
const CUT_KEEPS = 0.8;
/** The wait for IMT's confirmation while most recent waits ran out (see Admission). */
const SHORT_WINDOW_MS = 500;
export const INTAKE_URLS = new Set([
  '/api/integration/invoice/post-payment',
  '/api/integration/invoice/void-payment',
  '/api/integration/invoice/ach-reject',
]);

/**
 * Bounds what the ingress holds in flight. Past `limit`, calls are refused (429); past a
 * quarter of it the backlog is too deep for a payment's confirmation to arrive within the
 * wait, so payments are answered 202 as soon as their run is durably started — new ones at
 * once, and those already waiting as soon as the backlog gets that deep.
 *
 * The limit follows Temporal's start latency (AIMD): while starts take longer than
 * START_TARGET_MS and many start calls are under way at once (an eighth of the admitted
 * count, at least MIN_ALLOWED), the admitted count is cut to CUT_KEEPS of itself (at most
 * every CUT_INTERVAL_MS, never below MIN_ALLOWED); it grows back by one per fast start.
 * Past it a call gets 429 at once instead of queueing behind slow starts, so what IC hears
 * stays within a second.
 */
export class Admission {
  private count = 0;
  private allowed: number;
  private startMs = 0;
  /** Start calls under way right now. */
  private startsInFlight = 0;
  private lastCut = Number.NEGATIVE_INFINITY;
  private readonly admitted = new WeakSet<FastifyRequest>();
  /** Aborted while the backlog is deep: payments already waiting give up the wait too. */
  private deepening = Admission.controller();
  constructor(
    readonly limit: number,
    private readonly hooks: AdmissionHooks,
    private readonly now: () => number = Date.now,
  ) {
    this.allowed = limit;
    hooks.onAdmissionLimit?.(limit);
  }
  /** How many calls are admitted now. */
  get admits(): number {
    return this.allowed;
  }
  enter(req: FastifyRequest): boolean {
    if (this.count >= this.allowed) return false;
    this.count += 1;
    this.admitted.add(req);
    this.changed();
    return true;
  }
  leave(req: FastifyRequest): void {
    if (!this.admitted.has(req)) return;
    this.admitted.delete(req);
    this.count -= 1;
    this.changed();
  }
  /** Past a quarter of what is admitted now, waiting for IMT would only lengthen the queue. */
  deep(): boolean {
    return this.count > this.allowed / 4;
  }
  /**
   * Share of recent waits that did not settle quickly (EWMA). When most do not, Temporal's
   * backlog — which the in-flight count cannot see — is too deep for the full window, so the
   * wait shrinks to SHORT_WINDOW_MS: IC gets its 202 within a second instead of five, and
   * the short waits keep measuring, so the full window returns with the backlog gone.
   */
  private slowShare = 0;
  waited(quick: boolean): void {
    this.slowShare = this.slowShare * 0.9 + (quick ? 0 : 0.1);
    this.changed();
  }
  windowMs(full: number): number {
    return this.slowShare > 0.5 ? Math.min(full, SHORT_WINDOW_MS) : full;
  }
  /** A payment's start call begins. */
  starting(): void {
    this.startsInFlight += 1;
  }
  /** It ended, after `ms` (undefined: it failed); the average (EWMA) moves the admitted count. */
  started(ms: number | undefined): void {
    this.startsInFlight = Math.max(0, this.startsInFlight - 1);
    if (ms === undefined) return;
    this.startMs = this.startMs === 0 ? ms : this.startMs * 0.8 + ms * 0.2;
    const before = this.allowed;
    if (this.startMs > START_TARGET_MS) {
      // Only while many starts wait at Temporal's door at once: that is this ingress's own
      // queue. Calls that wait for IMT's outcome, or slow starts on a busy machine or a
      // restarting server, are not — cutting then only turned IC's deliveries into a storm of
      // 429s and redeliveries (the chaos run, issue 14).
      if (this.startsInFlight < Math.max(MIN_ALLOWED, this.allowed / 8)) return;
      if (this.now() - this.lastCut < CUT_INTERVAL_MS) return;
      this.lastCut = this.now();
      this.allowed = Math.max(Math.min(MIN_ALLOWED, this.limit), Math.floor(this.allowed * CUT_KEEPS));
    } else if (this.startMs < START_TARGET_MS / 2) this.allowed = Math.min(this.limit, this.allowed + 1);
    if (this.allowed !== before) this.hooks.onAdmissionLimit?.(this.allowed);
  }
  /** How the next payment should wait, given the backlog now. */
  planFor(confirmWaitMs: number): WaitPlan {
    return {
      // Starts slower than the target: Temporal is the bottleneck and an outcome within the
      // window is unlikely, so answer 202 once the run is durably started.
      quick: this.deep() || this.startMs > START_TARGET_MS,
      giveUp: this.deepSignal,
      windowMs: this.windowMs(confirmWaitMs),
      quickMs: SHORT_WINDOW_MS,
      onWaited: (quick) => this.waited(quick),
      onStarting: () => this.starting(),
      onStarted: (ms) => this.started(ms),
    };
  }
  /** The 429 for a call past the limit. */
  refusal(): Answer {
    return {
      kind: 'overloaded',
      rejected: 'overloaded',
      retryAfterS: REDELIVER_AFTER_S,
      body: {
        error: 'overloaded',
        message: `The service is holding ${this.count} calls (admitting ${this.allowed} now that Temporal is slow to start runs, ${this.limit} at most); deliver this one again in ${REDELIVER_AFTER_S} s.`,
      },
    };
  }
  /** Fires when the backlog becomes deep (or is already). */
  get deepSignal(): AbortSignal {
    return this.deepening.signal;
  }
  private changed(): void {
    this.hooks.onInFlight?.(this.count);
    if (this.deep() || this.slowShare > 0.5) this.deepening.abort();
    else if (this.deepening.signal.aborted) this.deepening = Admission.controller();
  }
  /** Every waiting payment listens on it: as many listeners as calls in flight is expected. */
  private static controller(): AbortController {
    const c = new AbortController();
    setMaxListeners(0, c.signal);
    return c;
  }
}
