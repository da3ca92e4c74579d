/**
 * IMT simulator: a real HTTP server on loopback that answers like IMT's partner API
 * (design §1) plus the assumed calls of contracts C1 (cycle listing), C2 (reversals),
 * C3 (idempotency on `transaction_id`) and C4 (payments by posting day).
 *
 * Tests, `npm start` and the demo point the service at it instead of
 * billing(test).imtapps.com. Besides the partner routes it exposes `/_sim/...`
 * control routes (no auth, never faulted) to inspect postings, reversals, the ledger
 * and the request log, to switch failure modes and to add invoices.
 *
 * This file only assembles the pieces: the state (state.ts, invoices.ts), what IMT accepts
 * (validation.ts), the routes by flow (routes-*.ts, payments-listing.ts) and the hooks
 * every partner call passes (hooks.ts).
 */
import Fastify from 'fastify';
import { FaultController, installFaults, registerControlRoutes } from '../faults';
import { listenUrl } from '../http';
import type { ServedPdf } from './bill-pdf';
import { generateCycle, type CycleOptions } from './dataset';
import { installAuth, installErrorHandling, installRequestLog } from './hooks';
import { registerPaymentListing, registerPaymentSimRoutes, type ImtPaymentsAdmin } from './payments-listing';
import { registerInvoiceRoutes, registerListRoute } from './routes-invoices';
import { registerPaymentRoutes } from './routes-payments';
import { registerSimRoutes, type ImtControls } from './routes-sim';
import { ImtState } from './state';
import { SIM_PREFIX, type ImtRequestLogEntry, type ListPageRequest } from './types';

export interface ImtSimulatorOptions {
  /** 0 (default) = a random free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The `X-Integrator-ID` every partner call must carry. */
  integratorId: string;
  cycles?: CycleOptions[];
  /** Fastify request logging; off by default. Headers are redacted when on. */
  logger?: boolean;
  /** The biller's time zone, in which C4 reads `posted_from` / `posted_to` (default America/Chicago). */
  billerTimeZone?: string;
}

export interface ImtSimulator extends ImtControls {
  url: string;
  close(): Promise<void>;
  /** Serve this invoice's bill PDF padded to at least `bytes` (large-bill tests); 0 = plain. */
  padBillPdf(invoiceNumber: string, bytes: number): void;
  /** Hash and size of every bill PDF served, newest last. */
  servedPdfs(): ServedPdf[];
  /** Contracts C4 listing and out-of-band payment changes (payments-listing.ts). */
  payments: ImtPaymentsAdmin;
}

export async function startImtSimulator(opts: ImtSimulatorOptions): Promise<ImtSimulator> {
  if (!opts.integratorId) throw new TypeError('startImtSimulator: integratorId is required');
  const host = opts.host ?? '127.0.0.1';
  const app = Fastify({
    // Request logs never include headers by default; the redaction is a second guard for X-Integrator-ID.
    logger: opts.logger ? { level: 'info', redact: ['req.headers["x-integrator-id"]'] } : false,
    forceCloseConnections: true,
  });
  const faults = new FaultController();
  const state = new ImtState((opts.cycles ?? []).map(generateCycle));
  const requestLog: ImtRequestLogEntry[] = [];
  const pageRequests: ListPageRequest[] = [];

  // Order matters: log every request, then faults (they act before IMT's app), then auth.
  installRequestLog(app, requestLog);
  installFaults(app, faults, { exemptPrefix: SIM_PREFIX });
  installAuth(app, opts.integratorId);
  installErrorHandling(app);
  registerInvoiceRoutes(app, state);
  registerListRoute(app, state, pageRequests);
  registerPaymentRoutes(app, state);
  const payments = registerPaymentListing(app, state, { billerTimeZone: opts.billerTimeZone });

  const sim: ImtSimulator = {
    url: '',
    faults,
    close: () => app.close(),
    addInvoice: (invoice) => void state.addInvoice(invoice),
    postings: () => state.postings(),
    reversals: () => state.reversals(),
    ledger: (invoiceNumber) => state.ledger(invoiceNumber).map((e) => ({ ...e })),
    requestLog: () => requestLog.map((e) => ({ ...e })),
    rejectPostsFor: (invoiceNumber, rejectReasons) => void state.rejections.set(invoiceNumber, rejectReasons),
    clearRejections: () => state.rejections.clear(),
    listPageRequests: () => pageRequests.map((p) => ({ ...p })),
    setClock: (now) => state.setClock(now),
    padBillPdf: (invoiceNumber, bytes) => void state.pdfPadding.set(invoiceNumber, bytes),
    servedPdfs: () => state.servedPdfs.map((p) => ({ ...p })),
    payments,
    reset: () => {
      state.reset();
      payments.reset();
      faults.clear();
      requestLog.length = 0;
      pageRequests.length = 0;
    },
  };
  registerControlRoutes(app, (scope) => {
    registerSimRoutes(scope, sim);
    registerPaymentSimRoutes(scope, payments);
  });

  await app.listen({ port: opts.port ?? 0, host });
  sim.url = listenUrl(app, host, 'IMT simulator');
  return sim;
}

// The simulator's public types, importable from here as before the split.
export type { ImtCustomerDetail, ImtListedInvoice } from './dataset';
export type {
  AddInvoiceInput,
  FieldReasons,
  ImtInvoiceDetail,
  ImtRequestLogEntry,
  LedgerEntry,
  ListPageRequest,
  PaymentMethod,
  PostedPayment,
  Reversal,
  ReversalType,
} from './types';
