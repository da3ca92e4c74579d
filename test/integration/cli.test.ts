/**
 * The operator CLI against the real dev server, a real worker, the real ingress and the
 * IMT simulator: every command is run in-process through `runCli` (same code path as the
 * `imt-ic` launcher, which is exercised once at the end as a child process).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { runCli } from '../../client/cli/main';
import type { CliIo } from '../../client/cli/format';
import {
  PaymentStatus,
  transactionStateQuery,
  workflowIds,
  type PaymentMethod,
  type TransactionState,
} from '../../domain';
import { eventually, startHarness, type Harness } from '../helpers/harness';
import { seedPayment } from '../helpers/payments';
import { testPayloadKeys } from '../helpers/payload-keys';

const UI = 'http://ui.example:8233';
let h: Harness;

interface CliRun {
  code: number;
  out: string;
  err: string;
}

async function cli(...args: string[]): Promise<CliRun> {
  let out = '';
  let err = '';
  const port = new URL(h.ingressUrl).port;
  const io: CliIo = {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    isTTY: false,
    env: {
      INGRESS_INTEGRATOR_ID: h.ingressIntegratorId,
      INGRESS_PORT: port,
      DATA_DIR: h.dataDir,
      PAYLOAD_KEYS: testPayloadKeys(),
    },
  };
  const address = inject('temporalAddress');
  const code = await runCli(
    ['node', 'imt-ic', '--address', address, '--task-queue', h.taskQueue, '--ui-url', UI, ...args],
    io,
  );
  // Whatever a command prints, it never prints a credential.
  expect(out + err).not.toContain(h.ingressIntegratorId);
  expect(out + err).not.toContain(h.imtIntegratorId);
  return { code, out, err };
}

const newPayment = (method: PaymentMethod = 'echeck') => seedPayment(h.imt, { method });
type Payment = ReturnType<typeof newPayment>;

const post = (p: Payment) => h.http.post('/api/integration/invoice/post-payment', p);

/** `payments list` reads visibility, which follows a run's status asynchronously: wait until it shows it. */
async function listedAs(p: Payment, status: PaymentStatus): Promise<void> {
  const query = `WorkflowId = '${workflowIds.payment(p.transaction_id)}' AND PaymentStatus = '${status}'`;
  await eventually(async () => (await h.client.workflow.count(query)).count === 1);
}

async function parked(): Promise<Payment> {
  const p = newPayment();
  h.imt.rejectPostsFor(p.invoice_number, { invoice_number: ['Invoice is closed.'] });
  expect((await post(p)).status).toBe(400);
  return p;
}

// Every test file starts its own harness (own task queue); this setup recurs in shape on purpose.
beforeAll(async () => {
  h = await startHarness({ name: 'cli', confirmWaitMs: 5000 });
});
afterAll(() => h?.stop());

describe('payments list', () => {
  it('lists payments as a table and as JSON, filtered by status, invoice and customer', async () => {
    const posted = newPayment();
    expect((await post(posted)).status).toBe(201);
    const stuck = await parked();
    await listedAs(posted, PaymentStatus.POSTED);
    await listedAs(stuck, PaymentStatus.NEEDS_ATTENTION);

    const all = await cli('payments', 'list', '--json');
    expect(all.code).toBe(0);
    const rows = JSON.parse(all.out) as { transaction_id: string; status: string; ui_url: string }[];
    expect(rows.map((r) => r.transaction_id)).toEqual(
      expect.arrayContaining([posted.transaction_id, stuck.transaction_id]),
    );
    expect(rows.find((r) => r.transaction_id === stuck.transaction_id)).toMatchObject({
      status: 'NEEDS_ATTENTION',
      ui_url: `${UI}/namespaces/default/workflows/payment-${stuck.transaction_id}`,
    });

    const onlyParked = JSON.parse(
      (await cli('payments', 'list', '--status', 'needs_attention', '--json')).out,
    ) as {
      transaction_id: string;
      status: string;
    }[];
    expect(onlyParked.every((r) => r.status === 'NEEDS_ATTENTION')).toBe(true);
    expect(onlyParked.map((r) => r.transaction_id)).toContain(stuck.transaction_id);
    expect(onlyParked.map((r) => r.transaction_id)).not.toContain(posted.transaction_id);

    const byInvoice = await cli('payments', 'list', '--invoice', posted.invoice_number);
    expect(byInvoice.code).toBe(0);
    expect(byInvoice.out).toMatch(/^TRANSACTION ID\s+STATUS\s+AMOUNT/);
    expect(byInvoice.out).toContain(posted.transaction_id);
    expect(byInvoice.out).toContain('POSTED');
    expect(byInvoice.out).not.toContain(stuck.transaction_id);

    const byCustomer = await cli('payments', 'list', '--customer', stuck.customer, '--since', '1h');
    expect(byCustomer.out).toContain(stuck.transaction_id);
    expect(byCustomer.out).not.toContain(posted.transaction_id);

    const none = await cli('payments', 'list', '--invoice', 'NO-SUCH-INVOICE');
    expect(none).toMatchObject({ code: 0, out: 'No payments match.\n' });
  });

  it('rejects bad arguments with exit code 2 and a one-line reason', async () => {
    const bad = await cli('payments', 'list', '--status', 'LOST');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^imt-ic: --status: must be one of AWAITING_PAYMENT, POSTING, /);
    expect((await cli('payments', 'list', '--limit', '0')).code).toBe(2);
    expect((await cli('payments', 'list', '--invoice', "x' OR 1=1")).code).toBe(2);
    expect((await cli('payments', 'list', '--since', 'last tuesday')).code).toBe(2);
    const unknown = await cli('payments', 'list', '--colour');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("unknown option '--colour'");
    expect((await cli('payments', 'dismiss', 'T1')).code).toBe(2); // --reason is required
  });
});

