/**
 * `imt-ic payments …` — find, understand and steer transaction runs (one per IC transaction:
 * its payment, void or ACH reject).
 *
 * Everything reads Temporal (visibility queries, describe, the `state` query), so the
 * CLI shows exactly what the Temporal UI shows; steering goes through the run's own
 * Updates (`retry`, `dismiss`, payment-steering.ts) or, for voids and ACH rejects,
 * through the ingress endpoints IC itself calls (payment-manual-entry.ts) — so a manual
 * entry takes the same validated, deduplicated path as one from IC.
 */
import type { Command } from 'commander';
import { NotFoundError, commandAction, parseArgs, type ContextProvider } from './context';
import { ProgressBar, formatAge, formatTime, json, renderTable, type CliIo } from './format';
import { ListOptionsSchema, STATUSES, parseId } from './payment-args';
import { paymentDetails, renderDetails } from './payment-details';
import { registerManualEntryCommands } from './payment-manual-entry';
import { buildListQuery, listPayments, type PaymentRow } from './payment-runs';
import { registerSteeringCommands } from './payment-steering';

// What other entry points (the demo) read from here.
export { listPayments, type PaymentRow } from './payment-runs';

export function registerPaymentCommands(program: Command, io: CliIo, provider: ContextProvider): void {
  const payments = program
    .command('payments')
    .description('find, inspect and steer transaction runs (one per IC transaction)')
    .addHelpText(
      'after',
      `
Statuses: ${STATUSES.join(', ')}

Examples:
  imt-ic payments list --status NEEDS_ATTENTION
  imt-ic payments show 7d3f9a2e-…
  imt-ic payments retry 7d3f9a2e-…
  imt-ic payments dismiss 7d3f9a2e-… --reason "refunded in IC"`,
    );
  registerList(payments, io, provider);
  registerShow(payments, io, provider);
  registerSteeringCommands(payments, io, provider);
  registerManualEntryCommands(payments, io, provider);
}

function registerList(payments: Command, io: CliIo, provider: ContextProvider): void {
  payments
    .command('list')
    .description(
      'list transaction runs: open ones first, then the most recently closed (a Temporal visibility query)',
    )
    .option('--status <status>', 'only these statuses (comma-separated), e.g. NEEDS_ATTENTION')
    .option('--invoice <invoice_number>', 'only payments on this IMT invoice')
    .option('--customer <customer>', 'only payments of this IMT customer / IC account number')
    .option('--since <when>', 'only payments received since: 30m, 24h, 7d or a date (2022-10-01)')
    .option('--limit <n>', 'at most this many rows', '50')
    .option('--any-task-queue', "include runs of other task queues than this deployment's")
    .option('--json', 'print JSON instead of a table')
    .action(
      commandAction(async (raw: Record<string, unknown>) => {
        const opts = parseArgs(ListOptionsSchema, raw);
        const ctx = await provider.get();
        const bar = opts.limit > 200 ? new ProgressBar(io, 'Listing payments', opts.limit) : undefined;
        const rows = await listPayments(ctx, opts, bar ? () => bar.tick() : undefined);
        bar?.done();
        if (opts.json) return io.out(json(rows));
        if (rows.length === 0) {
          io.out('No payments match.\n');
          io.err(`(query: ${buildListQuery(opts, opts.anyTaskQueue ? undefined : ctx.taskQueue)})\n`);
          return;
        }
        io.out(
          renderTable<PaymentRow>(
            [
              { header: 'TRANSACTION ID', value: (r) => r.transaction_id, maxWidth: 40 },
              { header: 'STATUS', value: (r) => r.status },
              { header: 'AMOUNT', value: (r) => r.amount ?? '', align: 'right' },
              { header: 'METHOD', value: (r) => r.payment_method ?? '' },
              { header: 'INVOICE', value: (r) => r.invoice_number ?? '' },
              { header: 'CUSTOMER', value: (r) => r.customer ?? '' },
              { header: 'REVERSAL', value: (r) => r.reversal ?? '' },
              { header: 'RECEIVED', value: (r) => formatTime(r.started_at) },
              { header: 'AGE', value: (r) => formatAge(new Date(r.started_at)) },
            ],
            rows,
          ),
        );
        const more = rows.length >= opts.limit ? ` (first ${opts.limit}; use --limit for more)` : '';
        io.err(`${rows.length} payment${rows.length === 1 ? '' : 's'}${more}\n`);
      }),
    );
}

function registerShow(payments: Command, io: CliIo, provider: ContextProvider): void {
  payments
    .command('show')
    .description(
      "one transaction's state: status, whether IMT holds it, attempts, reversal, why a person is needed, last error, its log and Temporal UI links",
    )
    .argument('<transaction_id>', "IC's payment GUID")
    .option('--json', 'print JSON')
    .action(
      commandAction(async (id: string, raw: { json?: boolean }) => {
        const transactionId = parseId(id);
        const details = await paymentDetails(await provider.get(), transactionId);
        if (!details)
          throw new NotFoundError(
            `no payment ${transactionId} (no run with this transaction ID in Temporal)`,
          );
        io.out(raw.json ? json(details) : renderDetails(details));
      }),
    );
}
