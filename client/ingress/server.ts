/**
 * The HTTP ingress IC's Data Pump calls (contracts B). Thin: authenticate, validate with
 * zod, hand the event to Temporal under its business-key workflow ID, answer.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Client } from '@temporalio/client';
import type { z } from 'zod';
import type { Logger } from '../../common/logger';
import type { ImtClient } from '../../integrations/imt-client';
import { HttpCallError } from '../../integrations/http';
import { InvoiceAdjustedSchema, InvoiceNumberParamSchema, PostPaymentSchema, fieldErrors } from './schemas';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { SA, invoiceAdjustedWorkflowId, invoiceAdjustedSignal } from '../../domain';
import type { invoiceAdjustmentWorkflow } from '../../workflows/invoice-adjustment';
import { IntakeNotDurableError, receivePayment, type IntakeAnswer } from './payments';
import { lookupPayment } from './status';
import { registerReversalRoutes } from './reversals';
import { ClientRateLimiter } from '../../common/rate-limit';

export interface IngressOptions {
  client: Client;
  namespace: string;
  taskQueue: string;
  integratorId: string;
  confirmWaitMs: number;
  /** How long a void / ACH reject waits for a payment not seen yet (default 24 h). */
  unknownPaymentWaitMs?: number;
  logger: Logger;
  /** For the RTDR and bill-presentment pass-through calls. */
  imt?: ImtClient;
  /** Base URL of the Temporal UI, for links in answers. */
  temporalUiUrl?: string;
  /** Extra routes (voids, ACH rejects, metrics) registered by later modules. */
  plugins?: ((app: FastifyInstance, ctx: IngressContext) => void)[];
  hooks?: IngressHooks;
  /** Requests per minute per client address (429 beyond); undefined or 0 = no limit. */
  rateLimitPerMinute?: number;
  /** Intake calls held at once before answering 429 (INGRESS_MAX_IN_FLIGHT; default 200). */
  maxInFlight?: number;
}

export interface IngressHooks {
  onReceived?(call: string): void;
  onRejected?(call: string, reason: string): void;
  onAnswered?(call: string, status: number, seconds: number): void;
  /** The number of intake calls held right now (admission control). */
  onInFlight?(count: number): void;
}

export interface IngressContext {
  opts: IngressOptions;
  /** Validates `body` with `schema`; on failure answers 400 and returns undefined. */
  validate<S extends z.ZodType>(
    schema: S,
    body: unknown,
    reply: FastifyReply,
    call: string,
  ): z.infer<S> | undefined;
  statusUrl(transactionId: string): string;
}

export const BODY_LIMIT_BYTES = 64 * 1024;

