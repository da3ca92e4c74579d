/**
 * `imt-ic payments …` — find, understand and steer payment runs.
 *
 * Everything reads Temporal (visibility queries, describe, the `state` query), so the
 * CLI shows exactly what the Temporal UI shows; steering goes through the workflow's
 * own signals (`retry`, `dismiss`) or, for voids and ACH rejects, through the ingress
 * endpoints IC itself calls — so a manual entry takes the same validated, deduplicated
 * path as one from IC.
 */
import os from 'node:os';
import axios from 'axios';
import { Option, type Command } from 'commander';
import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { z } from 'zod';
import {
  PaymentStatus,
  SA,
  workflowIds,
  type PaymentState,
  dismissSignal,
  paymentStateQuery,
  retrySignal,
} from '../../domain';
import {
  AchRejectSchema,
  RETURN_CODE,
  VoidPaymentSchema,
  amountSchema,
  fieldErrors,
} from '../ingress/schemas';
import { workflowListUiUrl, workflowUiUrl } from '../../common/ui';
import {
  CliError,
  UsageError,
  describeIssues,
  ingressIntegratorId,
  type CommandContext,
  type ContextProvider,
} from './context';
import { ProgressBar, formatAge, formatTime, json, renderFields, renderTable, type CliIo } from './format';

export const PAYMENT_WORKFLOW_TYPE = 'paymentWorkflow';
/** The one reversal of a transaction (workflows/reversal.ts, ID `reversal-<transaction_id>`). */
export const REVERSAL_WORKFLOW_TYPE = 'reversalWorkflow';

const STATUSES = Object.values(PaymentStatus) as [PaymentStatus, ...PaymentStatus[]];

// ---------------------------------------------------------------------------
// Argument schemas (zod): every value that reaches a visibility query or a URL is checked
// against a strict character set first, so a quote in an argument cannot alter a query.
// ---------------------------------------------------------------------------
const ID_RULE = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const idArg = (what: string, max = 100) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(max, `${what} must be at most ${max} characters`)
    .regex(ID_RULE, `${what} may contain only letters, digits, '.', '_', ':' and '-'`);

const transactionIdArg = idArg('transaction ID');

const statusList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((v) => v.trim().toUpperCase())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(STATUSES, { message: `must be one of ${STATUSES.join(', ')}` })).min(1));

