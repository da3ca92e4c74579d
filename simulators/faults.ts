/**
 * Switchable failure modes shared by the IMT and IC simulators.
 *
 * Tests, the demo and operators flip these through `PUT /_sim/faults` (or the
 * `FaultController` directly) to show how the service behaves when a partner is
 * slow, flaky, rate-limited, down for maintenance or drops connections. Faults act
 * in an `onRequest` hook, before authentication and body parsing, because in real
 * life they come from the network or a proxy in front of the partner's application.
 */
import { setMaxListeners } from 'node:events';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

export interface FaultConfig {
  /** 0..1 fraction of requests answered with `errorStatus`. */
  errorRate: number;
  errorStatus: number;
  /** The next N requests fail with `errorStatus`, then the simulator answers normally again. */
  failNext: number;
  /** When set, every request is answered 429 with `Retry-After: N`. */
  rateLimitRetryAfterSeconds: number | null;
  /** Added delay before answering. */
  latencyMs: number;
  /** Never answer: the request is held until the server closes (a hang past the client timeout). */
  hang: boolean;
  /** Destroy the socket without answering (the client sees ECONNRESET). */
  reset: boolean;
  /** 503 with `Retry-After: 1` and a maintenance message. */
  maintenance: boolean;
  /**
   * The next N requests are processed normally (a posting IS applied) and then never
   * answered: the client times out without knowing (issue 9's "applied but unanswered").
   */
  applyThenHangNext: number;
  /** The next N requests are processed normally and then answered `errorStatus` (a gateway 5xx after apply). */
  applyThenErrorNext: number;
  /** 0..1 fractions of requests that are applied and then not answered / answered `errorStatus`. */
  applyThenHangRate: number;
  applyThenErrorRate: number;
  /** Only requests whose URL starts with one of these prefixes are affected. */
  routes?: string[];
}

export const DEFAULT_FAULTS: Readonly<FaultConfig> = Object.freeze({
  errorRate: 0,
  errorStatus: 500,
  failNext: 0,
  rateLimitRetryAfterSeconds: null,
  latencyMs: 0,
  hang: false,
  reset: false,
  maintenance: false,
  applyThenHangNext: 0,
  applyThenErrorNext: 0,
  applyThenHangRate: 0,
  applyThenErrorRate: 0,
});

/** Validates a `PUT /_sim/faults` body, so a typo in a test or the demo fails loudly instead of doing nothing. */
export const faultConfigPatchSchema = z
  .object({
    errorRate: z.number().min(0).max(1),
    errorStatus: z.number().int().min(400).max(599),
    failNext: z.number().int().min(0),
    rateLimitRetryAfterSeconds: z.number().int().min(0).nullable(),
    latencyMs: z.number().int().min(0).max(600_000),
    hang: z.boolean(),
    reset: z.boolean(),
    maintenance: z.boolean(),
    applyThenHangNext: z.number().int().min(0),
    applyThenErrorNext: z.number().int().min(0),
    applyThenHangRate: z.number().min(0).max(1),
    applyThenErrorRate: z.number().min(0).max(1),
    routes: z.array(z.string().startsWith('/')),
  })
  .partial()
  .strict();

export class FaultController {
  private config: FaultConfig = { ...DEFAULT_FAULTS };

  /** `random` is injectable so a test can make `errorRate` deterministic. */
  constructor(private readonly random: () => number = Math.random) {}

  get(): FaultConfig {
    const copy: FaultConfig = { ...this.config };
    if (this.config.routes) copy.routes = [...this.config.routes];
    return copy;
  }

  set(patch: Partial<FaultConfig>): void {
    const next: FaultConfig = { ...this.config, ...patch };
    if (patch.routes) next.routes = [...patch.routes];
    this.config = next;
  }

  clear(): void {
    this.config = { ...DEFAULT_FAULTS };
  }

