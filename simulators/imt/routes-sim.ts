/**
 * IMT simulator: the `/_sim/...` control routes (no auth, never faulted) with which tests, the
 * demo and operators inspect postings, reversals, the ledger and the request log, switch
 * failure modes, add invoices and make postings fail.
 */
import type { FastifyInstance } from 'fastify';
import { registerFaultRoutes, type FaultController } from '../faults';
import { messageOf } from '../http';
import {
  SIM_PREFIX,
  type AddInvoiceInput,
  type FieldReasons,
  type ImtRequestLogEntry,
  type LedgerEntry,
  type ListPageRequest,
  type PostedPayment,
  type Reversal,
} from './types';
import { isFieldReasons, isJsonObject, notADictionary } from './validation';

/** What the control routes reach of the simulator (`ImtSimulator` in server.ts). */
export interface ImtControls {
  faults: FaultController;
  addInvoice(invoice: AddInvoiceInput): void;
  postings(): PostedPayment[];
  reversals(): Reversal[];
  ledger(invoiceNumber?: string): LedgerEntry[];
  requestLog(): ImtRequestLogEntry[];
  /** Make post-payment for this invoice answer 400 with these reasons until cleared. */
  rejectPostsFor(invoiceNumber: string, reasons: FieldReasons): void;
  clearRejections(): void;
  listPageRequests(): ListPageRequest[];
  /** IMT's "now" for the listing: invoices created later are not listed yet; null = the real clock. */
  setClock(now: Date | null): void;
  /** Back to the state right after start: no postings, reversals, added invoices, logs, rejections or faults. */
  reset(): void;
}

export function registerSimRoutes(app: FastifyInstance, sim: ImtControls): void {
  app.get(`${SIM_PREFIX}/health`, async () => ({ status: 'ok' }));
  app.get(`${SIM_PREFIX}/postings`, async () => sim.postings());
  app.get(`${SIM_PREFIX}/reversals`, async () => sim.reversals());
  app.get<{ Querystring: { invoice_number?: string } }>(`${SIM_PREFIX}/ledger`, async (request) =>
    sim.ledger(request.query.invoice_number || undefined),
  );
  app.get(`${SIM_PREFIX}/requests`, async () => sim.requestLog());
  app.get(`${SIM_PREFIX}/list-requests`, async () => sim.listPageRequests());
  registerFaultRoutes(app, sim.faults, SIM_PREFIX);
  app.post(`${SIM_PREFIX}/reset`, async () => {
    sim.reset();
    return { status: 'reset' };
  });
  app.post<{ Body: { now?: unknown } }>(`${SIM_PREFIX}/clock`, async (request, reply) => {
    const now = request.body?.now;
    const at = typeof now === 'string' ? new Date(now) : undefined;
    if (now !== null && (!at || Number.isNaN(at.getTime()))) {
      return reply
        .code(400)
        .send({ detail: 'Send {"now": "<ISO timestamp>"} or {"now": null} for the real clock.' });
    }
    sim.setClock(at ?? null);
    return { now: (at ?? new Date()).toISOString() };
  });
  app.post(`${SIM_PREFIX}/invoices`, async (request, reply) => {
    if (!isJsonObject(request.body)) return reply.code(400).send(notADictionary(request.body));
    try {
      sim.addInvoice(request.body as AddInvoiceInput);
    } catch (err) {
      return reply.code(400).send({ detail: messageOf(err) });
    }
    return reply.code(201).send({ status: 'added' });
  });
  registerRejectionRoutes(app, sim);
}

function registerRejectionRoutes(app: FastifyInstance, sim: ImtControls): void {
  app.post<{ Body: { invoice_number?: unknown; reasons?: unknown } }>(
    `${SIM_PREFIX}/reject-posts`,
    async (request, reply) => {
      const { invoice_number: invoiceNumber, reasons } = request.body ?? {};
      if (typeof invoiceNumber !== 'string' || !isFieldReasons(reasons)) {
        return reply
          .code(400)
          .send({ detail: 'Send {"invoice_number": "…", "reasons": {"field": ["reason"]}}.' });
      }
      sim.rejectPostsFor(invoiceNumber, reasons);
      return { status: 'rejecting' };
    },
  );
  app.delete(`${SIM_PREFIX}/reject-posts`, async () => {
    sim.clearRejections();
    return { status: 'cleared' };
  });
}