const RELATIVE = /^(\d{1,6})([mhd])$/;
/** `30m`, `24h`, `7d`, or an ISO date / date-time. */
export const sinceSchema = z.string().transform((value, ctx) => {
  const rel = RELATIVE.exec(value.trim());
  if (rel) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 'm' | 'h' | 'd'];
    return new Date(Date.now() - Number(rel[1]) * unit);
  }
  const isoDate = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00` : value;
  const parsed = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(isoDate)
    ? new Date(isoDate)
    : new Date(NaN);
  if (Number.isNaN(parsed.getTime())) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be a duration like 30m, 24h, 7d or a date like 2022-10-01',
    });
    return z.NEVER;
  }
  return parsed;
});

const limitSchema = z.coerce
  .number({ message: 'must be a number' })
  .int('must be a whole number')
  .min(1, 'must be at least 1')
  .max(10_000, 'must be at most 10000');

const ListOptionsSchema = z.object({
  status: statusList.optional(),
  invoice: idArg('invoice number', 64).optional(),
  customer: idArg('customer', 64).optional(),
  since: sinceSchema.optional(),
  limit: limitSchema.default(50),
  json: z.boolean().default(false),
  anyTaskQueue: z.boolean().default(false),
});
export type ListOptions = z.infer<typeof ListOptionsSchema>;

const waitSchema = z.coerce
  .number({ message: 'must be a number of seconds' })
  .min(0, 'must be 0 or more')
  .max(600, 'must be at most 600');

const bySchema = z.string().min(1).max(100).optional();

function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new UsageError(describeIssues(result.error));
  return result.data;
}

function parseId(value: unknown): string {
  const result = transactionIdArg.safeParse(value);
  if (!result.success) throw new UsageError(`<transaction_id>: ${result.error.issues[0].message}`);
  return result.data;
}

function operator(by: string | undefined): string {
  if (by) return by;
  try {
    return `cli:${os.userInfo().username}`;
  } catch {
    return 'cli';
  }
}

// ---------------------------------------------------------------------------
// Reading runs
// ---------------------------------------------------------------------------
export interface PaymentRow {
  transaction_id: string;
  status: string;
  run_status: string;
  amount?: string;
  payment_method?: string;
  invoice_number?: string;
  customer?: string;
  started_at: string;
  closed_at?: string;
  /** Status of the transaction's reversal (VOIDED, ACH_REJECTED, …) when it has one. */
  reversal?: string;
  workflow_id: string;
  ui_url?: string;
}

/** The visibility query behind `payments list` (also what the UI's search box accepts). */
export function buildListQuery(opts: ListOptions, taskQueue?: string): string {
  const clauses = [`WorkflowType = '${PAYMENT_WORKFLOW_TYPE}'`];
  if (taskQueue) clauses.push(`TaskQueue = '${taskQueue}'`);
  if (opts.status?.length === 1) clauses.push(`PaymentStatus = '${opts.status[0]}'`);
  else if (opts.status?.length)
    clauses.push(`PaymentStatus IN (${opts.status.map((s) => `'${s}'`).join(', ')})`);
  if (opts.invoice) clauses.push(`InvoiceNumber = '${opts.invoice}'`);
  if (opts.customer) clauses.push(`CustomerId = '${opts.customer}'`);
  if (opts.since) clauses.push(`StartTime >= '${opts.since.toISOString()}'`);
  return clauses.join(' AND ');
}

export async function listPayments(
  ctx: CommandContext,
  opts: ListOptions,
  onPage?: (count: number) => void,
): Promise<PaymentRow[]> {
  const query = buildListQuery(opts, opts.anyTaskQueue ? undefined : ctx.taskQueue);
  const rows: PaymentRow[] = [];
  for await (const wf of ctx.client.workflow.list({ query, pageSize: Math.min(opts.limit, 1000) })) {
    const memo = (wf.memo ?? {}) as { amount?: unknown; payment_method?: unknown };
    const sa = wf.typedSearchAttributes;
    rows.push({
      transaction_id: sa.get(SA.TransactionId) ?? wf.workflowId.replace(/^payment-/, ''),
      status: sa.get(SA.PaymentStatus) ?? '',
      run_status: wf.status.name,
      amount: typeof memo.amount === 'string' ? memo.amount : undefined,
      payment_method: typeof memo.payment_method === 'string' ? memo.payment_method : undefined,
      invoice_number: sa.get(SA.InvoiceNumber),
      customer: sa.get(SA.CustomerId),
      started_at: wf.startTime.toISOString(),
      closed_at: wf.closeTime?.toISOString(),
      workflow_id: wf.workflowId,
      ui_url: workflowUiUrl(ctx.temporalUiUrl, ctx.namespace, wf.workflowId),
    });
    onPage?.(rows.length);
    if (rows.length >= opts.limit) break;
  }
  await addReversals(ctx, rows);
  return rows;
}

/**
 * A posted payment's run is closed; a later void or ACH reject lives in its own
 * `reversal-<id>` run. One extra visibility query per 100 rows brings that status in.
 */
async function addReversals(ctx: CommandContext, rows: PaymentRow[]): Promise<void> {
  const safe = rows.filter((r) => ID_RULE.test(r.transaction_id));
  const byId = new Map(safe.map((r) => [r.transaction_id, r]));
  for (let i = 0; i < safe.length; i += 100) {
    const ids = safe.slice(i, i + 100).map((r) => `'${r.transaction_id}'`);
    const query = `WorkflowType = '${REVERSAL_WORKFLOW_TYPE}' AND TransactionId IN (${ids.join(', ')})`;
    for await (const wf of ctx.client.workflow.list({ query })) {
      const row = byId.get(wf.typedSearchAttributes.get(SA.TransactionId) ?? '');
      if (row) row.reversal = wf.typedSearchAttributes.get(SA.PaymentStatus) ?? wf.status.name;
    }
  }
}

/** The `state` query needs a worker; a closed run's result holds the same state without one. */
async function readState(
  client: Client,
  workflowId: string,
  runStatus: string,
): Promise<{ state?: PaymentState; note?: string }> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    return { state: await client.withDeadline(Date.now() + 5000, () => handle.query(paymentStateQuery)) };
  } catch (err) {
    if (runStatus === 'COMPLETED') {
      try {
        return { state: (await handle.result()) as PaymentState };
      } catch {
        // fall through to the note
      }
    }
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return { note: `state not available (${reason}); is a worker polling the task queue?` };
  }
}

async function describeOrUndefined(
  client: Client,
  workflowId: string,
): Promise<WorkflowExecutionDescription | undefined> {
  try {
    return await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

export interface RelatedRun {
  workflow_id: string;
  type: string;
  run_status: string;
  status?: string;
  summary?: string;
  ui_url?: string;
}

export interface PaymentDetails {
  transaction_id: string;
  workflow_id: string;
  status: string;
  run_status: string;
  summary?: string;
  invoice_number?: string;
  customer?: string;
  amount?: string;
  payment_method?: string;
  started_at: string;
  closed_at?: string;
  attempts?: number;
  last_error?: PaymentState['lastError'];
  imt_payment_id?: string | number;
  closing_reason?: string;
  /** Whether IMT holds the payment: NO, MAYBE (an attempt got no definite answer) or YES. */
  imt_holds?: PaymentState['imtHolds'];
  /** How a void / ACH reject that stopped this payment was resolved. */
  settlement?: PaymentState['settlement'];
  mismatch?: PaymentState['mismatch'];
  events?: PaymentState['events'];
  state_note?: string;
  /** Status of the transaction's reversal run (VOIDED, ACH_REJECTED, LATE_RETURN, …), if any. */
  reversal_status?: string;
  related_runs: RelatedRun[];
  ui_url?: string;
  ui_search_url?: string;
}

/** Everything `payments show` prints. Undefined when Temporal knows no run of this transaction. */
export async function paymentDetails(
  ctx: CommandContext,
  transactionId: string,
): Promise<PaymentDetails | undefined> {
  const workflowId = workflowIds.payment(transactionId);
  // Reversal runs (void-…, ach-reject-…, …) are keyed by the same transaction ID.
  const relatedIds = [workflowIds.void, workflowIds.achReject, workflowIds.reversal].map((id) =>
    id(transactionId),
  );
  const [desc, ...relatedDescs] = await Promise.all(
    [workflowId, ...relatedIds].map((id) => describeOrUndefined(ctx.client, id)),
  );
  const related: RelatedRun[] = [];
  for (const [i, d] of relatedDescs.entries()) {
    if (!d) continue;
    related.push({
      workflow_id: relatedIds[i],
      type: d.type,
      run_status: d.status.name,
      status: d.typedSearchAttributes.get(SA.PaymentStatus),
      summary: await d.staticSummary().catch(() => undefined),
      ui_url: workflowUiUrl(ctx.temporalUiUrl, ctx.namespace, relatedIds[i]),
    });
  }
  if (!desc && related.length === 0) return undefined;

  const ui_search_url = workflowListUiUrl(
    ctx.temporalUiUrl,
    ctx.namespace,
    `TransactionId="${transactionId}"`,
  );
  if (!desc) {
    return {
      transaction_id: transactionId,
      workflow_id: workflowId,
      status: 'NOT_RECEIVED',
      run_status: 'NONE',
      started_at: '',
      state_note: 'no payment run: IC sent a void or ACH reject for a payment this service has not received',
      related_runs: related,
      ui_search_url,
    };
  }
  const { state, note } = await readState(ctx.client, workflowId, desc.status.name);
  const memo = (desc.memo ?? {}) as { amount?: unknown; payment_method?: unknown };
  return {
    transaction_id: transactionId,
    workflow_id: workflowId,
    status: state?.status ?? desc.typedSearchAttributes.get(SA.PaymentStatus) ?? 'UNKNOWN',
    run_status: desc.status.name,
    summary: await desc.staticSummary().catch(() => undefined),
    invoice_number: desc.typedSearchAttributes.get(SA.InvoiceNumber),
    customer: desc.typedSearchAttributes.get(SA.CustomerId),
    amount: state?.payment?.amount ?? (typeof memo.amount === 'string' ? memo.amount : undefined),
    payment_method:
      state?.payment?.payment_method ??
      (typeof memo.payment_method === 'string' ? memo.payment_method : undefined),
    started_at: desc.startTime.toISOString(),
    closed_at: desc.closeTime?.toISOString(),
    attempts: state?.attempts,
    last_error: state?.lastError,
    imt_payment_id: state?.posted?.id,
    closing_reason: state?.closingReason,
    imt_holds: state?.imtHolds,
    settlement: state?.settlement,
    mismatch: state?.mismatch,
    events: state?.events,
    state_note: note,
    reversal_status: related.find((r) => r.type === REVERSAL_WORKFLOW_TYPE)?.status,
    related_runs: related,
    ui_url: workflowUiUrl(ctx.temporalUiUrl, ctx.namespace, workflowId),
    ui_search_url,
  };
}

function describeError(e: NonNullable<PaymentState['lastError']>): string {
  // IMT's reasons are usually in the message already; print them separately only when not.
  const json = e.reasons === undefined ? '' : JSON.stringify(e.reasons);
  const reasons = json && !e.message.includes(json) ? `\nreasons: ${json}` : '';
  return `${e.type}${e.status ? ` (HTTP ${e.status})` : ''} at ${formatTime(e.at)}\n${e.message}${reasons}`;
}

const IMT_HOLDS_TEXT: Record<NonNullable<PaymentState['imtHolds']>, string> = {
  NO: 'no — every attempt was answered, and nothing was applied',
  MAYBE: 'MAYBE — an attempt got no definite answer; IMT may have applied it',
  YES: 'yes — IMT confirmed the posting',
};

const SETTLEMENT_TEXT: Record<NonNullable<PaymentState['settlement']>, string> = {
  'never-sent': 'stopped by a void / ACH reject before anything was sent to IMT',
  'imt-refused': 'stopped by a void / ACH reject; IMT definitely refused the posting, so nothing was applied',
  'posted-to-settle':
    'IMT may have had it, so the posting was finished and then reversed by the void / ACH reject',
};

function nextSteps(d: PaymentDetails): string | undefined {
  switch (d.status) {
    case PaymentStatus.NEEDS_ATTENTION:
      if (d.mismatch)
        return (
          `A void / ACH reject that arrived first does not match this payment. Check with IC, then:\n` +
          `  imt-ic payments retry ${d.transaction_id}     (post it; the event stays parked)\n` +
          `  imt-ic payments dismiss ${d.transaction_id} --reason "<why>"     (never post it)`
        );
      return (
        `IMT refused this payment. Fix the cause in IMT, then:\n` +
        `  imt-ic payments retry ${d.transaction_id}\n` +
        `or, if it must not be posted:\n` +
        `  imt-ic payments dismiss ${d.transaction_id} --reason "<why>"`
      );
    case PaymentStatus.RETRYING:
      return 'IMT is failing transiently; the service retries with backoff (at most 5 minutes apart) until IMT answers.';
    case PaymentStatus.MAYBE_POSTED:
      return 'An attempt got no definite answer, so IMT may already hold this payment. The service retries with the same transaction_id (IMT deduplicates it) until IMT answers for sure. Do not post it by hand.';
    case PaymentStatus.SETTLING:
      return 'A void / ACH reject arrived while IMT may hold this payment: the service finishes the posting (idempotently) and then reverses it. Nothing to do unless it parks.';
    case PaymentStatus.AUTH_REJECTED:
      return 'IMT rejects the configured X-Integrator-ID. Fix IMT_INTEGRATOR_ID; the service retries every minute.';
    default:
      return undefined;
  }
}

export function renderDetails(d: PaymentDetails): string {
  const head =
    `Payment ${d.transaction_id} — ${d.status}` +
    `${d.reversal_status ? `, then ${d.reversal_status}` : ''}` +
    `${d.run_status === 'RUNNING' || d.run_status === 'NONE' ? '' : ` (payment run ${d.run_status.toLowerCase()})`}\n`;
  const run =
    d.run_status === 'NONE'
      ? undefined
      : `${d.workflow_id}, ${d.run_status.toLowerCase()}, started ${formatTime(d.started_at)}${d.closed_at ? `, closed ${formatTime(d.closed_at)}` : ''}`;
  let out =
    head +
    renderFields([
      ['Summary', d.summary],
      ['Amount', d.amount ? `${d.amount}${d.payment_method ? ` (${d.payment_method})` : ''}` : undefined],
      ['Invoice', d.invoice_number],
      ['Customer', d.customer],
      ['Run', run],
      ['Attempts', d.attempts === undefined ? undefined : String(d.attempts)],
      ['Last error', d.last_error ? describeError(d.last_error) : undefined],
      ['IMT payment', d.imt_payment_id === undefined ? undefined : String(d.imt_payment_id)],
      ['IMT holds it', d.imt_holds ? IMT_HOLDS_TEXT[d.imt_holds] : undefined],
      ['Settlement', d.settlement ? SETTLEMENT_TEXT[d.settlement] : undefined],
      [
        'Mismatch',
        d.mismatch ? `${d.mismatch.requestedBy}: ${d.mismatch.differences.join('; ')}` : undefined,
      ],
      ['Closing reason', d.closing_reason],
      ['Note', d.state_note],
      ['Temporal UI', d.ui_url],
      ['All runs', d.ui_search_url],
    ]);
  if (d.related_runs.length) {
    out += '\nRelated runs\n';
    out += renderFields(
      d.related_runs.map((r): [string, string] => [
        r.workflow_id,
        `${r.run_status.toLowerCase()}${r.status ? ` · ${r.status}` : ''}${r.summary ? ` · ${r.summary}` : ''}${r.ui_url ? `\n${r.ui_url}` : ''}`,
      ]),
    );
  }
  if (d.events?.length) {
    out += '\nEvents (latest last)\n';
    out += d.events
      .slice(-12)
      .map((e) => `  ${formatTime(e.at)}  ${e.event}${e.detail ? ` — ${e.detail}` : ''}`)
      .join('\n');
    out += '\n';
  }
  const next = nextSteps(d);
  if (next) out += `\nNext step\n${next.replace(/^/gm, '  ')}\n`;
  return out;
}

// ---------------------------------------------------------------------------
// Steering
// ---------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------
// Manual voids and ACH rejects, through the ingress
// ---------------------------------------------------------------------------
interface ManualEntryOptions {
  customer?: string;
  invoice?: string;
  amount?: string;
  message?: string;
  ingressUrl?: string;
  json?: boolean;
}

const ingressUrlSchema = z
  .string()
  .regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, 'must be an http(s) URL, e.g. http://127.0.0.1:3000')
  .transform((u) => u.replace(/\/+$/, ''));

/** Fills customer / invoice / amount the operator left out from the payment run itself. */
async function paymentFacts(ctx: CommandContext, transactionId: string) {
  const desc = await describeOrUndefined(ctx.client, workflowIds.payment(transactionId));
  if (!desc) return undefined;
  const memo = (desc.memo ?? {}) as { amount?: unknown; payment_method?: unknown };
  let amount = typeof memo.amount === 'string' ? memo.amount : undefined;
  if (amount === undefined)
    amount = (await readState(ctx.client, desc.workflowId, desc.status.name)).state?.payment?.amount;
  return {
    customer: desc.typedSearchAttributes.get(SA.CustomerId),
    invoice: desc.typedSearchAttributes.get(SA.InvoiceNumber),
    amount,
  };
}

async function postToIngress(
  io: CliIo,
  provider: ContextProvider,
  kind: 'void' | 'ach-reject',
  body: Record<string, string>,
  opts: ManualEntryOptions,
): Promise<void> {
  const settings = provider.settings();
  const base = opts.ingressUrl
    ? parse(ingressUrlSchema, opts.ingressUrl)
    : `http://127.0.0.1:${settings.ingressPort}`;
  const integratorId = ingressIntegratorId(io.env, settings.dataDir);
  const path =
    kind === 'void' ? '/api/integration/invoice/void-payment' : '/api/integration/invoice/ach-reject';
  const label = kind === 'void' ? 'void' : 'ACH reject';
  let res;
  try {
    res = await axios.post(`${base}${path}`, body, {
      headers: { 'X-Integrator-ID': integratorId, 'Content-Type': 'application/json' },
      validateStatus: () => true,
      timeout: 30_000,
    });
  } catch (err) {
    const code = (err as { code?: string }).code ?? (err instanceof Error ? err.message : 'error');
    throw new CliError(
      `cannot reach the ingress at ${base} (${code}); is the service running? Pass --ingress-url to use another.`,
    );
  }
  const data = (res.data ?? {}) as { message?: unknown; status?: unknown; error?: unknown };
  const message = typeof data.message === 'string' ? data.message : JSON.stringify(res.data).slice(0, 300);
  switch (true) {
    case res.status === 201 || res.status === 202: {
      if (opts.json) return io.out(json({ http_status: res.status, ...(res.data as object) }));
      const verb = res.status === 201 ? 'completed' : 'accepted (in progress)';
      const Label = label[0].toUpperCase() + label.slice(1);
      io.out(`${Label} of payment ${body.transaction_id} ${verb}: ${String(data.status ?? '')}\n`);
      io.out(`Follow it with: imt-ic payments show ${body.transaction_id}\n`);
      return;
    }
    case res.status === 403:
      throw new CliError(
        'the ingress refused the X-Integrator-ID; set INGRESS_INTEGRATOR_ID to the value the running service uses',
      );
    case res.status === 404 && data.error !== 'not_found':
      throw new CliError(
        `the ingress at ${base} has no ${path} endpoint (voids / ACH rejects not deployed there)`,
      );
    case res.status >= 500:
      throw new CliError(`the ingress answered ${res.status}: ${message}; try again shortly`);
    default:
      throw new CliError(`the ingress refused the ${label} (${res.status}): ${message}`);
  }
}

