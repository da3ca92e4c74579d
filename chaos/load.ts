/**
 * IC's side of the chaos run: an at-least-once Data Pump. It POSTs each payment to the
 * ingress (contracts B) at a steady rate; whatever got no 2xx is delivered again (honouring
 * 429 Retry-After), and 10% of the answered calls are delivered again anyway. Voids (5% of
 * payments) and ACH rejects (3% of the echeck ones) go out before their payment, right
 * after it (racing a posting that is still retrying) or a little later.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateCycle } from '../simulators/imt/dataset';

export type ReversalKind = 'void' | 'ach_reject';
export type ReversalTiming = 'before' | 'racing' | 'after';

export interface PaymentBody {
  customer: string;
  invoice_number: string;
  transaction_id: string;
  amount: string;
  payment_method: 'credit' | 'echeck' | 'other';
  message: string;
  source: 'invoice_cloud';
}

export interface Transaction {
  payment: PaymentBody;
  reversal?: { kind: ReversalKind; timing: ReversalTiming; body: Record<string, string> };
  /** Epoch ms of the first POST of the payment (the ingress-to-posted latency starts here). */
  firstSentAt?: number;
  paymentAccepted: boolean;
  reversalAccepted: boolean;
  /** Non-2xx answers other than 429/5xx (e.g. 400, 409), with the body, for the report. */
  refusals: string[];
}

/** A deterministic mix: transaction i is an echeck one when i % 5 < 2, voided when i % 20 === 7, … */
export function buildTransactions(o: {
  count: number;
  invoiceMonth: string;
  cycleSize: number;
  returnedAt: string;
}): Transaction[] {
  const cycle = generateCycle({
    seed: 42,
    invoiceMonth: o.invoiceMonth,
    count: o.cycleSize,
    invalidEvery: 10,
  });
  const valid = (i: number) => i % 10 !== 9;
  const txs: Transaction[] = [];
  const timings: ReversalTiming[] = ['before', 'racing', 'after'];
  let invoiceIndex = 0;
  let echecks = 0;
  for (let i = 0; i < o.count; i++) {
    while (!valid(invoiceIndex % o.cycleSize)) invoiceIndex++;
    const invoice = cycle.invoiceAt(invoiceIndex % o.cycleSize);
    invoiceIndex++;
    const method = i % 5 < 2 ? 'echeck' : i % 5 < 4 ? 'credit' : 'other';
    const payment: PaymentBody = {
      customer: invoice.customer,
      invoice_number: invoice.invoice_number,
      transaction_id: randomUUID(),
      amount: `${5 + ((i * 37) % 145)}.${String((i * 13) % 100).padStart(2, '0')}`,
      payment_method: method,
      message: '',
      source: 'invoice_cloud',
    };
    const tx: Transaction = { payment, paymentAccepted: false, reversalAccepted: false, refusals: [] };
    const base = {
      customer: payment.customer,
      invoice_number: payment.invoice_number,
      transaction_id: payment.transaction_id,
      amount: payment.amount,
      message: '',
    };
    if (i % 20 === 7) {
      tx.reversal = { kind: 'void', timing: timings[((i / 20) % 3) | 0], body: base };
    } else if (method === 'echeck' && echecks++ % 33 === 5) {
      const body = { ...base, return_code: 'R01', returned_at: o.returnedAt };
      tx.reversal = { kind: 'ach_reject', timing: timings[echecks % 3], body };
    }
    txs.push(tx);
  }
  return txs;
}

interface Delivery {
  tx: Transaction;
  kind: 'payment' | ReversalKind;
  due: number;
  attempt: number;
  redelivery: boolean;
}

const PATHS = {
  payment: '/api/integration/invoice/post-payment',
  void: '/api/integration/invoice/void-payment',
  ach_reject: '/api/integration/invoice/ach-reject',
} as const;

export interface PumpStats {
  deliveries: number;
  byStatus: Record<string, number>;
  redeliveriesOfAnswered: number;
  gaveUp: number;
}

