/**
 * Which URL reaches which flow (contracts B). Each route validates its input, hands it to
 * its flow module and sends the flow's answer through answers.ts — the same three steps
 * for every call.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Admission } from './admission';
import { receiveAdjustment, parseInvoiceNumber } from './adjustment';
import { parseBody, sendAnswer, type Answer, type AnswerHooks } from './answers';
import { invoiceDetail, invoicePdf } from './invoice-detail';
import { receiveDelivery } from './payment';
import type { IntakeDeps } from './runs';
import {
  AchRejectSchema,
  InvoiceAdjustedSchema,
  PostPaymentSchema,
  VoidPaymentSchema,
  pathParamErrors,
} from './schemas';
import { paymentStatus } from './status';

export interface RouteHooks extends AnswerHooks {
  onReceived?(call: string): void;
}

/** Every path with its one method (server.ts answers 405 for the others). */
export const ROUTES: Record<string, 'GET' | 'POST'> = {
  '/api/integration/invoice/post-payment': 'POST',
  '/api/integration/invoice/void-payment': 'POST',
  '/api/integration/invoice/ach-reject': 'POST',
  '/api/integration/payments/:transaction_id': 'GET',
  '/api/integration/invoice/:invoice_number/detail': 'GET',
  '/api/integration/invoice/:invoice_number/pdf': 'GET',
  '/api/integration/invoice/:invoice_number/adjusted': 'POST',
  '/healthz': 'GET',
};

type Params = { transaction_id?: string; invoice_number?: string };
type Flow = (req: FastifyRequest<{ Params: Params }>) => Promise<Answer>;
type BodyFlow<T> = (body: T, req: FastifyRequest) => Promise<Answer>;

export function registerRoutes(
  app: FastifyInstance,
  deps: IntakeDeps,
  admission: Admission,
  hooks: RouteHooks,
): void {
  const route = (method: 'GET' | 'POST', url: string, call: string, flow: Flow) =>
    app.route<{ Params: Params }>({
      method,
      url,
      handler: async (req, reply: FastifyReply) => {
        if (method === 'POST') hooks.onReceived?.(call);
        const badParams = pathParamErrors(req.params);
        if (badParams) return sendAnswer(reply, call, invalidPath(badParams), hooks);
        return sendAnswer(reply, call, await flow(req), hooks);
      },
    });
  /** Validates the body with `schema`, then runs `flow` on it. */
  const withBody =
    <S extends z.ZodType>(schema: S, call: string, flow: BodyFlow<z.infer<S>>) =>
    async (req: FastifyRequest): Promise<Answer> => {
      const parsed = parseBody(schema, req.body, call);
      return 'answer' in parsed ? parsed.answer : flow(parsed.value, req);
    };
  /** Every delivery of a transaction: one update-with-start, abandoned when IC hangs up. */
  const plan = (req: FastifyRequest) => ({
    giveUp: admission.hangUpSignal(req),
    windowMs: admission.windowMs(deps.confirmWaitMs),
  });

  route(
    'POST',
    '/api/integration/invoice/post-payment',
    'post-payment',
    withBody(PostPaymentSchema, 'post-payment', (payment, req) =>
      receiveDelivery(deps, { kind: 'payment', payment }, plan(req)),
    ),
  );
  route(
    'POST',
    '/api/integration/invoice/void-payment',
    'void-payment',
    withBody(VoidPaymentSchema, 'void-payment', (event, req) =>
      receiveDelivery(deps, { kind: 'void', event }, plan(req)),
    ),
  );
  route(
    'POST',
    '/api/integration/invoice/ach-reject',
    'ach-reject',
    withBody(AchRejectSchema, 'ach-reject', (event, req) =>
      receiveDelivery(deps, { kind: 'ach_reject', event }, plan(req)),
    ),
  );
  route('POST', '/api/integration/invoice/:invoice_number/adjusted', 'adjusted', async (req) => {
    const invoice = parseInvoiceNumber(req.params.invoice_number ?? '');
    if ('answer' in invoice) return invoice.answer;
    const body = parseBody(InvoiceAdjustedSchema, req.body ?? {}, 'adjusted');
    return 'answer' in body ? body.answer : receiveAdjustment(deps, invoice.value, body.value);
  });
  route('GET', '/api/integration/payments/:transaction_id', 'payments/:transaction_id', (req) =>
    paymentStatus(deps, req.params.transaction_id ?? ''),
  );
  route('GET', '/api/integration/invoice/:invoice_number/detail', ':invoice_number/detail', (req) =>
    invoiceDetail(deps.imt, req.params.invoice_number ?? ''),
  );
  route('GET', '/api/integration/invoice/:invoice_number/pdf', ':invoice_number/pdf', (req) =>
    invoicePdf(deps.imt, req.params.invoice_number ?? ''),
  );
}

/** 400 naming each bad path parameter; nothing reaches IMT or Temporal. */
function invalidPath(fields: Record<string, string[]>): Answer {
  const [name, problems] = Object.entries(fields)[0];
  return {
    kind: 'invalid',
    rejected: 'invalid_path',
    body: { error: 'invalid_request', message: `${name} ${problems[0]}`, fields },
  };
}