describe('payments show', () => {
  it('shows state, attempts, last error, next steps and the Temporal UI link of a parked payment', async () => {
    const p = await parked();
    const shown = await cli('payments', 'show', p.transaction_id);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain(`Payment ${p.transaction_id} — NEEDS_ATTENTION`);
    expect(shown.out).toContain(`Transaction · invoice ${p.invoice_number} · customer ${p.customer}`);
    expect(shown.out).toMatch(/IMT holds it:\s+no — every attempt was answered/);
    expect(shown.out).toMatch(/Attempts:\s+1\n/);
    expect(shown.out).toMatch(/Needs attention:\s+IMT did not take the posting/);
    expect(shown.out).toContain('IMT holds nothing for it that the run does not know of');
    expect(shown.out).toMatch(/Last error:\s+InvalidPost \(HTTP 400\)/);
    expect(shown.out).toContain('Invoice is closed.');
    // The run's log, latest last: received, the refused attempt.
    expect(shown.out).toMatch(
      /Log \(latest last\)\n(.*\n)*.*payment received(.*\n)*.*posting attempt failed/,
    );
    expect(shown.out).toContain(`${UI}/namespaces/default/workflows/payment-${p.transaction_id}`);
    expect(shown.out).toContain(`imt-ic payments retry ${p.transaction_id}`);

    const asJson = JSON.parse((await cli('payments', 'show', p.transaction_id, '--json')).out);
    expect(asJson).toMatchObject({
      transaction_id: p.transaction_id,
      status: 'NEEDS_ATTENTION',
      run_status: 'RUNNING',
      attempts: 1,
      imt_holds: 'NO',
      needs_attention: { imt_may_hold: false },
      invoice_number: p.invoice_number,
      customer: p.customer,
      amount: '50.00',
      last_error: { type: 'InvalidPost', status: 400 },
    });
  });

  it('exits 3 (not found) for an unknown transaction, like retry and dismiss', async () => {
    const res = await cli('payments', 'show', 'T-does-not-exist');
    expect(res.code).toBe(3);
    expect(res.err).toBe(
      'imt-ic: no payment T-does-not-exist (no run with this transaction ID in Temporal)\n',
    );
  });
});

describe('payments retry / dismiss', () => {
  it('retries a parked payment after the cause is fixed: posted once', async () => {
    const p = await parked();
    h.imt.clearRejections();
    const res = await cli('payments', 'retry', p.transaction_id, '--by', 'ops-test');
    expect(res.code, res.err).toBe(0);
    expect(res.out).toContain(`Retried payment ${p.transaction_id}: now POSTED.`);
    expect(h.imt.postings().filter((x) => x.transaction_id === p.transaction_id)).toHaveLength(1);
    // The run stays open (asleep) for a void: its state says who asked.
    const state = await h.client.workflow
      .getHandle(workflowIds.payment(p.transaction_id))
      .query(transactionStateQuery);
    expect(state).toMatchObject({ status: PaymentStatus.POSTED, posting: { holds: 'YES', attempts: 2 } });
    expect(state.log.find((e) => e.event === 'retry requested')?.detail).toBe('ops-test');
  });

  it('dismisses a parked payment with the reason; nothing is posted', async () => {
    const p = await parked();
    const res = await cli('payments', 'dismiss', p.transaction_id, '--reason', 'refunded in IC');
    expect(res.code).toBe(0);
    expect(res.out).toContain(`Payment ${p.transaction_id} is DISMISSED: refunded in IC`);
    const state = (await h.client.workflow
      .getHandle(workflowIds.payment(p.transaction_id))
      .result()) as TransactionState;
    expect(state).toMatchObject({ status: PaymentStatus.DISMISSED, closingReason: 'refunded in IC' });
    h.imt.clearRejections();
    expect(h.imt.postings().filter((x) => x.transaction_id === p.transaction_id)).toHaveLength(0);
  });

  it('refuses to retry or dismiss a payment that is not NEEDS_ATTENTION', async () => {
    const p = newPayment();
    expect((await post(p)).status).toBe(201);
    // Refused by the run's update validator (exit code 4: refused in the current state).
    const retry = await cli('payments', 'retry', p.transaction_id);
    expect(retry.code).toBe(4);
    expect(retry.err).toMatch(
      /cannot retry payment .* is POSTED; only a NEEDS_ATTENTION transaction can be retried/,
    );
    const dismiss = await cli('payments', 'dismiss', p.transaction_id, '--reason', 'mistake');
    expect(dismiss.code).toBe(4);
    expect(dismiss.err).toContain('only a NEEDS_ATTENTION transaction can be dismissed');
    expect((await cli('payments', 'retry', 'T-unknown')).err).toContain('no payment T-unknown');
    expect((await cli('payments', 'dismiss', p.transaction_id, '--reason', 'x')).code).toBe(2);
  });

  it('retries every parked payment of an invoice with --all', async () => {
    const a = await parked();
    await listedAs(a, PaymentStatus.NEEDS_ATTENTION);
    const res = await cli('payments', 'retry', '--all', '--invoice', a.invoice_number);
    expect(res.code).toBe(0);
    expect(res.out).toContain('Retried 1 of 1 payments.');
    expect((await cli('payments', 'retry', a.transaction_id, '--all')).code).toBe(2);
    await h.client.workflow.getHandle(workflowIds.payment(a.transaction_id)).terminate('test over');
  });
});

