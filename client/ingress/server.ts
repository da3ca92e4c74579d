/**
 * The HTTP ingress IC's Data Pump calls (contracts B): the process-wide concerns — TLS,
 * authentication, per-client rate limit, body limits, connection limits and timeouts, timing,
 * admission control, health — around the routes of routes.ts. The flows themselves live in one
 * module each.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ServerOptions } from 'node:http';
import type { Server as TlsServer } from 'node:tls';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Client } from '@temporalio/client';
import type { Logger } from '../../common/logger';
import type { TransactionTiming } from '../../domain';
import { ClientRateLimiter } from '../../common/rate-limit';
import type { ImtClient } from '../../integrations/imt-client';
import { Admission, DEFAULT_MAX_IN_FLIGHT, INTAKE_URLS, type AdmissionHooks } from './admission';
import { REDELIVER_AFTER_S, sendAnswer, unavailable, type AnswerHooks } from './answers';
import { ROUTES, registerRoutes, type RouteHooks } from './routes';
import { HealthCheck } from './health';
import { reloadCertificateOnChange, secureContextOptions, type IngressTlsFiles } from './tls';

export interface IngressOptions {
  client: Client;
  namespace: string;
  /** The payments pool's queue (common/config.ts paymentsTaskQueue): transaction runs start there. */
  taskQueue: string;
  integratorId: string;
  confirmWaitMs: number;
  /** The transaction run's waits (domain DEFAULT_TIMING unless given; tests shorten them). */
  timing?: Partial<TransactionTiming>;
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
  /** INGRESS_TLS_CERT_FILE / _KEY_FILE: HTTPS only, TLS 1.2+, reloaded on SIGHUP or change. */
  tls?: IngressTlsFiles;
  /** Timeouts and connection caps (defaults: INGRESS_LIMITS). */
  limits?: Partial<IngressLimits>;
  /** How long one /healthz result answers every probe, and each check's deadline. */
  health?: { cacheMs?: number; deadlineMs?: number };
}

/**
 * What one client can hold of the ingress: a slow or idle socket is closed, so sockets
 * trickling bytes cannot pile up (Fastify's and Node's defaults wait for ever or minutes).
 */
export interface IngressLimits {
  /** The whole request (headers and body) must arrive within this (408 otherwise). */
  requestTimeoutMs: number;
  /** The headers must arrive within this. */
  headersTimeoutMs: number;
  /** A socket with no traffic at all is closed after this; above the longest answer (RTDR, PDF). */
  connectionTimeoutMs: number;
  /** An idle keep-alive socket is closed after this. */
  keepAliveTimeoutMs: number;
  /** Requests one keep-alive socket may carry before it is closed. */
  maxRequestsPerSocket: number;
  /** Sockets open at once; more are refused at accept. */
  maxConnections: number;
  /** How often Node checks the request and header deadlines. */
  checkIntervalMs: number;
}

export const INGRESS_LIMITS: IngressLimits = Object.freeze({
  requestTimeoutMs: 15_000,
  headersTimeoutMs: 10_000,
  connectionTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerSocket: 1_000,
  maxConnections: 2_000,
  checkIntervalMs: 1_000,
});

export interface IngressHooks extends RouteHooks, AnswerHooks, AdmissionHooks {
  onAnswered?(call: string, status: number, seconds: number): void;
}

export const BODY_LIMIT_BYTES = 64 * 1024;

export function buildIngress(opts: IngressOptions): FastifyInstance {
  const limits = { ...INGRESS_LIMITS, ...opts.limits };
  const serverOptions: ServerOptions = {
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: limits.checkIntervalMs,
  };
  // Fastify types an HTTPS instance apart from an HTTP one; the routes see no difference.
  const app = Fastify({
    bodyLimit: BODY_LIMIT_BYTES,
    logger: false,
    // IC's GUIDs can be long; keep the default param length generous but bounded.
    routerOptions: { maxParamLength: 200 },
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.connectionTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    ...(opts.tls
      ? { https: { ...serverOptions, ...secureContextOptions(opts.tls) } }
      : { http: serverOptions }),
  }) as unknown as FastifyInstance;
  app.server.maxConnections = limits.maxConnections;
  if (opts.tls) {
    const reloader = reloadCertificateOnChange(app.server as unknown as TlsServer, opts.tls, opts.logger);
    app.addHook('onClose', async () => reloader.stop());
  }
  const hooks = opts.hooks ?? {};
  const admission = new Admission(opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT, hooks);

  guardCalls(app, opts, hooks);
  answerTransportErrors(app, opts.logger, hooks);
  answerWrongMethods(app);
  // Admission control for the calls that hold Temporal work open (issue 13).
  app.addHook('preHandler', async (req, reply) => {
    if (req.method !== 'POST' || !INTAKE_URLS.has(req.routeOptions?.url ?? '')) return;
    if (!admission.enter(req, reply)) return sendAnswer(reply, routeName(req), admission.refusal(), hooks);
  });

  registerRoutes(
    app,
    {
      client: opts.client,
      namespace: opts.namespace,
      taskQueue: opts.taskQueue,
      confirmWaitMs: opts.confirmWaitMs,
      timing: opts.timing,
      imt: opts.imt,
      temporalUiUrl: opts.temporalUiUrl,
    },
    admission,
    hooks,
  );
  const healthCheck = new HealthCheck({
    client: opts.client,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...opts.health,
  });
  app.get('/healthz', async (_req, reply) => {
    const { healthy, checks } = await healthCheck.report();
    return reply.code(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'unhealthy', checks });
  });
  for (const plugin of opts.plugins ?? []) plugin(app);
  return app;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Every call: rate limit per client; then X-Integrator-ID for all but /healthz. */
function guardCalls(app: FastifyInstance, opts: IngressOptions, hooks: IngressHooks): void {
  const expected = digest(opts.integratorId);
  const limiter = opts.rateLimitPerMinute ? new ClientRateLimiter(opts.rateLimitPerMinute) : undefined;
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    (req as FastifyRequest & { startedAt?: bigint }).startedAt = process.hrtime.bigint();
    const wait = limiter?.take(req.ip) ?? 0;
    if (wait > 0) {
      hooks.onRejected?.(routeName(req), 'rate_limited');
      return reply
        .code(429)
        .header('Retry-After', String(wait))
        .send({ error: 'too_many_requests', message: `Too many requests; retry in ${wait} s.` });
    }
    // Load balancers and orchestrators probe without the credential.
    if (req.url === '/healthz') return;
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

function routeName(req: FastifyRequest): string {
  // An unmatched path is one label, never the path itself: junk requests must not mint
  // new metric series.
  const url = req.routeOptions?.url;
  if (!url) return 'unmatched';
  // The names the handlers report: 'post-payment', 'payments/:transaction_id', ':invoice_number/detail', '/healthz'.
  return url.replace(/^\/api\/integration\/(invoice\/)?/, '');
}
