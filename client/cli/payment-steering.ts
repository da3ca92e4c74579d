/**
 * `payments retry` and `payments dismiss`: one Update each to a NEEDS_ATTENTION
 * transaction's run. The run's validator refuses a request in the wrong state without
 * writing history, and the answer is the outcome — no check, signal, then poll.
 */
import { withUpdateRetry } from '../../common/update-retry';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { Command } from 'commander';
import { z } from 'zod';
import { PaymentStatus, dismissUpdate, retryUpdate, workflowIds, type OperatorAnswer } from '../../domain';
import {
  CliError,
  NotFoundError,
  RefusedError,
  UsageError,
  commandAction,
  parseArgs,
  type CommandContext,
  type ContextProvider,
} from './context';
import { ProgressBar, type CliIo } from './format';
import { bySchema, idArg, operator, parseId } from './payment-args';
import { describeOrUndefined, listPayments } from './payment-runs';

export function registerSteeringCommands(payments: Command, io: CliIo, provider: ContextProvider): void {
  registerRetry(payments, io, provider);
  registerDismiss(payments, io, provider);
}

function registerRetry(payments: Command, io: CliIo, provider: ContextProvider): void {
  payments
    .command('retry')
    .description('go on with a NEEDS_ATTENTION transaction, after its cause was fixed (Update "retry")')
    .argument('[transaction_id]', "IC's payment GUID")
    .option('--all', 'retry every NEEDS_ATTENTION payment (narrow with --invoice / --customer)')
    .option('--invoice <invoice_number>', 'with --all: only payments on this invoice')
    .option('--customer <customer>', 'with --all: only payments of this customer')
    .option('--by <name>', 'who asked (recorded in the run); default cli:<your user name>')
    .action(
      commandAction(async (id: string | undefined, raw: Record<string, unknown>) => {
        const opts = parseArgs(
          z.object({
            all: z.boolean().default(false),
            invoice: idArg('invoice number', 64).optional(),
            customer: idArg('customer', 64).optional(),
            by: bySchema,
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
        const answer = await operate(ctx, transactionId, 'retry', (h) =>
          h.executeUpdate(retryUpdate, { args: [{ by }] }),
        );
        io.out(`Retried payment ${transactionId}: now ${answer.status}.\n`);
        if (answer.status === PaymentStatus.NEEDS_ATTENTION)
          throw new CliError(`it needs attention again: ${answer.detail ?? ''}`);
      }),
    );
}

function registerDismiss(payments: Command, io: CliIo, provider: ContextProvider): void {
  payments
    .command('dismiss')
    .description('close a NEEDS_ATTENTION transaction without posting it (Update "dismiss")')
    .argument('<transaction_id>', "IC's payment GUID")
    .requiredOption('--reason <text>', 'why it must not be posted (recorded in the run and shown in the UI)')
    .option('--by <name>', 'who decided; default cli:<your user name>')
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
          }),
          raw,
        );
        const ctx = await provider.get();
        const answer = await operate(ctx, transactionId, 'dismiss', (h) =>
          h.executeUpdate(dismissUpdate, { args: [{ reason: opts.reason, by: operator(opts.by) }] }),
        );
        io.out(`Payment ${transactionId} is ${answer.status}: ${opts.reason}\n`);
      }),
    );
}

type Handle = ReturnType<CommandContext['client']['workflow']['getHandle']>;

/** One operator Update; a refusal (wrong state, unknown transaction) becomes a clear CLI error. */
async function operate(
  ctx: CommandContext,
  transactionId: string,
  action: 'retry' | 'dismiss',
  send: (h: Handle) => Promise<OperatorAnswer>,
): Promise<OperatorAnswer> {
  const workflowId = workflowIds.payment(transactionId);
  if (!(await describeOrUndefined(ctx.client, workflowId)))
    throw new NotFoundError(
      `no payment ${transactionId} (no workflow ${workflowId} in namespace ${ctx.namespace})`,
    );
  try {
    return await withUpdateRetry(() => send(ctx.client.workflow.getHandle(workflowId)));
  } catch (err) {
    const cause = err instanceof WorkflowUpdateFailedError ? err.cause : err;
    const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new RefusedError(`cannot ${action} payment ${transactionId}: ${why}`);
  }
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
      await ctx.client.workflow
        .getHandle(row.workflow_id)
        .executeUpdate(retryUpdate, { args: [{ by: opts.by }] });
    } catch (err) {
      failed.push(
        `${row.transaction_id}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
      );
    }
    bar.tick();
  }
  bar.done();
  io.out(`Retried ${parked.length - failed.length} of ${parked.length} payments.\n`);
  if (failed.length) throw new CliError(`${failed.length} could not be retried: ${failed.join('; ')}`);
}
