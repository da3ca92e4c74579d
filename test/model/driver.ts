/**
 * Carries a generated case (model.ts) out against the real thing: IC's deliveries through the
 * ingress, IMT's faults in its simulator, operators through Temporal's API, the worker
 * stopped and started. Then IC's redeliveries with the faults gone, a wait until every
 * transaction is quiet, and what the oracle needs: IMT's ledger and each run's final state.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import {
  SA,
  dismissUpdate,
  retryUpdate,
  transactionStateQuery,
  workflowIds,
  type PaymentRequest,
} from '../../domain';
import { eventually, type Harness } from '../helpers/harness';
import { seedPayment, voidOf } from '../helpers/payments';
import type { AlertReceiver } from '../helpers/webhook';
import {
  AMOUNT,
  OTHER_AMOUNT,
  is2xx,
  type Copy,
  type EventKind,
  type FinalRun,
  type LedgerLine,
  type ModelCase,
  type Sent,
  type Step,
  type Variant,
} from './model';

const PATHS: Record<EventKind, string> = {
  payment: '/api/integration/invoice/post-payment',
  void: '/api/integration/invoice/void-payment',
  ach_reject: '/api/integration/invoice/ach-reject',
};
const IMT_ROUTES = {
  post: ['/api/integration/invoice/post-payment'],
  reverse: ['/api/integration/invoice/reverse-payment'],
  any: [],
};
/** Statuses a running run can rest in until something new comes. */
const RESTING = new Set(['POSTED', 'REVERSED', 'NOT_POSTED', 'NEEDS_ATTENTION', 'DISMISSED']);
/** How often IC redelivers an event answered 503/429 before the test calls it "never taken". */
const MAX_REDELIVERIES = 20;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface CaseResult {
  txids: string[];
  sent: Sent[][];
  ledger: LedgerLine[][];
  runs: FinalRun[];
  /** Problems the driver saw itself (an event never taken, a run never quiet). */
  problems: string[];
  /** What operators did (and whether the call went through), for the report. */
  operatorLog: string[];
  /** Per transaction: when an operator's retry went through (the oracle's set-aside rule). */
  retriedAt: number[][];
}

export class CaseDriver {
  private readonly payments: PaymentRequest[];
  private readonly sent: Sent[][];
  private readonly inflight: Promise<unknown>[] = [];
  private workerBack: Promise<void> = Promise.resolve();
  /** Lasting faults (429, hang, refused posts) end when this reaches 0. */
  private lastingFor = 0;
  private readonly refusedInvoices = new Set<string>();
  /** After terminate / cancel / reset: which event IC redelivers. */
  private readonly redeliverAfterKill = new Map<number, number>();
  private readonly operatorLog: string[] = [];
  private readonly retriedAt: number[][];
  private readonly problems: string[] = [];

  constructor(
    private readonly h: Harness,
    private readonly hooks: AlertReceiver,
    private readonly c: ModelCase,
  ) {
    this.payments = c.methods.map((method) => seedPayment(h.imt, { method, amount: AMOUNT }));
    this.sent = c.methods.map(() => []);
    this.retriedAt = c.methods.map(() => []);
  }

  get txids(): string[] {
    return this.payments.map((p) => p.transaction_id);
  }

  async run(): Promise<CaseResult> {
    try {
      for (const step of this.c.steps) {
        await this.perform(step);
        if (step.do !== 'fault' && this.lastingFor > 0 && --this.lastingFor === 0) this.endLastingFaults();
      }
      await Promise.allSettled(this.inflight);
      await this.workerBack;
      this.h.imt.faults.clear();
      this.endLastingFaults();
      await this.redeliver();
      await this.waitUntilQuiet();
      return {
        txids: this.txids,
        sent: this.sent,
        ledger: this.txids.map((txid) =>
          this.h.imt
            .ledger()
            .filter((e) => e.transaction_id === txid)
            .map((e) => ({ kind: e.kind, amount: e.amount, at: e.at })),
        ),
        runs: await Promise.all(this.txids.map((txid) => this.finalRun(txid))),
        problems: this.problems,
        operatorLog: this.operatorLog,
        retriedAt: this.retriedAt,
      };
    } finally {
      await Promise.allSettled(this.inflight);
      await this.workerBack.catch(() => undefined);
      if (!this.h.worker()) await this.h.startWorker();
      this.h.imt.faults.clear();
      this.endLastingFaults();
    }
  }

