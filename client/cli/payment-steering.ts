/**
 * `payments retry` and `payments dismiss`: steer a NEEDS_ATTENTION payment through its
 * workflow's own signals, then (optionally) wait for what it did.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import {
  PaymentStatus,
  SA,
  dismissSignal,
  paymentStateQuery,
  retrySignal,
  workflowIds,
  type PaymentState,
} from '../../domain';
import {
  CliError,
  UsageError,
  commandAction,
  parseArgs,
  type CommandContext,
  type ContextProvider,
} from './context';
import { ProgressBar, type CliIo } from './format';
import { bySchema, idArg, operator, parseId, waitSchema } from './payment-args';
import { describeOrUndefined, listPayments } from './payment-runs';

export function registerSteeringCommands(payments: Command, io: CliIo, provider: ContextProvider): void {
  registerRetry(payments, io, provider);
  registerDismiss(payments, io, provider);
}

function registerRetry(payments: Command, io: CliIo, provider: ContextProvider): void {
  payments
    .command('retry')
    .description('post a NEEDS_ATTENTION payment again, after its cause was fixed (signal "retry")')
    .argument('[transaction_id]', "IC's payment GUID")
    .option('--all', 'retry every NEEDS_ATTENTION payment (narrow with --invoice / --customer)')
    .option('--invoice <invoice_number>', 'with --all: only payments on this invoice')
    .option('--customer <customer>', 'with --all: only payments of this customer')
    .option('--by <name>', 'who asked (recorded in the run); default cli:<your user name>')
    .option('--wait <seconds>', 'wait this long for the new attempt’s outcome (0 = do not wait)', '20')
    .action(
      commandAction(async (id: string | undefined, raw: Record<string, unknown>) => {
        const opts = parseArgs(
          z.object({
            all: z.boolean().default(false),
            invoice: idArg('invoice number', 64).optional(),
            customer: idArg('customer', 64).optional(),
            by: bySchema,
            wait: waitSchema,
          }),
          raw,
        );
        const by = operator(opts.by);
        if (opts.all) {
          if (id !== undefined) throw new UsageError('give either <transaction_id> or --all, not both');
          await retryAll(io, await provider.get(), { ...opts, by });
          return;
        }
        if (id === undefined) throw new UsageError('missing <transaction_id> (or --all)');
        if (opts.invoice || opts.customer) throw new UsageError('--invoice / --customer only go with --all');
        const transactionId = parseId(id);
        const ctx = await provider.get();
        const handle = await requireParked(ctx, transactionId, 'retry');
        const before = await ctx.client
          .withDeadline(Date.now() + 5000, () => handle.query(paymentStateQuery))
          .catch(() => undefined);
        await handle.signal(retrySignal, { by });
        io.out(`Retry requested for payment ${transactionId}.\n`);
        if (opts.wait === 0) return;
        const after = await waitForNextOutcome(ctx, transactionId, before?.attempts ?? 0, opts.wait * 1000);
        if (!after) {
          io.out(`No outcome within ${opts.wait}s; follow with: imt-ic payments show ${transactionId}\n`);
          return;
        }
        io.out(`Now ${after.status} after attempt ${after.attempts}.\n`);
        if (after.status === PaymentStatus.NEEDS_ATTENTION && after.lastError) {
          throw new CliError(`IMT refused it again: ${after.lastError.message}`);
        }
      }),
    );
}

function registerDismiss(payments: Command, io: CliIo, provider: ContextProvider): void {
  payments
    .command('dismiss')
    .description('close a NEEDS_ATTENTION payment without posting it (signal "dismiss")')
    .argument('<transaction_id>', "IC's payment GUID")
    .requiredOption('--reason <text>', 'why it must not be posted (recorded in the run and shown in the UI)')
    .option('--by <name>', 'who decided; default cli:<your user name>')
    .option('--wait <seconds>', 'wait this long for the run to close (0 = do not wait)', '20')
    .action(
      commandAction(async (id: string, raw: Record<string, unknown>) => {
        const transactionId = parseId(id);
        const opts = parseArgs(
          z.object({
            reason: z
              .string()
              .trim()
              .min(3, 'give a reason of at least 3 characters')
              .max(500, 'must be at most 500 characters'),
            by: bySchema,
            wait: waitSchema,
          }),
          raw,
        );
        const ctx = await provider.get();
        const handle = await requireParked(ctx, transactionId, 'dismiss');
        await handle.signal(dismissSignal, { reason: opts.reason, by: operator(opts.by) });
        io.out(`Dismiss requested for payment ${transactionId}.\n`);
        if (opts.wait === 0) return;
        const result = (await ctx.client
          .withDeadline(Date.now() + opts.wait * 1000, () => handle.result())
          .catch(() => undefined)) as PaymentState | undefined;
        if (!result) {
          io.out(
            `The run has not closed within ${opts.wait}s; follow with: imt-ic payments show ${transactionId}\n`,
          );
          return;
        }
        if (result.status !== PaymentStatus.DISMISSED) {
          throw new CliError(
            `the payment ended ${result.status}, not DISMISSED (it changed state meanwhile)`,
          );
        }
        io.out(`Payment ${transactionId} is DISMISSED: ${result.closingReason ?? opts.reason}\n`);
      }),
    );
}

async function requireParked(ctx: CommandContext, transactionId: string, action: string) {
  const workflowId = workflowIds.payment(transactionId);
  const desc = await describeOrUndefined(ctx.client, workflowId);
  if (!desc)
    throw new CliError(
      `no payment ${transactionId} (no workflow ${workflowId} in namespace ${ctx.namespace})`,
    );
  const status = desc.typedSearchAttributes.get(SA.PaymentStatus) ?? 'UNKNOWN';
  if (desc.status.name !== 'RUNNING' || status !== PaymentStatus.NEEDS_ATTENTION) {
    const why =
      status === PaymentStatus.RETRYING ||
      status === PaymentStatus.AUTH_REJECTED ||
      status === PaymentStatus.MAYBE_POSTED ||
      status === PaymentStatus.SETTLING
        ? 'the service is retrying it automatically'
        : desc.status.name === 'RUNNING'
          ? 'it is in progress'
          : `its run is ${desc.status.name.toLowerCase()}`;
    throw new CliError(
      `cannot ${action} payment ${transactionId}: it is ${status} (${why}); only a NEEDS_ATTENTION payment can be ${action === 'retry' ? 'retried' : 'dismissed'}`,
    );
  }
  return ctx.client.workflow.getHandle(workflowId);
}

async function sleep(ms: number) {
  await new Promise((r) => setTimeout(r, ms));
}

/** After a retry signal: the state once the new attempt has an outcome (or undefined at the deadline). */
async function waitForNextOutcome(
  ctx: CommandContext,
  transactionId: string,
  attemptsBefore: number,
  waitMs: number,
) {
  const handle = ctx.client.workflow.getHandle(workflowIds.payment(transactionId));
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const state = await ctx.client
      .withDeadline(Math.min(deadline, Date.now() + 5000), () => handle.query(paymentStateQuery))
      .catch(() => undefined);
    if (state && state.attempts > attemptsBefore && state.status !== PaymentStatus.RECEIVED) return state;
    if (state && state.status === PaymentStatus.DISMISSED) return state;
    await sleep(250);
  }
  return undefined;
}

async function retryAll(
  io: CliIo,
  ctx: CommandContext,
  opts: { invoice?: string; customer?: string; by: string },
): Promise<void> {
  const parked = await listPayments(ctx, {
    status: [PaymentStatus.NEEDS_ATTENTION],
    invoice: opts.invoice,
    customer: opts.customer,
    limit: 10_000,
    json: false,
    anyTaskQueue: false,
  });
  if (parked.length === 0) {
    io.out('No NEEDS_ATTENTION payments match.\n');
    return;
  }
  const bar = new ProgressBar(io, 'Retrying', parked.length);
  const failed: string[] = [];
  for (const row of parked) {
    try {
      await ctx.client.workflow.getHandle(row.workflow_id).signal(retrySignal, { by: opts.by });
    } catch (err) {
      failed.push(
        `${row.transaction_id}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
      );
    }
    bar.tick();
  }
  bar.done();
  io.out(`Retry requested for ${parked.length - failed.length} of ${parked.length} payments.\n`);
  if (failed.length) throw new CliError(`${failed.length} could not be signalled: ${failed.join('; ')}`);
}
