/**
 * A biller day of N payments for the reconciliation benches: the same transaction IDs,
 * customers, invoices and amounts on both sides — IMT's (bench/environment/bulk-simulators.ts)
 * and the service's, as posted transaction runs with the real workflow type, memo and search
 * attributes from a stand-in workflow that completes at once (bench/reconcile-workflows.ts).
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Worker,
  type NativeConnection,
  type WorkerOptions,
} from '@temporalio/worker';
import { PaymentStatus, SA, TRANSACTION_WORKFLOW_TYPE, workflowIds } from '../../domain';

const SEED_CONCURRENCY = 64;

export function reconcileDayPayment(i: number) {
  const customer = String(i).padStart(6, '0');
  return {
    txid: `B-${String(i).padStart(7, '0')}`,
    customer,
    invoice: `${customer}20221001`,
    amount: `${10 + (i % 990)}.${String(i % 100).padStart(2, '0')}`,
  };
}

/** Seeds N completed stand-in transaction runs on `taskQueue`; returns once visibility lists them all. */
export async function seedServiceSide(
  client: Client,
  connection: NativeConnection,
  taskQueue: string,
  transactions: number,
  log: (line: string) => void,
  dataConverter?: WorkerOptions['dataConverter'],
): Promise<number> {
  const started = Date.now();
  const seeder = await Worker.create({
    connection,
    taskQueue,
    dataConverter,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: require.resolve('../reconcile-workflows'),
      logger: new DefaultLogger('WARN'),
    }),
  });
  const running = seeder.run();
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: SEED_CONCURRENCY }, async () => {
        while (next < transactions) {
          const i = next++;
          const p = reconcileDayPayment(i);
          await client.workflow
            .start(TRANSACTION_WORKFLOW_TYPE, {
              workflowId: workflowIds.payment(p.txid),
              taskQueue,
              memo: { amount: p.amount, payment_method: 'echeck' },
              typedSearchAttributes: [
                { key: SA.TransactionId, value: p.txid },
                { key: SA.InvoiceNumber, value: p.invoice },
                { key: SA.CustomerId, value: p.customer },
                { key: SA.PaymentStatus, value: PaymentStatus.POSTED },
              ],
            })
            // A start retried after a timeout may find its first attempt succeeded.
            .catch((err: unknown) => {
              if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
            });
          if ((i + 1) % 10_000 === 0)
            log(
              `[bench] seeded ${i + 1} / ${transactions} runs (${Math.round((Date.now() - started) / 1000)} s)`,
            );
        }
      }),
    );
    const closed = `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Completed'`;
    while ((await client.workflow.count(closed)).count < transactions)
      await new Promise((r) => setTimeout(r, 1000));
  } finally {
    seeder.shutdown();
    await running;
  }
  return (Date.now() - started) / 1000;
}