  /** Closes every run of the case, so that the next cases have the worker to themselves. */
  async cleanUp(): Promise<void> {
    for (const txid of this.txids)
      await this.handle(txid)
        .terminate('model case done')
        .catch(() => undefined);
  }

  private handle(txid: string) {
    return this.h.client.workflow.getHandle(workflowIds.payment(txid));
  }

  private async perform(step: Step): Promise<void> {
    switch (step.do) {
      case 'deliver': {
        const all = Promise.all(step.copies.map((copy) => this.send(step.tx, step.kind, copy, false)));
        if (step.background) this.inflight.push(all);
        else await all;
        return;
      }
      case 'fault':
        return this.fault(step);
      case 'operator':
        return this.operate(step);
      case 'worker-kill': {
        await this.workerBack;
        await this.h.stopWorker();
        this.workerBack = sleep(step.downMs).then(async () => {
          await this.h.startWorker();
        });
        return;
      }
      case 'pause':
        return sleep(step.ms);
    }
  }

  private body(tx: number, kind: EventKind, variant: Variant) {
    const p = this.payments[tx];
    const amount = variant === 'same' ? AMOUNT : OTHER_AMOUNT;
    if (kind === 'payment') return { ...p, amount };
    if (kind === 'void') return voidOf(p, { amount });
    return {
      ...voidOf(p, { amount }),
      return_code: 'R01',
      returned_at: new Date().toISOString().slice(0, 10),
    };
  }

  private async send(tx: number, kind: EventKind, copy: Copy, final: boolean): Promise<Sent> {
    const s: Sent = { tx, kind, variant: copy.variant, final, sentAt: Date.now() };
    this.sent[tx].push(s);
    try {
      const res = await this.h.http.post(PATHS[kind], this.body(tx, kind, copy.variant), {
        timeout: copy.abortMs ?? 60_000,
      });
      s.status = res.status;
      s.answerStatus = (res.data as { status?: string } | undefined)?.status;
      s.answeredAt = Date.now();
    } catch {
      // IC hung up or the connection broke: no answer, so IC delivers it again later.
    }
    return s;
  }

  private fault(step: Extract<Step, { do: 'fault' }>): void {
    const routes = IMT_ROUTES[step.route];
    const faults = this.h.imt.faults;
    switch (step.fault) {
      case '5xx':
        faults.set({ failNext: step.count, errorStatus: 500 + (step.count % 3), routes });
        return;
      case 'apply-then-hang':
        faults.set({ applyThenHangNext: step.count, routes });
        return;
      case 'apply-then-5xx':
        faults.set({ applyThenErrorNext: step.count, errorStatus: 502, routes });
        return;
      case '429':
        faults.set({ rateLimitRetryAfterSeconds: 1, routes });
        break;
      case 'hang':
        faults.set({ hang: true, routes });
        break;
      case 'refuse-posts': {
        const invoice = this.payments[step.tx].invoice_number;
        this.h.imt.rejectPostsFor(invoice, { amount: ['exceeds the balance due'] });
        this.refusedInvoices.add(invoice);
        break;
      }
    }
    this.lastingFor = Math.max(this.lastingFor, step.steps);
  }

  private endLastingFaults(): void {
    this.h.imt.faults.set({ rateLimitRetryAfterSeconds: null, hang: false });
    if (this.refusedInvoices.size) this.h.imt.clearRejections();
    this.refusedInvoices.clear();
    this.lastingFor = 0;
  }

  private async operate(step: Extract<Step, { do: 'operator' }>): Promise<void> {
    const txid = this.payments[step.tx].transaction_id;
    const handle = this.handle(txid);
    const log = (outcome: string) => this.operatorLog.push(`${step.action} tx${step.tx}: ${outcome}`);
    // An update waits for a worker; an operator gives up after a while (the run's wait is bounded).
    const inTime = <T>(ms: number, call: () => Promise<T>) =>
      this.h.client.withAbortSignal(AbortSignal.timeout(ms), call);
    try {
      switch (step.action) {
        case 'terminate':
          await handle.terminate('model: an operator terminates the run');
          break;
        case 'cancel':
          await handle.cancel();
          break;
        case 'reset':
          await this.reset(txid);
          break;
        case 'retry': {
          const a = await inTime(15_000, () =>
            handle.executeUpdate(retryUpdate, { args: [{ by: 'model' }] }),
          );
          this.retriedAt[step.tx].push(Date.now());
          log(`done → ${a.status}`);
          return;
        }
        case 'dismiss': {
          const a = await inTime(15_000, () =>
            handle.executeUpdate(dismissUpdate, {
              args: [{ reason: 'model: a person looked', by: 'model' }],
            }),
          );
          log(`done → ${a.status}`);
          return;
        }
      }
      log('done');
      this.redeliverAfterKill.set(step.tx, step.redeliver);
    } catch (err) {
      log(`refused or failed (${(err as Error).message.slice(0, 120)})`);
    }
  }

