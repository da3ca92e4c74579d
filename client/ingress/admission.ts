/**
 * Admission control: bounds the intake calls the ingress holds at once, so that overload is
 * answered at once (429 with Retry-After) instead of queueing behind Temporal. A call's slot
 * is released when its answer is sent — or as soon as its caller hangs up (IC's timeout, a
 * load balancer's idle timeout), so abandoned calls never leak slots.
 */
import { setMaxListeners } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { REDELIVER_AFTER_S, type Answer } from './answers';

export interface AdmissionHooks {
  /** The number of intake calls held right now. */
  onInFlight?(count: number): void;
}

export const DEFAULT_MAX_IN_FLIGHT = 200;
/**
 * The run's wait while the ingress holds more than a quarter of its limit: the delivery is
 * still accepted (validated, durable) before any 2xx, but IC hears 202 within about this
 * long instead of the full window, so an overload is answered in time.
 */
export const BUSY_WINDOW_MS = 500;
export const INTAKE_URLS = new Set([
  '/api/integration/invoice/post-payment',
  '/api/integration/invoice/void-payment',
  '/api/integration/invoice/ach-reject',
]);

export class Admission {
  private count = 0;
  /** Each admitted call's hang-up signal: aborted when its caller goes away. */
  private readonly admitted = new WeakMap<FastifyRequest, AbortController>();
  constructor(
    readonly limit: number,
    private readonly hooks: AdmissionHooks,
  ) {}

  get inFlight(): number {
    return this.count;
  }

  /** Admits the call (false: past the limit). Its slot is freed by `leave` or by a hang-up. */
  enter(req: FastifyRequest, reply: FastifyReply): boolean {
    if (this.count >= this.limit) return false;
    const hangUp = new AbortController();
    setMaxListeners(0, hangUp.signal);
    this.admitted.set(req, hangUp);
    this.count += 1;
    this.hooks.onInFlight?.(this.count);
    // The response's 'close' fires once the answer is sent — or when the connection goes
    // away first (a hang-up): either way the slot is free again at once.
    reply.raw.once('close', () => {
      if (reply.raw.writableFinished) this.leave(req);
      else this.hangUp(req);
    });
    return true;
  }

  /** The caller hung up before its answer: stop waiting for it and free its slot. */
  hangUp(req: FastifyRequest): void {
    this.admitted.get(req)?.abort();
    this.leave(req);
  }

  leave(req: FastifyRequest): void {
    if (!this.admitted.has(req)) return;
    this.admitted.delete(req);
    this.count -= 1;
    this.hooks.onInFlight?.(this.count);
  }

  /** How long the run may hold this delivery's answer now (`full` unless the ingress is busy). */
  windowMs(full: number): number {
    return this.count > this.limit / 4 ? Math.min(full, BUSY_WINDOW_MS) : full;
  }

  /** Aborted when the call's caller hangs up (undefined for a call that was not admitted). */
  hangUpSignal(req: FastifyRequest): AbortSignal | undefined {
    return this.admitted.get(req)?.signal;
  }

  /** The 429 for a call past the limit. */
  refusal(): Answer {
    return {
      kind: 'overloaded',
      rejected: 'overloaded',
      retryAfterS: REDELIVER_AFTER_S,
      body: {
        error: 'overloaded',
        message: `The service is holding ${this.count} calls (${this.limit} at most); deliver this one again in ${REDELIVER_AFTER_S} s.`,
      },
    };
  }
}
