/**
 * The one place where the ingress's answers become HTTP (contracts B). Each flow module
 * (payment.ts, void-and-ach-reject.ts, adjustment.ts, invoice-detail.ts, status.ts) turns
 * a request into an `Answer` and knows nothing of status codes; `sendAnswer` maps it.
 */
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { z } from 'zod';
import { fieldErrors } from './schemas';

export interface ErrorBody {
  error: string;
  message: string;
  [field: string]: unknown;
}

export type Answer =
  /** The outcome is final and known: posted, reversed (201). */
  | { kind: 'done'; body: object }
  /** Durably started, not settled within the wait: IC need not redeliver (202). */
  | { kind: 'accepted'; body: object }
  /** A read that found what was asked (200). */
  | { kind: 'found'; body: unknown }
  /** A document streamed through from IMT (200). */
  | { kind: 'file'; contentType: string; contentLength?: number; stream: Readable }
  /** The request can never succeed as sent (400); `rejected` labels the metric. */
  | { kind: 'invalid'; body: ErrorBody; rejected?: string }
  | { kind: 'not-found'; body: ErrorBody }
  /** Contradicts what was received before under the same key (409). */
  | { kind: 'conflict'; body: ErrorBody; rejected: string }
  /** IMT's own answer to a pass-through call, unchanged (its 4xx). */
  | { kind: 'imt-answer'; status: number; body: unknown }
  /** Not taken now: deliver again after `retryAfterS` (503). */
  | { kind: 'unavailable'; body: ErrorBody; retryAfterS: number }
  /** Too much in flight (429): IC's Data Pump redelivers after `retryAfterS`. */
  | { kind: 'overloaded'; body: ErrorBody; retryAfterS: number; rejected: string };

export interface AnswerHooks {
  onRejected?(call: string, reason: string): void;
}

export function sendAnswer(reply: FastifyReply, call: string, answer: Answer, hooks: AnswerHooks) {
  switch (answer.kind) {
    case 'done':
      return reply.code(201).send(answer.body);
    case 'accepted':
      return reply.code(202).send(answer.body);
    case 'found':
      return reply.code(200).send(answer.body);
    case 'file':
      reply.code(200).header('Content-Type', answer.contentType);
      if (answer.contentLength !== undefined) reply.header('Content-Length', answer.contentLength);
      return reply.send(answer.stream);
    case 'invalid':
      if (answer.rejected) hooks.onRejected?.(call, answer.rejected);
      return reply.code(400).send(answer.body);
    case 'not-found':
      return reply.code(404).send(answer.body);
    case 'conflict':
      hooks.onRejected?.(call, answer.rejected);
      return reply.code(409).send(answer.body);
    case 'imt-answer':
      return reply.code(answer.status).send(answer.body);
    case 'unavailable':
      return reply.code(503).header('Retry-After', String(answer.retryAfterS)).send(answer.body);
    case 'overloaded':
      hooks.onRejected?.(call, answer.rejected);
      return reply.code(429).header('Retry-After', String(answer.retryAfterS)).send(answer.body);
  }
}

/** Validates `body`: the parsed value, or the 400 answer naming each field and its problem. */
export function parseBody<S extends z.ZodType>(
  schema: S,
  body: unknown,
  call: string,
): { value: z.infer<S> } | { answer: Answer } {
  const result = schema.safeParse(body);
  if (result.success) return { value: result.data };
  const fields = fieldErrors(result.error);
  const summary = Object.entries(fields)
    .map(([f, m]) => `${f} ${m.join(', ')}`)
    .join('; ');
  return {
    answer: {
      kind: 'invalid',
      rejected: 'invalid_body',
      body: { error: 'invalid_request', message: `Invalid ${call} body: ${summary}`, fields },
    },
  };
}

/** How long IC's Data Pump should wait before delivering again a call refused for now. */
export const REDELIVER_AFTER_S = 5;

export const unavailable = (message: string, retryAfterS: number): Answer => ({
  kind: 'unavailable',
  body: { error: 'unavailable', message },
  retryAfterS,
});

/** Where IC (or a person) reads a transaction's status (contracts B). */
export const statusUrl = (transactionId: string) =>
  `/api/integration/payments/${encodeURIComponent(transactionId)}`;