  /** Resets the current run to its first completed workflow task (as `temporal workflow reset --type FirstWorkflowTask`). */
  private async reset(txid: string): Promise<void> {
    const { runId } = await this.handle(txid).describe();
    const history = await this.h.client.workflow.getHandle(workflowIds.payment(txid), runId).fetchHistory();
    const first = history.events?.find((e) => e.workflowTaskCompletedEventAttributes);
    if (!first?.eventId) throw new Error('no completed workflow task to reset to');
    await this.h.client.workflowService.resetWorkflowExecution({
      namespace: this.h.namespace,
      workflowExecution: { workflowId: workflowIds.payment(txid), runId },
      reason: 'model: an operator resets the run',
      workflowTaskFinishEventId: first.eventId,
      requestId: randomUUID(),
    });
  }

  /**
   * IC redelivers what it never got a 2xx for (503, 409, 400, no answer), and after an
   * operator killed or reset a run, one of that transaction's events (the "then a
   * redelivery of any event"). Each until it is answered with something else than 503/429.
   */
  private async redeliver(): Promise<void> {
    for (const [tx, sent] of this.sent.entries()) {
      const contents: { kind: EventKind; variant: Variant }[] = [];
      for (const s of sent)
        if (!contents.some((c) => c.kind === s.kind && c.variant === s.variant))
          contents.push({ kind: s.kind, variant: s.variant });
      const todo = contents.filter(
        (c) => !sent.some((s) => s.kind === c.kind && s.variant === c.variant && is2xx(s)),
      );
      const pick = this.redeliverAfterKill.get(tx);
      if (pick !== undefined && contents.length > 0) {
        const c = contents[pick % contents.length];
        if (!todo.includes(c)) todo.push(c);
      }
      for (const c of todo) {
        let s: Sent | undefined;
        for (let i = 0; i < MAX_REDELIVERIES; i++) {
          s = await this.send(tx, c.kind, { variant: c.variant }, true);
          if (s.status !== undefined && s.status !== 503 && s.status !== 429) break;
          await sleep(1000);
        }
        if (s?.status === undefined || s.status === 503 || s.status === 429)
          this.problems.push(
            `tx${tx}: ${c.kind} (${c.variant}) redelivered ${MAX_REDELIVERIES} times, still answered ${s?.status ?? 'nothing'}`,
          );
      }
    }
  }

  private async describe(txid: string) {
    try {
      return await this.handle(txid).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  private async quiet(tx: number): Promise<boolean> {
    const d = await this.describe(this.txids[tx]);
    if (!d || d.status.name !== 'RUNNING') return true;
    const status = d.typedSearchAttributes.get(SA.PaymentStatus);
    if (status && RESTING.has(status)) return true;
    // An event whose payment IC never sent waits for it; nothing else can happen.
    return status === 'AWAITING_PAYMENT' && !this.sent[tx].some((s) => s.kind === 'payment');
  }

  private async waitUntilQuiet(): Promise<void> {
    try {
      await eventually(
        async () => (await Promise.all(this.txids.map((_, i) => this.quiet(i)))).every(Boolean),
        150_000,
        500,
      );
    } catch {
      for (const [i, txid] of this.txids.entries()) {
        if (await this.quiet(i).catch(() => false)) continue;
        const d = await this.describe(txid);
        this.problems.push(
          `tx${i}: not quiet after 150 s (${d?.status.name}/${d?.typedSearchAttributes.get(SA.PaymentStatus)})`,
        );
      }
    }
  }

  private async finalRun(txid: string): Promise<FinalRun> {
    const d = await this.describe(txid);
    if (!d) return { parked: false, alerted: false };
    const status = d.typedSearchAttributes.get(SA.PaymentStatus);
    let parked = false;
    if (d.status.name === 'RUNNING')
      parked = (await this.handle(txid).query(transactionStateQuery)).parked !== undefined;
    return { execution: d.status.name, status, parked, alerted: this.hooks.about(txid).length > 0 };
  }

  /** The alert goes out in its own run, a moment after the run parks: true once one names `txid`. */
  async alertNaming(txid: string): Promise<boolean> {
    return eventually(async () => this.hooks.about(txid).length > 0, 20_000, 200).catch(() => false);
  }
}