const ROUTES: Record<string, string> = {
  '/api/integration/invoice/post-payment': 'POST',
  '/api/integration/invoice/void-payment': 'POST',
  '/api/integration/invoice/ach-reject': 'POST',
  '/api/integration/payments/:transaction_id': 'GET',
  '/api/integration/invoice/:invoice_number/detail': 'GET',
  '/api/integration/invoice/:invoice_number/pdf': 'GET',
  '/api/integration/invoice/:invoice_number/adjusted': 'POST',
  '/healthz': 'GET',
};

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function buildIngress(opts: IngressOptions): FastifyInstance {
  const app = Fastify({
    bodyLimit: BODY_LIMIT_BYTES,
    logger: false,
    // IC's GUIDs can be long; keep the default param length generous but bounded.
    routerOptions: { maxParamLength: 200 },
  });
  const expected = digest(opts.integratorId);
  const hooks = opts.hooks ?? {};
  const limiter = opts.rateLimitPerMinute ? new ClientRateLimiter(opts.rateLimitPerMinute) : undefined;
  const admission = new Admission(opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT, hooks);

  const ctx: IngressContext = {
    opts,
    validate(schema, body, reply, call) {
      const result = schema.safeParse(body);
      if (result.success) return result.data;
      const fields = fieldErrors(result.error);
      hooks.onRejected?.(call, 'invalid_body');
      void reply.code(400).send({
        error: 'invalid_request',
        message: `Invalid ${call} body: ${Object.entries(fields)
          .map(([f, m]) => `${f} ${m.join(', ')}`)
          .join('; ')}`,
        fields,
      });
      return undefined;
    },
    statusUrl: (id) => `/api/integration/payments/${encodeURIComponent(id)}`,
  };

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    (req as FastifyRequest & { startedAt?: bigint }).startedAt = process.hrtime.bigint();
    if (req.url === '/healthz' || req.url.startsWith('/metrics')) return;
    const wait = limiter?.take(req.ip) ?? 0;
    if (wait > 0) {
      hooks.onRejected?.(routeName(req), 'rate_limited');
      return reply
        .code(429)
        .header('Retry-After', String(wait))
        .send({ error: 'too_many_requests', message: `Too many requests; retry in ${wait} s.` });
    }
    const presented = req.headers['x-integrator-id'];
    // Compare fixed-length digests so timing reveals nothing about the expected value.
    const ok = typeof presented === 'string' && timingSafeEqual(digest(presented), expected);
    if (!ok) {
      // Who and where, never the presented value (it may be a real credential sent to the wrong place).
      opts.logger.warn(
        { ip: req.ip, call: routeName(req), header: presented === undefined ? 'missing' : 'wrong' },
        'ingress: rejected a call without the right X-Integrator-ID',
      );
      hooks.onRejected?.(routeName(req), 'auth');
      return reply
        .code(403)
        .send({ error: 'forbidden', message: 'Missing or invalid X-Integrator-ID header.' });
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    const started = (req as FastifyRequest & { startedAt?: bigint }).startedAt;
    if (started === undefined) return;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    hooks.onAnswered?.(routeName(req), reply.statusCode, seconds);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const call = routeName(req);
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      hooks.onRejected?.(call, 'too_large');
      return reply
        .code(413)
        .send({ error: 'payload_too_large', message: `Body exceeds ${BODY_LIMIT_BYTES} bytes.` });
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      hooks.onRejected?.(call, 'media_type');
      return reply
        .code(415)
        .send({ error: 'unsupported_media_type', message: 'Send the body as application/json.' });
    }
    if (err.statusCode === 400 || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      hooks.onRejected?.(call, 'malformed_json');
      return reply
        .code(400)
        .send({ error: 'invalid_json', message: `Body is not valid JSON: ${err.message}` });
    }
    opts.logger.error({ err, call }, 'ingress call failed');
    return reply.code(503).header('Retry-After', '5').send({
      error: 'unavailable',
      message: 'The service could not accept the call right now; retry later.',
    });
  });

  // 405 with Allow for a known path called with the wrong method.
  for (const [url, method] of Object.entries(ROUTES)) {
    app.route({
      method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => m !== method),
      url,
      handler: async (_req, reply) =>
        reply
          .code(405)
          .header('Allow', method)
          .send({ error: 'method_not_allowed', message: `Use ${method} for ${url}.` }),
    });
  }

  // Admission control for the calls that hold Temporal work open (issue 13).
  app.addHook('preHandler', async (req, reply) => {
    if (req.method !== 'POST' || !INTAKE_URLS.has(req.routeOptions?.url ?? '')) return;
    if (admission.enter(req)) return;
    hooks.onRejected?.(routeName(req), 'overloaded');
    return reply
      .code(429)
      .header('Retry-After', String(OVERLOAD_RETRY_AFTER_S))
      .send({
        error: 'overloaded',
        message: `The service is holding ${admission.limit} calls; deliver this one again in ${OVERLOAD_RETRY_AFTER_S} s.`,
      });
  });
  app.addHook('onResponse', async (req) => admission.leave(req));

  app.post('/api/integration/invoice/post-payment', async (req, reply) => {
    hooks.onReceived?.('post-payment');
    const payment = ctx.validate(PostPaymentSchema, req.body, reply, 'post-payment');
    if (!payment) return reply;
    let answer: IntakeAnswer;
    try {
      answer = await receivePayment(
        { client: opts.client, taskQueue: opts.taskQueue, confirmWaitMs: opts.confirmWaitMs },
        payment,
        {
          quick: admission.deep(),
          giveUp: admission.deepSignal,
          windowMs: admission.windowMs(opts.confirmWaitMs),
          quickMs: SHORT_WINDOW_MS,
          onWaited: (quick) => admission.waited(quick),
        },
      );
    } catch (err) {
      if (!(err instanceof IntakeNotDurableError)) throw err;
      return unavailable(reply, err.message, OVERLOAD_RETRY_AFTER_S);
    }
    return sendPaymentAnswer(reply, answer, payment.transaction_id, ctx, hooks);
  });

  app.get<{ Params: { transaction_id: string } }>(
    '/api/integration/payments/:transaction_id',
    async (req, reply) => {
      const view = await lookupPayment(
        opts.client,
        req.params.transaction_id,
        opts.temporalUiUrl,
        opts.namespace,
      );
      if (!view)
        return reply
          .code(404)
          .send({ error: 'not_found', message: `No payment ${req.params.transaction_id}.` });
      return reply.code(200).send(view);
    },
  );

  app.get<{ Params: { invoice_number: string } }>(
    '/api/integration/invoice/:invoice_number/detail',
    async (req, reply) => {
      if (!opts.imt) return unavailable(reply, 'IMT is not configured');
      try {
        return reply.code(200).send(await opts.imt.getInvoiceDetail(req.params.invoice_number));
      } catch (err) {
        return passThroughError(reply, err);
      }
    },
  );

  app.get<{ Params: { invoice_number: string } }>(
    '/api/integration/invoice/:invoice_number/pdf',
    async (req, reply) => {
      if (!opts.imt) return unavailable(reply, 'IMT is not configured');
      try {
        const pdf = await opts.imt.getInvoicePdf(req.params.invoice_number);
        reply.code(200).header('Content-Type', pdf.contentType);
        if (pdf.contentLength !== undefined) reply.header('Content-Length', pdf.contentLength);
        return reply.send(pdf.stream);
      } catch (err) {
        return passThroughError(reply, err);
      }
    },
  );

  // IMT tells us an invoice changed: its live balance goes to IC (workflows/invoice-adjustment.ts).
  app.post<{ Params: { invoice_number: string } }>(
    '/api/integration/invoice/:invoice_number/adjusted',
    async (req, reply) => {
      hooks.onReceived?.('adjusted');
      const invoiceNumber = InvoiceNumberParamSchema.safeParse(req.params.invoice_number);
      if (!invoiceNumber.success) {
        hooks.onRejected?.('adjusted', 'invalid_body');
        return reply.code(400).send({
          error: 'invalid_request',
          message: `invoice_number ${invoiceNumber.error.issues[0]?.message ?? 'is invalid'}`,
          fields: { invoice_number: invoiceNumber.error.issues.map((i) => i.message) },
        });
      }
      const body = ctx.validate(InvoiceAdjustedSchema, req.body ?? {}, reply, 'adjusted');
      if (!body) return reply;
      const workflowId = invoiceAdjustedWorkflowId(invoiceNumber.data);
      await opts.client.workflow.signalWithStart<typeof invoiceAdjustmentWorkflow, [{ reason?: string }]>(
        'invoiceAdjustmentWorkflow',
        {
          workflowId,
          taskQueue: opts.taskQueue,
          args: [invoiceNumber.data],
          signal: invoiceAdjustedSignal,
          signalArgs: [{ reason: body.reason }],
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
          typedSearchAttributes: [{ key: SA.InvoiceNumber, value: invoiceNumber.data }],
          staticSummary: `Balance update to IC · invoice ${invoiceNumber.data}`,
        },
      );
      return reply
        .code(202)
        .send({ invoice_number: invoiceNumber.data, status: 'ACCEPTED', workflow_id: workflowId });
    },
  );

  app.get('/healthz', async (_req, reply) => {
    const checks: Record<string, string> = {};
    try {
      const tq = await opts.client.workflowService.describeTaskQueue({
        namespace: opts.namespace,
        taskQueue: { name: opts.taskQueue },
        taskQueueType: 1, // WORKFLOW
      });
      checks.temporal = 'ok';
      checks.worker = (tq.pollers?.length ?? 0) > 0 ? 'ok' : 'no worker polling the task queue';
    } catch {
      checks.temporal = 'unreachable';
      checks.worker = 'unknown';
    }
    const healthy = Object.values(checks).every((v) => v === 'ok');
    return reply.code(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'unhealthy', checks });
  });

  registerReversalRoutes(app, ctx, opts.unknownPaymentWaitMs ?? 24 * 60 * 60 * 1000);
  for (const plugin of opts.plugins ?? []) plugin(app, ctx);
  return app;
}

