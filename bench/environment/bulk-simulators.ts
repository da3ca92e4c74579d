/**
 * The bulk pool's partners in a process of their own (bench/load/pools.ts): an IMT simulator
 * holding a billing cycle of BENCH_INVOICES invoices (the export's) and a biller day of
 * BENCH_TRANSACTIONS payments from IC (the reconciliation's IMT side, C4), and an IC
 * simulator. Apart from the bench's process so that serving 100,000-invoice pages does not
 * share an event loop with the ingress whose latency the bench measures. Prints one JSON
 * line with both URLs once ready.
 */
import { z } from 'zod';
import { startIcSimulator } from '../../simulators/ic/server';
import { startImtSimulator } from '../../simulators/imt/server';
import { reconcileDayPayment } from './reconcile-day';

const Env = z.object({
  BENCH_IMT_INTEGRATOR_ID: z.string().min(1),
  BENCH_IC_BILLER_GUID: z.string().min(1),
  BENCH_IC_WEB_SERVICE_KEY: z.string().min(1),
  BENCH_CYCLE: z.string().regex(/^\d{4}-\d{2}-01$/),
  BENCH_INVOICES: z.coerce.number().int().min(1),
  BENCH_TRANSACTIONS: z.coerce.number().int().min(0),
  BENCH_TIME_ZONE: z.string().min(1),
});

async function main(): Promise<void> {
  const env = Env.parse(process.env);
  const imt = await startImtSimulator({
    integratorId: env.BENCH_IMT_INTEGRATOR_ID,
    billerTimeZone: env.BENCH_TIME_ZONE,
    cycles: [{ seed: 42, invoiceMonth: env.BENCH_CYCLE, count: env.BENCH_INVOICES, invalidEvery: 50 }],
  });
  for (let i = 0; i < env.BENCH_TRANSACTIONS; i++) {
    const p = reconcileDayPayment(i);
    imt.payments.postDirectly({
      transaction_id: p.txid,
      customer: p.customer,
      invoice_number: p.invoice,
      amount: p.amount,
    });
  }
  const ic = await startIcSimulator({
    billerGuid: env.BENCH_IC_BILLER_GUID,
    webServiceKey: env.BENCH_IC_WEB_SERVICE_KEY,
  });
  process.stdout.write(`${JSON.stringify({ imtUrl: imt.url, icUrl: ic.url })}\n`);
  const stop = () => void Promise.all([imt.close(), ic.close()]).then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`bulk simulators failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