  /** Decides, for one request, which fault (if any) applies. Consumes one `failNext` when it fires. */
  decide(url: string): FaultDecision {
    const c = this.config;
    if (c.routes && c.routes.length > 0 && !c.routes.some((prefix) => url.startsWith(prefix))) {
      return { kind: 'none', latencyMs: 0 };
    }
    const latencyMs = c.latencyMs;
    if (c.reset) return { kind: 'reset', latencyMs };
    if (c.hang) return { kind: 'hang', latencyMs };
    if (c.maintenance) return { kind: 'maintenance', latencyMs };
    if (c.rateLimitRetryAfterSeconds !== null) {
      return { kind: 'rate-limit', latencyMs, retryAfterSeconds: c.rateLimitRetryAfterSeconds };
    }
    // Applied-then-lost first, so `{applyThenHangNext: 1, failNext: N}` reads "the first
    // post lands but its answer is lost, then IMT fails N times".
    if (c.applyThenHangNext > 0) {
      this.config = { ...c, applyThenHangNext: c.applyThenHangNext - 1 };
      return { kind: 'apply-then-hang', latencyMs };
    }
    if (c.applyThenErrorNext > 0) {
      this.config = { ...c, applyThenErrorNext: c.applyThenErrorNext - 1 };
      return { kind: 'apply-then-error', latencyMs, status: c.errorStatus };
    }
    if (c.failNext > 0) {
      this.config = { ...c, failNext: c.failNext - 1 };
      return { kind: 'error', latencyMs, status: c.errorStatus };
    }
    if (c.errorRate > 0 && this.random() < c.errorRate)
      return { kind: 'error', latencyMs, status: c.errorStatus };
    if (c.applyThenHangRate > 0 && this.random() < c.applyThenHangRate)
      return { kind: 'apply-then-hang', latencyMs };
    if (c.applyThenErrorRate > 0 && this.random() < c.applyThenErrorRate)
      return { kind: 'apply-then-error', latencyMs, status: c.errorStatus };
    return { kind: 'none', latencyMs };
  }
}

export type FaultDecision =
  | { kind: 'none' | 'reset' | 'hang' | 'maintenance' | 'apply-then-hang'; latencyMs: number }
  | { kind: 'apply-then-error'; latencyMs: number; status: number }
  | { kind: 'rate-limit'; latencyMs: number; retryAfterSeconds: number }
  | { kind: 'error'; latencyMs: number; status: number };

/** How a simulator shapes an error body (JSON for IMT, a SOAP Fault for IC). */
export type FaultErrorRenderer = (status: number, message: string) => { contentType: string; body: string };

export interface InstallFaultsOptions {
  /** Control routes (`/_sim`) stay reachable whatever the faults, so a test can always switch them off. */
  exemptPrefix: string;
  renderError?: FaultErrorRenderer;
}

const renderJsonError: FaultErrorRenderer = (_status, message) => ({
  contentType: 'application/json; charset=utf-8',
  body: JSON.stringify({ detail: message }),
});

/**
 * Registers the `onRequest` hook that applies the controller's faults, plus a
 * `preClose` hook that releases hung requests and pending delays so that
 * `app.close()` never waits for them (the app should also use `forceCloseConnections: true`).
 */
export function installFaults(
  app: FastifyInstance,
  faults: FaultController,
  opts: InstallFaultsOptions,
): void {
  const render = opts.renderError ?? renderJsonError;
  const hungSockets = new Set<Socket>();
  const closing = new AbortController();
  // Every delayed or withheld answer listens for the server closing: many at once is normal.
  setMaxListeners(0, closing.signal);

  app.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith(opts.exemptPrefix)) return;
    const decision = faults.decide(request.url);
    if (decision.kind === 'none' && decision.latencyMs === 0) return;
    if (decision.latencyMs > 0 && !(await delay(decision.latencyMs, closing.signal))) {
      reply.hijack();
      request.raw.socket.destroy();
      return;
    }
    if (decision.kind === 'apply-then-hang' || decision.kind === 'apply-then-error') {
      afterApply.set(request, decision);
      return;
    }
    return applyDecision(decision, request, reply, render, hungSockets);
  });

  // "Applied, then the answer is lost": the route runs (the payment is posted), and only
  // its answer is withheld or replaced by an error, as a dying proxy would.
  const afterApply = new WeakMap<FastifyRequest, FaultDecision>();
  app.addHook('onSend', async (request, reply, payload) => {
    const decision = afterApply.get(request);
    if (!decision) return payload;
    afterApply.delete(request);
    if (reply.statusCode >= 300) return payload;
    if (decision.kind === 'apply-then-error') {
      const { contentType, body } = render(
        decision.status,
        `Simulated failure after apply (HTTP ${decision.status}).`,
      );
      reply.code(decision.status).type(contentType);
      return body;
    }
    hungSockets.add(request.raw.socket);
    // The wait ends when the client gives up (socket closed), not a day later: under load
    // (the chaos run) thousands of withheld answers would otherwise pile up as live timers.
    const gone = new AbortController();
    request.raw.socket.once('close', () => {
      hungSockets.delete(request.raw.socket);
      gone.abort();
    });
    await delay(24 * 60 * 60 * 1000, AbortSignal.any([closing.signal, gone.signal]));
    request.raw.socket.destroy();
    return payload;
  });

  app.addHook('preClose', async () => {
    closing.abort();
    for (const socket of hungSockets) socket.destroy();
    hungSockets.clear();
  });
}

