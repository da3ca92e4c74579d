/**
 * `imt-ic adjustments list|show|retry|dismiss`: the balance updates of adjusted invoices
 * (`invoice-adjusted-<n>`, workflows/invoice-adjustment.ts). `retry` and `dismiss` are one
 * Update each to a NEEDS_ATTENTION run: its validator refuses a request in any other state
 * without writing history (exit 4), and the answer is the outcome.
 * Exit 0 done, 1 a retry that needs attention again, 2 bad arguments, 3 no such run,
 * 4 refused in the current state (or the run has ended).
 */
import { withUpdateRetry } from '../../common/update-retry';
import { WorkflowUpdateFailedError, type WorkflowExecutionDescription } from '@temporalio/client';
import type { Command } from 'commander';
import { z } from 'zod';
import { workflowUiUrl } from '../../common/ui';
import {
  AdjustmentStatus,
  SA,
  dismissUpdate,
  invoiceAdjustedWorkflowId,
  invoiceAdjustmentStateQuery,
  retryUpdate,
  type InvoiceAdjustmentState,
  type OperatorAnswer,
  taskQueuesOf,
} from '../../domain';
import {
  CliError,
  NotFoundError,
  RefusedError,
  UsageError,
  commandAction,
  parseArgs,
  type CommandContext,
  type GetContext,
} from './context';
import { commandIo, formatAge, json, renderFields, renderTable } from './format';
import { bySchema, idArg, limitSchema, operator } from './payment-args';
import { describeOrUndefined } from './payment-runs';

const WORKFLOW_TYPE = 'invoiceAdjustmentWorkflow';
const STATUSES = Object.values(AdjustmentStatus) as [AdjustmentStatus, ...AdjustmentStatus[]];
const invoiceArg = idArg('invoice number', 64);

function parseInvoice(value: string): string {
  const result = invoiceArg.safeParse(value);
  if (!result.success) throw new UsageError(`<invoice_number>: ${result.error.issues[0].message}`);
  return result.data;
}

export function registerAdjustmentCommands(program: Command, getContext: GetContext): void {
  const adjustments = program
    .command('adjustments')
    .description("Balance updates of adjusted invoices (IMT's balance sent to IC and verified)");
  registerList(adjustments, getContext);
  registerShow(adjustments, getContext);
  registerRetry(adjustments, getContext);
  registerDismiss(adjustments, getContext);
}

export interface AdjustmentRow {
  invoice_number: string;
  status: string;
  started_at: string;
  detail?: string;
  workflow_id: string;
  ui_url?: string;
}

function registerList(adjustments: Command, getContext: GetContext): void {
  adjustments
    .command('list')
    .description('open balance updates with their status (NEEDS_ATTENTION ones need a person)')
    .option('--status <S[,S…]>', `only these statuses (${STATUSES.join(', ')})`)
    .option('--limit <n>', 'at most this many runs (default 50)')
    .option('--json', 'machine-readable output')
    .action(
      commandAction(async (raw: Record<string, unknown>, cmd: Command) => {
        const opts = parseArgs(
          z.object({
            status: z
              .string()
              .transform((s) => s.split(',').map((v) => v.trim().toUpperCase()))
              .pipe(z.array(z.enum(STATUSES, { message: `must be one of ${STATUSES.join(', ')}` })))
              .optional(),
            limit: limitSchema.default(50),
            json: z.boolean().default(false),
          }),
          raw,
        );
        const rows = await listAdjustments(await getContext(), opts.limit, opts.status);
        const { out } = commandIo(cmd);
        if (opts.json) return out(json(rows));
        if (rows.length === 0) return out('No open balance updates match.\n');
        out(
          renderTable<AdjustmentRow>(
            [
              { header: 'INVOICE', value: (r) => r.invoice_number },
              { header: 'STATUS', value: (r) => r.status },
              { header: 'STARTED', value: (r) => formatAge(new Date(r.started_at)) },
              { header: 'DETAIL', value: (r) => r.detail ?? '', maxWidth: 80 },
            ],
            rows,
          ),
        );
      }),
    );
}

/**
 * Open adjustment runs of this deployment (they run on the bulk pool's queue, derived from the
 * service's TEMPORAL_TASK_QUEUE); each one's status from its `state` query.
 */