describe('manual voids and ACH rejects through the ingress', () => {
  it('voids a posted payment, taking customer, invoice and amount from its run', async () => {
    const p = newPayment('credit');
    expect((await post(p)).status).toBe(201);
    const res = await cli('payments', 'void', p.transaction_id, '--message', 'entered by ops');
    expect(res.code, res.err).toBe(0);
    expect(res.out).toMatch(new RegExp(`Void of payment ${p.transaction_id} (completed|accepted)`));
    const reversal = h.imt.reversals().find((r) => r.transaction_id === p.transaction_id);
    expect(reversal).toMatchObject({ reversal_type: 'void', amount: '50.00' });

    // The transaction's one run took the void, reversed the payment in IMT, and closed.
    const state = (await h.client.workflow
      .getHandle(workflowIds.payment(p.transaction_id))
      .result()) as TransactionState;
    expect(state).toMatchObject({
      status: PaymentStatus.REVERSED,
      reversalKind: 'void',
      reversal: { holds: 'YES' },
    });
    const shown = await cli('payments', 'show', p.transaction_id);
    expect(shown.out).toContain(`Payment ${p.transaction_id} — REVERSED · void (run completed)`);
    expect(shown.out).toMatch(/Reversal:\s+void\n\s+IMT holds it: yes — IMT confirmed the reversal/);
    expect(shown.out).toContain('void received');
    await listedAs(p, PaymentStatus.REVERSED);
    const listed = JSON.parse((await cli('payments', 'list', '--invoice', p.invoice_number, '--json')).out);
    expect(listed).toMatchObject([
      { transaction_id: p.transaction_id, status: 'REVERSED', reversal: 'void' },
    ]);
  });

  it('enters an ACH reject with a return code', async () => {
    const p = newPayment('echeck');
    expect((await post(p)).status).toBe(201);
    const res = await cli('payments', 'ach-reject', p.transaction_id, '--return-code', 'r01', '--json');
    expect(res.code, res.err).toBe(0);
    expect(JSON.parse(res.out)).toMatchObject({ transaction_id: p.transaction_id });
    expect(h.imt.reversals().find((r) => r.transaction_id === p.transaction_id)).toMatchObject({
      reversal_type: 'ach_reject',
      return_code: 'R01',
    });
  });

  it('explains what is missing or refused', async () => {
    const unknown = await cli('payments', 'void', 'T-never-seen');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('--customer, --invoice, --amount required');
    expect((await cli('payments', 'ach-reject', 'T1', '--return-code', 'R99', '--amount', '1.00')).code).toBe(
      2,
    );
    expect(
      (await cli('payments', 'void', 'T1', '--amount', '-5', '--customer', 'C', '--invoice', 'I')).code,
    ).toBe(2);

    const p = newPayment('credit');
    expect((await post(p)).status).toBe(201);
    const mismatch = await cli('payments', 'void', p.transaction_id, '--amount', '49.00');
    expect(mismatch.code).toBe(1);
    expect(mismatch.err).toMatch(/^imt-ic: the ingress refused the void \(409\)/);

    const down = await cli('payments', 'void', p.transaction_id, '--ingress-url', 'http://127.0.0.1:1');
    expect(down.code).toBe(1);
    expect(down.err).toContain('cannot reach the ingress at http://127.0.0.1:1');
  });
});

describe('the imt-ic launcher', () => {
  const bin = path.resolve(__dirname, '../../bin/imt-ic.js');
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [bin, ...args], {
      encoding: 'utf8',
      env: { ...process.env, PAYLOAD_KEYS: testPayloadKeys() },
      timeout: 60_000,
    });

  it('prints help with exit code 0 and exits 2 on a usage error', () => {
    const help = run('payments', 'list', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: imt-ic payments list [options]');
    expect(help.stdout).toContain('--status <status>');
    const usage = run('payments', 'show');
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain("missing required argument 'transaction_id'");
  });

  it('exits 1 with a one-line reason when Temporal is unreachable', () => {
    const res = run('--address', '127.0.0.1:1', 'payments', 'list');
    expect(res.status).toBe(1);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toContain('cannot reach Temporal at 127.0.0.1:1');
  });
});
