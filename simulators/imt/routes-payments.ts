/**
 * IMT simulator, the money side of the partner API: `post-payment` (design §1, idempotent on
 * `transaction_id` per contracts C3) and `reverse-payment` (a void or an ACH reject, contracts C2).
 */
import type { FastifyInstance } from 'fastify';
import type { ImtState } from './state';
import { API, type FieldReasons, type Outcome } from './types';
import {
  isJsonObject,
  notADictionary,
  validatePostPayment,
  validateReversePayment,
  type JsonObject,
} from './validation';

export function registerPaymentRoutes(app: FastifyInstance, state: ImtState): void {
  registerMoneyCall(app, `${API}/invoice/post-payment`, validatePostPayment, (req) => state.postPayment(req));
  registerMoneyCall(app, `${API}/invoice/reverse-payment`, validateReversePayment, (req) =>
    state.reversePayment(req),
  );
}

/** Both calls: a JSON object, its fields valid (else 400 with DRF's reasons), then the state decides. */
function registerMoneyCall<T>(
  app: FastifyInstance,
  path: string,
  validate: (body: JsonObject) => { value: T } | { reasons: FieldReasons },
  apply: (request: T) => Outcome<unknown>,
): void {
  app.post(path, async (request, reply) => {
    if (!isJsonObject(request.body)) return reply.code(400).send(notADictionary(request.body));
    const parsed = validate(request.body);
    if ('reasons' in parsed) return reply.code(400).send(parsed.reasons);
    const outcome = apply(parsed.value);
    return reply.code(outcome.status).send(outcome.body);
  });
}