export async function listAdjustments(
  ctx: CommandContext,
  limit: number,
  statuses?: string[],
): Promise<AdjustmentRow[]> {
  const taskQueue = taskQueuesOf(ctx.taskQueue).bulk;
  const query = `WorkflowType = '${WORKFLOW_TYPE}' AND TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`;
  const rows: AdjustmentRow[] = [];
  for await (const wf of ctx.client.workflow.list({ query, pageSize: 100 })) {
    const { state, note } = await readAdjustment(ctx, wf.workflowId, wf.status.name);
    const status = state?.status ?? '?';
    if (statuses && !statuses.includes(status)) continue;
    rows.push({
      invoice_number:
        wf.typedSearchAttributes.get(SA.InvoiceNumber) ?? wf.workflowId.replace(/^invoice-adjusted-/, ''),
      status,
      started_at: wf.startTime.toISOString(),
      detail: state?.closingReason ?? state?.lastError?.message ?? note,
      workflow_id: wf.workflowId,
      ui_url: workflowUiUrl(ctx.temporalUiUrl, ctx.namespace, wf.workflowId),
    });
    if (rows.length >= limit) break;
  }
  return rows;
}

/** The `state` query needs a worker; a completed run's result holds the same state without one. */
async function readAdjustment(
  ctx: CommandContext,
  workflowId: string,
  runStatus: string,
): Promise<{ state?: InvoiceAdjustmentState; note?: string }> {
  const handle = ctx.client.workflow.getHandle(workflowId);
  try {
    if (runStatus === 'COMPLETED') return { state: (await handle.result()) as InvoiceAdjustmentState };
    return {
      state: await ctx.client.withDeadline(Date.now() + 5000, () =>
        handle.query(invoiceAdjustmentStateQuery),
      ),
    };
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return { note: `state not available (${reason}); is a worker polling the task queue?` };
  }
}

function registerShow(adjustments: Command, getContext: GetContext): void {
  adjustments
    .command('show')
    .description("an invoice's balance update: status, what was sent, what IC showed, next step")
    .argument('<invoice_number>', 'the IMT invoice number')
    .option('--json', 'machine-readable output')
    .action(
      commandAction(async (invoice: string, raw: { json?: boolean }, cmd: Command) => {
        const invoiceNumber = parseInvoice(invoice);
        const ctx = await getContext();
        const description = await mustDescribe(ctx, invoiceNumber);
        const runStatus = description.status.name;
        const { state, note } = await readAdjustment(ctx, description.workflowId, runStatus);
        const { out } = commandIo(cmd);
        if (raw.json)
          return out(json({ workflow_id: description.workflowId, run_status: runStatus, state, note }));
        out(formatAdjustment(ctx, description, state, note));
      }),
    );
}

