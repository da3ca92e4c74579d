/**
 * Invoice Cloud simulator: the `/_sim/...` control routes (no auth, never faulted) with which
 * tests, the demo and operators inspect uploads and invoices and switch failure modes.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { registerFaultRoutes, type FaultController } from '../faults';
import { icFaultPatchSchema, type IcFaultController } from './ic-faults';
import type { IcState, IcUpload } from './state';

export const SIM_PREFIX = '/_sim';

/** What the control routes reach of the simulator (`IcSimulator` in server.ts). */
export interface IcControls {
  faults: FaultController;
  /** IC-level failure modes (Success=false answers, a wrong InvoiceCount, slow loading). */
  icFaults: IcFaultController;
  uploads(): IcUpload[];
  /** Force every upload to answer Success=false with this message (null = back to normal). */
  rejectUploads(message: string | null): void;
  /** Back to the state right after start: no uploads, invoices, rejection or faults. */
  reset(): void;
}

export function registerSimRoutes(app: FastifyInstance, sim: IcControls, state: IcState): void {
  app.get(`${SIM_PREFIX}/health`, async () => ({ status: 'ok' }));
  app.get(`${SIM_PREFIX}/uploads`, async () => sim.uploads());
  app.get<{ Params: { n: string } }>(`${SIM_PREFIX}/invoices/:n`, async (request, reply) => {
    const invoice = state.invoices.get(request.params.n);
    return invoice ?? reply.code(404).send({ detail: `Invoice ${request.params.n} not loaded.` });
  });
  registerFaultRoutes(app, sim.faults, SIM_PREFIX);
  registerIcFaultRoutes(app, sim.icFaults);
  app.post<{ Body: { message?: unknown } }>(`${SIM_PREFIX}/reject-uploads`, async (request, reply) => {
    const message = request.body?.message;
    if (message !== null && typeof message !== 'string') {
      return reply
        .code(400)
        .send({ detail: 'Send {"message": "…"} to refuse uploads, {"message": null} to stop.' });
    }
    sim.rejectUploads(message);
    return { rejecting: message };
  });
  app.post(`${SIM_PREFIX}/reset`, async () => {
    sim.reset();
    return { status: 'reset' };
  });
}

function registerIcFaultRoutes(app: FastifyInstance, icFaults: IcFaultController): void {
  app.get(`${SIM_PREFIX}/ic-faults`, async () => icFaults.get());
  app.put(`${SIM_PREFIX}/ic-faults`, async (request, reply) => {
    const patch = icFaultPatchSchema.safeParse(request.body ?? {});
    if (!patch.success) return reply.code(400).send({ detail: z.prettifyError(patch.error) });
    icFaults.set(patch.data);
    return icFaults.get();
  });
  app.delete(`${SIM_PREFIX}/ic-faults`, async () => {
    icFaults.clear();
    return icFaults.get();
  });
}