/** Resolves true after `ms`, or false as soon as the server starts closing. */
async function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

function applyDecision(
  decision: FaultDecision,
  request: FastifyRequest,
  reply: FastifyReply,
  render: FaultErrorRenderer,
  hungSockets: Set<Socket>,
): FastifyReply | undefined {
  switch (decision.kind) {
    case 'none':
    case 'apply-then-hang':
    case 'apply-then-error':
      return undefined;
    case 'reset':
      reply.hijack();
      // resetAndDestroy sends a TCP RST, so the client sees ECONNRESET rather than a clean close.
      request.raw.socket.resetAndDestroy();
      return undefined;
    case 'hang':
      holdForever(request.raw.socket, reply, hungSockets);
      return undefined;
    case 'maintenance':
      return sendFault(reply, render, 503, 'Service temporarily unavailable for scheduled maintenance.', 1);
    case 'rate-limit':
      return sendFault(reply, render, 429, 'Request was throttled.', decision.retryAfterSeconds);
    case 'error':
      return sendFault(reply, render, decision.status, `Simulated failure (HTTP ${decision.status}).`);
  }
}

function holdForever(socket: Socket, reply: FastifyReply, hungSockets: Set<Socket>): void {
  reply.hijack();
  hungSockets.add(socket);
  socket.once('close', () => hungSockets.delete(socket));
}

function sendFault(
  reply: FastifyReply,
  render: FaultErrorRenderer,
  status: number,
  message: string,
  retryAfterSeconds?: number,
): FastifyReply {
  const { contentType, body } = render(status, message);
  if (retryAfterSeconds !== undefined) reply.header('Retry-After', String(retryAfterSeconds));
  return reply.code(status).type(contentType).send(body);
}

/** `PUT /_sim/faults` (merge a patch) and `DELETE /_sim/faults` (back to normal), shared by both simulators. */
export function registerFaultRoutes(app: FastifyInstance, faults: FaultController, prefix: string): void {
  app.get(`${prefix}/faults`, async () => faults.get());
  app.put(`${prefix}/faults`, async (request, reply) => {
    const parsed = faultConfigPatchSchema.safeParse(request.body ?? {});
    if (!parsed.success) {
      return reply
        .code(400)
        .send({ detail: 'Invalid fault configuration.', issues: z.treeifyError(parsed.error) });
    }
    faults.set(parsed.data);
    return faults.get();
  });
  app.delete(`${prefix}/faults`, async () => {
    faults.clear();
    return faults.get();
  });
}

/**
 * Registers a simulator's `/_sim` control routes in their own scope, where any body is
 * read as optional JSON whatever its Content-Type: these calls come from curl, tests and
 * the demo, which often POST with no body or a form content type.
 */
export function registerControlRoutes(
  app: FastifyInstance,
  register: (scope: FastifyInstance) => void,
): void {
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
      const text = String(body).trim();
      if (text === '') return done(null, undefined);
      try {
        done(null, JSON.parse(text));
      } catch {
        done(
          Object.assign(new Error('The body of a control call must be JSON.'), { statusCode: 400 }),
          undefined,
        );
      }
    });
    register(scope);
  });
}
