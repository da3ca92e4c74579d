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
}

export const DEFAULT_MAX_IN_FLIGHT = 200;
/** The wait for IMT's confirmation while most recent waits ran out (see Admission). */
const SHORT_WINDOW_MS = 750;
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
 */
export class Admission {
  private count = 0;
  private readonly admitted = new WeakSet<FastifyRequest>();
  /** Aborted while the backlog is deep: payments already waiting give up the wait too. */
  private deepening = Admission.controller();
  constructor(
    readonly limit: number,
    private readonly hooks: AdmissionHooks,
  ) {}
  enter(req: FastifyRequest): boolean {
    if (this.count >= this.limit) return false;
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
  /** Past a quarter of the limit, waiting for IMT would only lengthen the queue. */
  deep(): boolean {
    return this.count > this.limit / 4;
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
  /** How the next payment should wait, given the backlog now. */
  planFor(confirmWaitMs: number): WaitPlan {
    return {
      quick: this.deep(),
      giveUp: this.deepSignal,
      windowMs: this.windowMs(confirmWaitMs),
      quickMs: SHORT_WINDOW_MS,
      onWaited: (quick) => this.waited(quick),
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
        message: `The service is holding ${this.limit} calls; deliver this one again in ${REDELIVER_AFTER_S} s.`,
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