export class DataPump {
  readonly stats: PumpStats = { deliveries: 0, byStatus: {}, redeliveriesOfAnswered: 0, gaveUp: 0 };
  private queue: Delivery[] = [];
  private inFlight = 0;
  private stopped = false;

  constructor(
    private readonly ingressUrl: string,
    private readonly integratorId: string,
    private readonly txs: Transaction[],
    private readonly rate: number,
    private readonly maxInFlight = 300,
  ) {}

  /** Schedules every first delivery at the steady rate; resolves when nothing is left to deliver. */
  async run(): Promise<void> {
    const start = Date.now() + 500;
    this.txs.forEach((tx, i) => {
      const due = start + (i * 1000) / this.rate;
      this.queue.push({ tx, kind: 'payment', due, attempt: 0, redelivery: false });
      if (!tx.reversal) return;
      const offset = { before: -2000, racing: 300, after: 15_000 + (i % 15) * 1000 }[tx.reversal.timing];
      this.queue.push({ tx, kind: tx.reversal.kind, due: due + offset, attempt: 0, redelivery: false });
    });
    while (!this.stopped && (this.queue.length > 0 || this.inFlight > 0)) {
      const now = Date.now();
      const ready: Delivery[] = [];
      const later: Delivery[] = [];
      for (const d of this.queue) {
        if (d.due <= now && this.inFlight + ready.length < this.maxInFlight) ready.push(d);
        else later.push(d);
      }
      this.queue = later;
      for (const d of ready) void this.deliver(d);
      await sleep(50);
    }
  }

  stop(): void {
    this.stopped = true;
  }

  /** Transactions still waiting for a 2xx (payment or reversal). */
  pending(): number {
    return this.queue.filter((d) => !d.redelivery).length + this.inFlight;
  }

  private async deliver(d: Delivery): Promise<void> {
    this.inFlight++;
    this.stats.deliveries++;
    if (d.kind === 'payment' && d.tx.firstSentAt === undefined) d.tx.firstSentAt = Date.now();
    const body = d.kind === 'payment' ? d.tx.payment : d.tx.reversal?.body;
    let status = 'network';
    let retryAfter: number | undefined;
    let text = '';
    try {
      const res = await fetch(`${this.ingressUrl}${PATHS[d.kind]}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-integrator-id': this.integratorId },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      status = String(res.status);
      retryAfter = Number(res.headers.get('retry-after')) || undefined;
      text = await res.text();
    } catch {
      // connection refused / reset / timeout: no answer, deliver again
    } finally {
      this.inFlight--;
    }
    this.stats.byStatus[`${d.kind} ${status}`] = (this.stats.byStatus[`${d.kind} ${status}`] ?? 0) + 1;
    const code = Number(status);
    if (code >= 200 && code < 300) {
      if (d.kind === 'payment') d.tx.paymentAccepted = true;
      else d.tx.reversalAccepted = true;
      if (!d.redelivery && Math.random() < 0.1) {
        this.stats.redeliveriesOfAnswered++;
        this.queue.push({
          ...d,
          due: Date.now() + 1000 + Math.random() * 20_000,
          attempt: 0,
          redelivery: true,
        });
      }
      return;
    }
    const next = { ...d, attempt: d.attempt + 1 };
    if (code === 429) {
      this.queue.push({ ...next, due: Date.now() + (retryAfter ?? 1) * 1000 });
    } else if (code >= 400 && code < 500) {
      d.tx.refusals.push(`${d.kind} ${code}: ${text.slice(0, 300)}`);
      // A definite refusal: IC would deliver it again a few times, then stop.
      if (next.attempt < 3) this.queue.push({ ...next, due: Date.now() + 5000 });
      else this.stats.gaveUp++;
    } else {
      const backoff = Math.min(30_000, 500 * 2 ** Math.min(next.attempt, 6));
      this.queue.push({ ...next, due: Date.now() + backoff * (0.5 + Math.random() / 2) });
    }
  }
}
