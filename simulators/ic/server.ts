/**
 * Invoice Cloud simulator: the `CloudInvoicing.asmx` SOAP 1.1 web service as assumed
 * by contracts D, serving `UploadInvoiceFile` and `ViewInvoiceByInvoiceNumber`.
 *
 * It validates uploaded invoice files strictly (contracts E, see `bif-parser.ts`),
 * loads them all-or-nothing, treats a repeated upload of the same file name and
 * content as a no-op success, and exposes `/_sim/...` control routes (no auth, never
 * faulted) to inspect uploads and invoices and to switch failure modes.
 *
 * This file only assembles the pieces: SOAP (soap.ts), IC's state (state.ts), IC-level
 * failure modes (ic-faults.ts) and the routes (routes-soap.ts, routes-sim.ts).
 */
import Fastify from 'fastify';
import { FaultController, installFaults, registerControlRoutes } from '../faults';
import { listenUrl } from '../http';
import type { BifDateFormat } from './bif-parser';
import { IcFaultController } from './ic-faults';
import { registerSimRoutes, SIM_PREFIX, type IcControls } from './routes-sim';
import { installErrorHandling, registerSoapEndpoint } from './routes-soap';
import { BODY_LIMIT, soapFault } from './soap';
import { IcState, type IcInvoice } from './state';

export interface IcSimulatorOptions {
  /** 0 (default) = a random free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  billerGuid: string;
  webServiceKey: string;
  /** Date format the biller's file must use. Default YYYY-MM-DD. */
  dateFormat?: BifDateFormat;
  /** Fastify request logging; off by default. */
  logger?: boolean;
}

export interface IcSimulator extends IcControls {
  url: string;
  close(): Promise<void>;
  invoices(): Map<string, IcInvoice>;
}

export async function startIcSimulator(opts: IcSimulatorOptions): Promise<IcSimulator> {
  if (!opts.billerGuid || !opts.webServiceKey) {
    throw new TypeError('startIcSimulator: billerGuid and webServiceKey are required');
  }
  const host = opts.host ?? '127.0.0.1';
  const app = Fastify({
    // Request logs carry no bodies, so the WebServiceKey inside the envelope is never logged.
    logger: opts.logger ? { level: 'info' } : false,
    bodyLimit: BODY_LIMIT,
    forceCloseConnections: true,
  });
  const faults = new FaultController();
  const icFaults = new IcFaultController();
  const state = new IcState(opts.dateFormat ?? 'YYYY-MM-DD', icFaults);

  installFaults(app, faults, {
    exemptPrefix: SIM_PREFIX,
    renderError: (status, message) => ({
      contentType: 'text/xml; charset=utf-8',
      body: soapFault(status >= 500 ? 'soap:Server' : 'soap:Client', message),
    }),
  });
  installErrorHandling(app);
  registerSoapEndpoint(app, state, opts, icFaults);

  const sim: IcSimulator = {
    url: '',
    faults,
    icFaults,
    close: () => app.close(),
    uploads: () => state.uploads(),
    invoices: () => new Map([...state.invoices].map(([k, v]) => [k, { ...v }])),
    rejectUploads: (message) => {
      state.forcedRejection = message;
    },
    reset: () => {
      state.reset();
      faults.clear();
      icFaults.clear();
    },
  };
  registerControlRoutes(app, (scope) => registerSimRoutes(scope, sim, state));

  await app.listen({ port: opts.port ?? 0, host });
  sim.url = listenUrl(app, host, 'IC simulator');
  return sim;
}

// The simulator's public names, importable from here as before the split.
export { DEFAULT_IC_FAULTS, IC_BUSY_MESSAGE, IcFaultController, type IcFaultConfig } from './ic-faults';
export { IC_ENDPOINT, IC_NAMESPACE, soapFault, xmlEscape } from './soap';
export type { IcInvoice, IcUpload } from './state';