export function formatAdjustment(
  ctx: CommandContext,
  d: WorkflowExecutionDescription,
  state: InvoiceAdjustmentState | undefined,
  note?: string,
): string {
  const n = state?.invoiceNumber ?? d.workflowId.replace(/^invoice-adjusted-/, '');
  const sync = state?.syncs.at(-1);
  const check = state?.checks?.at(-1);
  const shown =
    check &&
    (check.icBalanceDue === null
      ? 'not known to IC'
      : `balance ${check.icBalanceDue}, past due ${check.icPastDue}`);
  const parked = state?.status === AdjustmentStatus.NEEDS_ATTENTION && d.status.name === 'RUNNING';
  return `Balance update of invoice ${n}: ${state?.status ?? '?'} (run ${d.status.name})\n${renderFields([
    ['Changes', state?.reasons.length ? state.reasons.join('; ') : undefined],
    ['Last sent', sync && `balance ${sync.balanceDue}, past due ${sync.pastDue} (${sync.fileName})`],
    ['IC showed', check && `${shown} after ${check.checks} checks${check.verified ? ' (verified)' : ''}`],
    ['Last error', state?.lastError && `${state.lastError.type}: ${state.lastError.message}`],
    [
      'Dismissed',
      state?.closingReason &&
        `${state.closingReason}${state.dismissedBy ? ` (by ${state.dismissedBy})` : ''}`,
    ],
    ['Note', note],
    ['Workflow', d.workflowId],
    ['UI', workflowUiUrl(ctx.temporalUiUrl, ctx.namespace, d.workflowId)],
    [
      'Next',
      parked
        ? `check the invoice in IC, then \`imt-ic adjustments retry ${n}\` or \`imt-ic adjustments dismiss ${n} --reason …\``
        : undefined,
    ],
  ])}`;
}

function registerRetry(adjustments: Command, getContext: GetContext): void {
  adjustments
    .command('retry')
    .description('send and check again a NEEDS_ATTENTION balance update (Update "retry")')
    .argument('<invoice_number>', 'the IMT invoice number')
    .option('--by <name>', 'who asked; default cli:<your user name>')
    .action(
      commandAction(async (invoice: string, raw: Record<string, unknown>, cmd: Command) => {
        const invoiceNumber = parseInvoice(invoice);
        const { by } = parseArgs(z.object({ by: bySchema }), raw);
        const answer = await operate(await getContext(), invoiceNumber, 'retry', (h) =>
          h.executeUpdate(retryUpdate, { args: [{ by: operator(by) }] }),
        );
        commandIo(cmd).out(`Retried the balance update of invoice ${invoiceNumber}: now ${answer.status}.\n`);
        if (answer.status === AdjustmentStatus.NEEDS_ATTENTION)
          throw new CliError(`it needs attention again: ${answer.detail ?? ''}`);
      }),
    );
}

function registerDismiss(adjustments: Command, getContext: GetContext): void {
  adjustments
    .command('dismiss')
    .description('close a NEEDS_ATTENTION balance update without sending again (Update "dismiss")')
    .argument('<invoice_number>', 'the IMT invoice number')
    .requiredOption('--reason <text>', 'why (recorded in the run and shown in the UI)')
    .option('--by <name>', 'who decided; default cli:<your user name>')
    .action(
      commandAction(async (invoice: string, raw: Record<string, unknown>, cmd: Command) => {
        const invoiceNumber = parseInvoice(invoice);
        const opts = parseArgs(
          z.object({
            reason: z.string().trim().min(3, 'give a reason of at least 3 characters').max(500),
            by: bySchema,
          }),
          raw,
        );
        const answer = await operate(await getContext(), invoiceNumber, 'dismiss', (h) =>
          h.executeUpdate(dismissUpdate, { args: [{ reason: opts.reason, by: operator(opts.by) }] }),
        );
        commandIo(cmd).out(
          `The balance update of invoice ${invoiceNumber} is ${answer.status}: ${opts.reason}\n`,
        );
      }),
    );
}

async function mustDescribe(
  ctx: CommandContext,
  invoiceNumber: string,
): Promise<WorkflowExecutionDescription> {
  const workflowId = invoiceAdjustedWorkflowId(invoiceNumber);
  const description = await describeOrUndefined(ctx.client, workflowId);
  if (!description)
    throw new NotFoundError(
      `no balance update of invoice ${invoiceNumber} (no workflow ${workflowId} in namespace ${ctx.namespace})`,
    );
  return description;
}

type Handle = ReturnType<CommandContext['client']['workflow']['getHandle']>;

/** One operator Update; a refusal (wrong state, ended run) becomes a clear error with exit 4. */
async function operate(
  ctx: CommandContext,
  invoiceNumber: string,
  action: 'retry' | 'dismiss',
  send: (h: Handle) => Promise<OperatorAnswer>,
): Promise<OperatorAnswer> {
  const description = await mustDescribe(ctx, invoiceNumber);
  const what = `the balance update of invoice ${invoiceNumber}`;
  if (description.status.name !== 'RUNNING')
    throw new RefusedError(`cannot ${action} ${what}: its run has ended (${description.status.name})`);
  try {
    return await withUpdateRetry(() => send(ctx.client.workflow.getHandle(description.workflowId)));
  } catch (err) {
    if (!(err instanceof WorkflowUpdateFailedError)) throw err;
    const why = err.cause instanceof Error ? err.cause.message.split('\n')[0] : String(err.cause);
    throw new RefusedError(`cannot ${action} ${what}: ${why}`);
  }
}