function sendPaymentAnswer(
  reply: FastifyReply,
  answer: IntakeAnswer,
  transactionId: string,
  ctx: IngressContext,
  hooks: IngressHooks,
) {
  switch (answer.kind) {
    case 'posted':
      return reply.code(201).send(answer.state.posted);
    case 'conflict':
      hooks.onRejected?.('post-payment', 'conflict');
      return reply.code(409).send({
        error: 'conflict',
        message: `Transaction ${transactionId} was already received with different content; the first delivery stands.`,
        transaction_id: transactionId,
      });
    case 'rejected-by-imt':
      return reply.code(400).send({
        error: 'rejected_by_imt',
        message: `IMT rejected the payment as invalid: ${answer.state.lastError?.message ?? ''}`,
        reasons: answer.state.lastError?.reasons,
        transaction_id: transactionId,
        status: answer.state.status,
        status_url: ctx.statusUrl(transactionId),
      });
    case 'accepted':
      return reply.code(202).send({
        transaction_id: transactionId,
        status: answer.status,
        status_url: ctx.statusUrl(transactionId),
      });
  }
}

function routeName(req: FastifyRequest): string {
  // An unmatched path is one label, never the path itself: junk requests must not mint
  // new metric series.
  const url = req.routeOptions?.url;
  if (!url) return 'unmatched';
  // The names the handlers report: 'post-payment', 'payments/:transaction_id', ':invoice_number/detail', '/healthz'.
  return url.replace(/^\/api\/integration\/(invoice\/)?/, '');
}