async function manualEntryBody(
  provider: ContextProvider,
  transactionId: string,
  opts: ManualEntryOptions,
): Promise<{
  customer: string;
  invoice_number: string;
  transaction_id: string;
  amount: string;
  message: string;
}> {
  let { customer, invoice, amount } = opts;
  if (customer === undefined || invoice === undefined || amount === undefined) {
    const facts = await paymentFacts(await provider.get(), transactionId);
    customer ??= facts?.customer;
    invoice ??= facts?.invoice;
    amount ??= facts?.amount;
    const missing = [
      customer === undefined && '--customer',
      invoice === undefined && '--invoice',
      amount === undefined && '--amount',
    ].filter(Boolean);
    if (missing.length) {
      throw new UsageError(
        `${missing.join(', ')} required: ${facts ? `payment ${transactionId}'s run does not say` : `no payment ${transactionId} is known to take ${missing.length > 1 ? 'them' : 'it'} from`}`,
      );
    }
  }
  return {
    customer: customer as string,
    invoice_number: invoice as string,
    transaction_id: transactionId,
    amount: amount as string,
    message: opts.message ?? '',
  };
}

function validateBody<S extends z.ZodType>(schema: S, body: unknown): void {
  const result = schema.safeParse(body);
  if (result.success) return;
  const option: Record<string, string> = {
    invoice_number: '--invoice',
    return_code: '--return-code',
    returned_at: '--returned-at',
    transaction_id: '<transaction_id>',
  };
  throw new UsageError(
    Object.entries(fieldErrors(result.error))
      .map(([field, msgs]) => `${option[field] ?? `--${field}`}: ${msgs.join(', ')}`)
      .join('; '),
  );
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------
export function registerPaymentCommands(program: Command, io: CliIo, provider: ContextProvider): void {
  const payments = program
    .command('payments')
    .description('find, inspect and steer payment runs (one per IC transaction)')
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

  payments
    .command('list')
    .description(
      'list payment runs: open ones first, then the most recently closed (a Temporal visibility query)',
    )
    .option('--status <status>', 'only these statuses (comma-separated), e.g. NEEDS_ATTENTION')
    .option('--invoice <invoice_number>', 'only payments on this IMT invoice')
    .option('--customer <customer>', 'only payments of this IMT customer / IC account number')
    .option('--since <when>', 'only payments received since: 30m, 24h, 7d or a date (2022-10-01)')
    .option('--limit <n>', 'at most this many rows', '50')
    .option('--any-task-queue', "include runs of other task queues than this deployment's")
    .option('--json', 'print JSON instead of a table')
    .action(async (raw: Record<string, unknown>) => {
      const opts = parse(ListOptionsSchema, raw);
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
    });

  payments
    .command('show')
    .description(
      'state, attempts, last error, related void / ACH reject runs and Temporal UI links of one payment',
    )
    .argument('<transaction_id>', "IC's payment GUID")
    .option('--json', 'print JSON')
    .action(async (id: string, raw: { json?: boolean }) => {
      const transactionId = parseId(id);
      const details = await paymentDetails(await provider.get(), transactionId);
      if (!details)
        throw new CliError(`no payment ${transactionId} (no run with this transaction ID in Temporal)`);
      io.out(raw.json ? json(details) : renderDetails(details));
    });

  payments
    .command('retry')
    .description('post a NEEDS_ATTENTION payment again, after its cause was fixed (signal "retry")')
    .argument('[transaction_id]', "IC's payment GUID")
    .option('--all', 'retry every NEEDS_ATTENTION payment (narrow with --invoice / --customer)')
    .option('--invoice <invoice_number>', 'with --all: only payments on this invoice')
    .option('--customer <customer>', 'with --all: only payments of this customer')
    .option('--by <name>', 'who asked (recorded in the run); default cli:<your user name>')
    .option('--wait <seconds>', 'wait this long for the new attempt’s outcome (0 = do not wait)', '20')
    .action(async (id: string | undefined, raw: Record<string, unknown>) => {
      const opts = parse(
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
    });

  payments
    .command('dismiss')
    .description('close a NEEDS_ATTENTION payment without posting it (signal "dismiss")')
    .argument('<transaction_id>', "IC's payment GUID")
    .requiredOption('--reason <text>', 'why it must not be posted (recorded in the run and shown in the UI)')
    .option('--by <name>', 'who decided; default cli:<your user name>')
    .option('--wait <seconds>', 'wait this long for the run to close (0 = do not wait)', '20')
    .action(async (id: string, raw: Record<string, unknown>) => {
      const transactionId = parseId(id);
      const opts = parse(
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
        throw new CliError(`the payment ended ${result.status}, not DISMISSED (it changed state meanwhile)`);
      }
      io.out(`Payment ${transactionId} is DISMISSED: ${result.closingReason ?? opts.reason}\n`);
    });

  const manual = (cmd: Command) =>
    cmd
      .argument('<transaction_id>', "IC's GUID of the payment")
      .option('--amount <amount>', 'amount, e.g. 50.00 (default: the payment’s amount)')
      .option('--customer <customer>', "IMT customer (default: the payment's)")
      .option('--invoice <invoice_number>', "IMT invoice number (default: the payment's)")
      .option('--message <text>', 'free text passed to IMT', '')
      .option('--ingress-url <url>', 'the ingress (default http://127.0.0.1:$INGRESS_PORT)')
      .option('--json', 'print the ingress answer as JSON');

  manual(
    payments
      .command('void')
      .description(
        'enter a void by hand (as IC would send it): reverses the payment in IMT, or stops its posting',
      ),
  ).action(async (id: string, raw: ManualEntryOptions) => {
    const transactionId = parseId(id);
    if (raw.amount !== undefined) parse(z.object({ amount: amountSchema }), { amount: raw.amount });
    const body = await manualEntryBody(provider, transactionId, raw);
    validateBody(VoidPaymentSchema, body);
    await postToIngress(io, provider, 'void', body, raw);
  });

  manual(
    payments
      .command('ach-reject')
      .description(
        'enter an ACH reject (bank return of an eCheck payment) by hand: reverses the payment in IMT',
      ),
  )
    .requiredOption('--return-code <code>', 'NACHA return code, R01 … R85')
    .addOption(
      new Option('--returned-at <date>', 'date of the return (ISO date)').default(
        new Date().toISOString().slice(0, 10),
        'today',
      ),
    )
    .action(async (id: string, raw: ManualEntryOptions & { returnCode: string; returnedAt: string }) => {
      const transactionId = parseId(id);
      parse(
        z.object({
          returnCode: z.string().toUpperCase().regex(RETURN_CODE, 'must be a NACHA return code R01 … R85'),
        }),
        {
          returnCode: raw.returnCode,
        },
      );
      if (raw.amount !== undefined) parse(z.object({ amount: amountSchema }), { amount: raw.amount });
      const base = await manualEntryBody(provider, transactionId, raw);
      const body = { ...base, return_code: raw.returnCode.toUpperCase(), returned_at: raw.returnedAt };
      validateBody(AchRejectSchema, body);
      await postToIngress(io, provider, 'ach-reject', body, raw);
    });
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
