/**
 * The HTTP ingress IC's Data Pump calls (contracts B): the process-wide concerns —
 * authentication, per-client rate limit, body limits, timing, admission control, health —
 * around the routes of routes.ts. The flows themselves live in one module each.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Client } from '@temporalio/client';
import type { Logger } from '../../common/logger';
import { ClientRateLimiter } from '../../common/rate-limit';
import { taskQueuesOf } from '../../domain';
import type { ImtClient } from '../../integrations/imt-client';
import { Admission, DEFAULT_MAX_IN_FLIGHT, INTAKE_URLS, type AdmissionHooks } from './admission';
import { REDELIVER_AFTER_S, sendAnswer, unavailable, type AnswerHooks } from './answers';
import { ROUTES, registerRoutes, type RouteHooks } from './routes';

export interface IngressOptions {
  client: Client;
  namespace: string;
  /** The payments pool's queue (common/config.ts paymentsTaskQueue): transaction runs start there. */
  taskQueue: string;
  integratorId: string;
  confirmWaitMs: number;
  /** How long a void / ACH reject waits for a payment not seen yet (default 24 h). */
  unknownPaymentWaitMs?: number;
  logger: Logger;
  /** For the invoice detail and PDF pass-through calls. */
  imt?: ImtClient;
  /** Base URL of the Temporal UI, for links in answers. */
  temporalUiUrl?: string;
  /** Extra routes (e.g. GET /metrics) registered on the same server. */
  plugins?: ((app: FastifyInstance) => void)[];
  hooks?: IngressHooks;
  /** Requests per minute per client address (429 beyond); undefined or 0 = no limit. */
  rateLimitPerMinute?: number;
  /** Intake calls held at once before answering 429 (INGRESS_MAX_IN_FLIGHT; default 200). */
  maxInFlight?: number;
}

export interface IngressHooks extends RouteHooks, AnswerHooks, AdmissionHooks {
  onAnswered?(call: string, status: number, seconds: number): void;
}

export const BODY_LIMIT_BYTES = 64 * 1024;
const DEFAULT_UNKNOWN_PAYMENT_WAIT_MS = 24 * 60 * 60 * 1000;

export function buildIngress(opts: IngressOptions): FastifyInstance {
  const app = Fastify({
    bodyLimit: BODY_LIMIT_BYTES,
    logger: false,
    // IC's GUIDs can be long; keep the default param length generous but bounded.
    routerOptions: { maxParamLength: 200 },
  });
  const hooks = opts.hooks ?? {};
  const admission = new Admission(opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT, hooks);

  guardCalls(app, opts, hooks);
  answerTransportErrors(app, opts.logger, hooks);
  answerWrongMethods(app);
  // Admission control for the calls that hold Temporal work open (issue 13).
  app.addHook('preHandler', async (req, reply) => {
    if (req.method !== 'POST' || !INTAKE_URLS.has(req.routeOptions?.url ?? '')) return;
    if (!admission.enter(req)) return sendAnswer(reply, routeName(req), admission.refusal(), hooks);
  });
  app.addHook('onResponse', async (req) => admission.leave(req));

  registerRoutes(
    app,
    {
      client: opts.client,
      namespace: opts.namespace,
      taskQueue: opts.taskQueue,
      confirmWaitMs: opts.confirmWaitMs,
      unknownPaymentWaitMs: opts.unknownPaymentWaitMs ?? DEFAULT_UNKNOWN_PAYMENT_WAIT_MS,
      imt: opts.imt,
      temporalUiUrl: opts.temporalUiUrl,
    },
    admission,
    hooks,
  );
  app.get('/healthz', async (_req, reply) => health(opts, reply));
  for (const plugin of opts.plugins ?? []) plugin(app);
  return app;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Every call but /healthz and /metrics: rate limit per client, then X-Integrator-ID. */
function guardCalls(app: FastifyInstance, opts: IngressOptions, hooks: IngressHooks): void {
  const expected = digest(opts.integratorId);
  const limiter = opts.rateLimitPerMinute ? new ClientRateLimiter(opts.rateLimitPerMinute) : undefined;
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
}

/** Bodies too large, not JSON or malformed; anything unexpected is a 503 (IC redelivers). */
function answerTransportErrors(app: FastifyInstance, logger: Logger, hooks: IngressHooks): void {
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
    logger.error({ err, call }, 'ingress call failed');
    const answer = unavailable(
      'The service could not accept the call right now; retry later.',
      REDELIVER_AFTER_S,
    );
    return sendAnswer(reply, call, answer, hooks);
  });
}

/** 405 with Allow for a known path called with the wrong method. */
function answerWrongMethods(app: FastifyInstance): void {
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
}

/**
 * Healthy when Temporal answers and a worker of the payments pool polls its queue: that is
 * what the payment calls need. The bulk pool's queue is reported too (`bulk_worker`) but does
 * not fail the check — an export or reconciliation worker being down does not stop payments,
 * and restarting the ingress would not bring it back.
 */
async function health(opts: IngressOptions, reply: FastifyReply) {
  const checks: Record<string, string> = {};
  const polled = async (taskQueue: string) => {
    const tq = await opts.client.workflowService.describeTaskQueue({
      namespace: opts.namespace,
      taskQueue: { name: taskQueue },
      taskQueueType: 1, // WORKFLOW
    });
    return (tq.pollers?.length ?? 0) > 0 ? 'ok' : 'no worker polling the task queue';
  };
  try {
    const [payments, bulk] = await Promise.all([
      polled(opts.taskQueue),
      polled(taskQueuesOf(opts.taskQueue).bulk),
    ]);
    checks.temporal = 'ok';
    checks.worker = payments;
    checks.bulk_worker = bulk;
  } catch {
    checks.temporal = 'unreachable';
    checks.worker = 'unknown';
  }
  const healthy = checks.temporal === 'ok' && checks.worker === 'ok';
  return reply.code(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'unhealthy', checks });
}

function routeName(req: FastifyRequest): string {
  // An unmatched path is one label, never the path itself: junk requests must not mint
  // new metric series.
  const url = req.routeOptions?.url;
  if (!url) return 'unmatched';
  // The names the handlers report: 'post-payment', 'payments/:transaction_id', ':invoice_number/detail', '/healthz'.
  return url.replace(/^\/api\/integration\/(invoice\/)?/, '');
}