function unavailable(reply: FastifyReply, message: string, retryAfterSeconds = 30) {
  return reply
    .code(503)
    .header('Retry-After', String(retryAfterSeconds))
    .send({ error: 'unavailable', message });
}

/** RTDR pass-through: IMT's own 4xx go to IC unchanged; anything else is a 503 with Retry-After. */
function passThroughError(reply: FastifyReply, err: unknown) {
  if (
    err instanceof HttpCallError &&
    err.kind === 'status' &&
    err.status &&
    err.status >= 400 &&
    err.status < 500 &&
    err.status !== 429
  ) {
    return reply.code(err.status).send(err.responseBody ?? { detail: err.message });
  }
  return unavailable(reply, 'IMT could not answer in time; retry shortly.', 5);
}

const DEFAULT_MAX_IN_FLIGHT = 200;
/** The wait for IMT's confirmation while most recent waits ran out (see Admission). */
const SHORT_WINDOW_MS = 750;
/** IC's Data Pump redelivers a 429 / 503 after this long. */
const OVERLOAD_RETRY_AFTER_S = 5;
const INTAKE_URLS = new Set([
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
class Admission {
  private count = 0;
  private readonly admitted = new WeakSet<FastifyRequest>();
  /** Aborted while the backlog is deep: payments already waiting give up the wait too. */
  private deepening = Admission.controller();
  constructor(
    readonly limit: number,
    private readonly hooks: IngressHooks,
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
