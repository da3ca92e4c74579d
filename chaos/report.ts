/**
 * The chaos run's verdict: IMT's ledger (the simulator's inspection endpoint) reconciled
 * against what IC sent, printed as ONE table and written as JSON. Must-be-0 rows decide the
 * exit code.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Transaction } from './load';

export interface LedgerEntry {
  at: string;
  transaction_id: string;
  kind: 'posting' | 'reversal';
  amount: string;
}

export interface RunFacts {
  target: string;
  variant: string;
  txs: Transaction[];
  ledger: LedgerEntry[];
  /** transaction_id → why a person is asked (NEEDS_ATTENTION runs). */
  parked: Map<string, string>;
  /** Temporal actions per payment, and how they were counted. */
  actions: { perPayment: number; how: string };
  workerRssPeakBytes: number;
  loadSeconds: number;
  /** From the end of the load phase until every run had settled (or the bound ran out). */
  settleSeconds?: number;
  rate: number;
  exportSummary: string;
  events: { at: number; event: string }[];
  pump: unknown;
  settleProblem?: string;
}

export interface Row {
  name: string;
  value: number | string;
  mustBeZero?: boolean;
}

const cents = (amount: string) => Math.round(Number(amount) * 100);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Reconciles one run: every figure of the table. */
export function reconcile(f: RunFacts): Row[] {
  const byTx = new Map<string, { postings: LedgerEntry[]; reversals: LedgerEntry[] }>();
  for (const e of f.ledger) {
    const slot = byTx.get(e.transaction_id) ?? { postings: [], reversals: [] };
    (e.kind === 'posting' ? slot.postings : slot.reversals).push(e);
    byTx.set(e.transaction_id, slot);
  }
  const sentIds = new Set(f.txs.map((t) => t.payment.transaction_id));
  let postedOnce = 0;
  let postedTwice = 0;
  let lost = 0;
  let reversed = 0;
  let reversedMore = 0;
  let netMismatch = 0;
  const latencies: number[] = [];
  let firstSent = Infinity;
  let lastPosted = 0;
  const examples: string[] = [];
  for (const tx of f.txs) {
    const id = tx.payment.transaction_id;
    const slot = byTx.get(id) ?? { postings: [], reversals: [] };
    const parked = f.parked.has(id);
    if (slot.postings.length === 1) postedOnce++;
    if (slot.postings.length > 1) postedTwice++;
    if (slot.reversals.length > 0) reversed++;
    if (slot.reversals.length > slot.postings.length) reversedMore++;
    const expected = tx.reversal ? 0 : cents(tx.payment.amount);
    const net =
      slot.postings.reduce((s, e) => s + cents(e.amount), 0) -
      slot.reversals.reduce((s, e) => s + cents(e.amount), 0);
    if (tx.paymentAccepted && slot.postings.length === 0 && expected !== 0 && !parked) {
      lost++;
      if (examples.length < 5) examples.push(`lost ${id}`);
    }
    if (net !== expected && !parked) {
      netMismatch++;
      if (examples.length < 5) examples.push(`net ${id}: IMT ${net / 100}, IC calls for ${expected / 100}`);
    }
    if (tx.firstSentAt !== undefined) firstSent = Math.min(firstSent, tx.firstSentAt);
    const posted = slot.postings[0] ? Date.parse(slot.postings[0].at) : undefined;
    if (posted !== undefined && tx.firstSentAt !== undefined) {
      latencies.push((posted - tx.firstSentAt) / 1000);
      lastPosted = Math.max(lastPosted, posted);
    }
  }
  const strangers = [...byTx.keys()].filter((id) => !sentIds.has(id)).length;
  latencies.sort((a, b) => a - b);
  const reasons = new Map<string, number>();
  for (const reason of f.parked.values()) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  const postings = f.ledger.filter((e) => e.kind === 'posting').length;
  const seconds = lastPosted > firstSent ? (lastPosted - firstSent) / 1000 : NaN;
  const accepted = f.txs.filter((t) => t.paymentAccepted).length;
  const reversalsSent = f.txs.filter((t) => t.reversal).length;
  const rows: Row[] = [
    {
      name: 'payments sent (IC events: + voids / ACH rejects)',
      value: `${f.txs.length} (+${reversalsSent})`,
    },
    { name: 'payments accepted by the ingress (2xx)', value: accepted },
    { name: 'payments never accepted', value: f.txs.length - accepted, mustBeZero: true },
    { name: 'posted once', value: postedOnce },
    { name: 'posted twice', value: postedTwice, mustBeZero: true },
    { name: 'lost (accepted, IC calls for money, IMT has none, not parked)', value: lost, mustBeZero: true },
    { name: 'reversed', value: reversed },
    { name: 'reversed more than posted', value: reversedMore, mustBeZero: true },
    { name: 'net per transaction ≠ what IC called for, not parked', value: netMismatch, mustBeZero: true },
    { name: 'IMT ledger entries for transactions IC never sent', value: strangers, mustBeZero: true },
    {
      name: 'parked for a person',
      value: `${f.parked.size}${reasons.size ? ` (${[...reasons].map(([r, n]) => `${r}: ${n}`).join('; ')})` : ''}`,
    },
    {
      name: 'ingress-to-posted latency p50 / p99 (s)',
      value: `${fmt(percentile(latencies, 50))} / ${fmt(percentile(latencies, 99))}`,
    },
    { name: 'payments/s (first send → last posting)', value: fmt(postings / seconds) },
    { name: 'send rate (payments/s) / load phase (s)', value: `${f.rate} / ${Math.round(f.loadSeconds)}` },
    ...(f.settleSeconds === undefined
      ? []
      : [{ name: 'settling after the load phase (s)', value: Math.round(f.settleSeconds) }]),
    { name: 'worker RSS peak (MiB)', value: Math.round(f.workerRssPeakBytes / 2 ** 20) },
    { name: `Temporal actions per payment (${f.actions.how})`, value: fmt(f.actions.perPayment) },
    { name: 'export', value: f.exportSummary },
  ];
  if (f.settleProblem) rows.push({ name: 'did not settle', value: f.settleProblem, mustBeZero: true });
  if (examples.length) rows.push({ name: 'examples', value: examples.join(' · ') });
  return rows;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** True when every must-be-0 row is 0. */
export function passed(rows: Row[]): boolean {
  return rows.every((r) => !r.mustBeZero || r.value === 0);
}

export function printTable(title: string, rows: Row[]): string {
  const width = Math.max(...rows.map((r) => r.name.length));
  const lines = [
    title,
    `| ${'figure'.padEnd(width)} | value |`,
    `|${'-'.repeat(width + 2)}|-------|`,
    ...rows.map((r) => {
      const flag = r.mustBeZero ? (r.value === 0 ? ' ✓' : ' ✗ must be 0') : '';
      return `| ${r.name.padEnd(width)} | ${r.value}${flag} |`;
    }),
  ];
  return lines.join('\n');
}

export function writeJson(dir: string, f: RunFacts, rows: Row[], ok: boolean): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(
    dir,
    `chaos-${f.target}-${f.variant}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
  );
  const body = {
    target: f.target,
    variant: f.variant,
    passed: ok,
    table: Object.fromEntries(rows.map((r) => [r.name, r.value])),
    schedule: f.events,
    pump: f.pump,
  };
  fs.writeFileSync(file, JSON.stringify(body, null, 2));
  return file;
}
