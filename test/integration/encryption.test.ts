/**
 * Payload encryption end to end on the real server: what Temporal stores (the raw history
 * and description, read without the codec) holds no amount, free-text message or customer
 * name in clear; static summaries and search attributes stay readable; a rotated key set
 * still reads old runs; a missing or wrong key is a clear error; the codec server decodes
 * for holders of its bearer token and answers CORS only for the UI's origin.
 */
import axios from 'axios';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { transactionSummary } from '../../client/ingress/payment';
import { startExport } from '../../client/exports';
import { buildCodecServer } from '../../client/codec-server/server';
import { dataProtection } from '../../common/data-protection';
import { silentLogger } from '../../common/logger';
import { AesGcmPayloadCodec, KEY_ID_METADATA, generatePayloadKey } from '../../common/payload-codec';
import { createWorker } from '../../worker/worker';
import {
  PaymentStatus,
  deliverUpdate,
  workflowIds,
  type DeliverInput,
  type TransactionState,
} from '../../domain';
import { eventually, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { seedPayment } from '../helpers/payments';
import { NO_HOLD, deliverPayment } from '../helpers/transactions';
import { testPayloadKeyList } from '../helpers/payload-keys';

const CYCLE = '2019-03-01';
let h: Harness;
let raw: Connection;

const AMOUNT = '987.65';
const testCodec = new AesGcmPayloadCodec(testPayloadKeyList());
const MESSAGE = 'Jane asked: apply this to the March bill please';

/** Everything Temporal holds about a run, as the bytes it sends (no codec involved). */
async function storedBytes(workflowId: string): Promise<Buffer> {
  const history = await raw.workflowService.getWorkflowExecutionHistory({
    namespace: h.namespace,
    execution: { workflowId },
  });
  const described = await raw.workflowService.describeWorkflowExecution({
    namespace: h.namespace,
    execution: { workflowId },
  });
  return Buffer.concat([
    temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryResponse.encode(history).finish(),
    temporal.api.workflowservice.v1.DescribeWorkflowExecutionResponse.encode(described).finish(),
  ]);
}

beforeAll(async () => {
  h = await startHarness({
    name: 'encryption',
    withIc: true,
    cycles: [{ seed: 7, invoiceMonth: CYCLE, count: 12 }],
  });
  raw = await Connection.connect({ address: inject('temporalAddress') });
});
afterAll(async () => {
  await raw?.close();
  await h?.stop();
});

describe(`payload encryption (${inject('temporalKind')})`, () => {
  let paid: ReturnType<typeof seedPayment>;

  it('stores no amount or free-text message of a payment and its void in clear; ids and the summary stay readable', async () => {
    paid = { ...seedPayment(h.imt, { amount: AMOUNT }), message: MESSAGE };
    expect((await h.http.post('/api/integration/invoice/post-payment', paid)).status).toBe(201);
    const voidBody = {
      customer: paid.customer,
      invoice_number: paid.invoice_number,
      transaction_id: paid.transaction_id,
      amount: AMOUNT,
      message: `${MESSAGE} (void)`,
    };
    expect([201, 202]).toContain(
      (await h.http.post('/api/integration/invoice/void-payment', voidBody)).status,
    );
    // The transaction's one run took both, reversed the payment, and closed.
    const run = h.client.workflow.getHandle(workflowIds.payment(paid.transaction_id));
    const state = (await run.result()) as TransactionState;
    expect(state.status).toBe(PaymentStatus.REVERSED);

    const stored = (await storedBytes(run.workflowId)).toString('latin1');
    // The check can see cleartext: identifiers in search attributes and IDs are there.
    expect(stored).toContain(paid.transaction_id);
    expect(stored).toContain(paid.invoice_number);
    expect(stored).not.toContain(AMOUNT);
    expect(stored).not.toContain('98765');
    expect(stored).not.toContain('Jane asked');
    expect(stored).toContain('binary/encrypted');
    // The run's static summary is public (identifiers only).
    const bytes = (await storedBytes(run.workflowId)).toString('utf8');
    expect(bytes).toContain(transactionSummary({ kind: 'payment', payment: paid }));

    // Through the codec, everything reads as before.
    expect(state.payment?.message).toBe(MESSAGE);
    expect(state.events.void?.message).toBe(`${MESSAGE} (void)`);
  });

  it("stores neither the amount nor IMT's error text of a refused posting in clear (failures are encrypted)", async () => {
    const amount = '555.44';
    const imtText = 'Balance of Jane Q. Roe is lower than the payment';
    const refused = seedPayment(h.imt, { amount });
    h.imt.rejectPostsFor(refused.invoice_number, { amount: [`${imtText} (${amount})`] });
    const answer = await h.http.post('/api/integration/invoice/post-payment', refused);
    // Through the codec, IMT's reasons still reach IC and the operator.
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.data)).toContain(imtText);

    const id = workflowIds.payment(refused.transaction_id);
    const failedAttempt = await eventually(async () => {
      const history = await raw.workflowService.getWorkflowExecutionHistory({
        namespace: h.namespace,
        execution: { workflowId: id },
      });
      return (
        history.history?.events?.find((e) => e.activityTaskFailedEventAttributes)
          ?.activityTaskFailedEventAttributes?.failure ?? undefined
      );
    });
    // The failure's own message and stack travel as an encrypted payload.
    expect(failedAttempt.message).toBe('Encoded failure');
    expect(failedAttempt.stackTrace).toBe('');
    expect(new TextDecoder().decode(failedAttempt.encodedAttributes?.metadata?.encoding)).toBe(
      'binary/encrypted',
    );
    const bytes = (await storedBytes(id)).toString('latin1');
    expect(bytes).toContain(refused.transaction_id);
    for (const clear of [amount, '55544', 'Jane Q. Roe', 'lower than the payment', 'imt-client', 'at ']) {
      expect(bytes).not.toContain(clear);
    }
  });

  it('the worker refuses a run whose input is not encrypted: nothing reaches IMT', async () => {
    const forged = seedPayment(h.imt);
    // A client that reaches Temporal but holds no key (no data converter at all).
    const keyless = new Client({ connection: raw, namespace: h.namespace });
    // A forged delivery: the transaction's run with the payment as a plaintext update.
    const handle = await keyless.workflow.start('transactionWorkflow', {
      workflowId: workflowIds.payment(forged.transaction_id),
      taskQueue: h.taskQueue,
      args: [{ transactionId: forged.transaction_id }],
    });
    void handle
      .executeUpdate(deliverUpdate, {
        args: [{ delivery: { kind: 'payment', payment: forged }, waitMs: 1000 }],
      })
      .catch(() => undefined);
    try {
      const failure = await eventually(async () => {
        const history = await raw.workflowService.getWorkflowExecutionHistory({
          namespace: h.namespace,
          execution: { workflowId: handle.workflowId },
        });
        return (
          history.history?.events?.find((e) => e.workflowTaskFailedEventAttributes)
            ?.workflowTaskFailedEventAttributes?.failure ?? undefined
        );
      });
      const decoded = await h.client.workflow.getHandle(handle.workflowId).fetchHistory();
      const wft = decoded.events?.find((e) => e.workflowTaskFailedEventAttributes);
      const [attrs] = await testCodec.decode(failure.encodedAttributes ? [failure.encodedAttributes] : []);
      const text = attrs ? JSON.stringify(defaultPayloadConverter.fromPayload(attrs)) : failure.message;
      expect(wft).toBeDefined();
      expect(text).toMatch(/not encrypted/);
      expect(h.imt.postings().some((p) => p.transaction_id === forged.transaction_id)).toBe(false);
    } finally {
      await handle.terminate('test: forged plaintext run');
    }
  });

  it('stores no customer name of an exported billing cycle in clear', async () => {
    const listing = await axios.get(`${h.imt.url}/api/integration/invoices`, {
      params: { invoice_month: CYCLE, page: 1, page_size: 100 },
      headers: { 'X-Integrator-ID': h.imtIntegratorId },
    });
    const names: string[] = listing.data.results.map(
      (r: { customer_detail: { customer_name: string } }) => r.customer_detail.customer_name,
    );
    expect(names.length).toBe(12);
    const started = await startExport(h.client, h.taskQueue, { cycle: CYCLE, wait: true });
    expect(started.result?.invoiceCount).toBeGreaterThan(0);
    const bytes = (await storedBytes(workflowIds.export(CYCLE))).toString('utf8');
    for (const name of names) expect(bytes).not.toContain(name);
  });

  it('after a key rotation, old runs still read and new runs are encrypted with the new key', async () => {
    const rotatedKeys = [generatePayloadKey('rotated2'), ...testPayloadKeyList()];
    const rotated = dataProtection(rotatedKeys);
    const client = new Client({ connection: h.client.connection, namespace: h.namespace, ...rotated });
    // Old run (encrypted with the test key) reads with the rotated set.
    const old = (await client.workflow
      .getHandle(workflowIds.payment(paid.transaction_id))
      .result()) as TransactionState;
    expect(old.payment?.amount).toBe(AMOUNT);

    // A worker and a client on the rotated set run a new payment.
    const taskQueue = uniqueId('tq-rotated');
    const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
    const worker = await createWorker({
      connection,
      namespace: h.namespace,
      taskQueue,
      deps: h.deps,
      dataConverter: rotated.workerDataConverter,
      workflowBundle: { codePath: inject('workflowBundlePath') },
    });
    const p = seedPayment(h.imt);
    // Started as the ingress starts it; no hold after posting, so that the run closes here.
    const state = await worker.runUntil(async () => {
      const { handle } = await deliverPayment(client, taskQueue, p, { timing: NO_HOLD });
      return (await handle.result()) as TransactionState;
    });
    await connection.close();
    expect(state.status).toBe(PaymentStatus.POSTED);
    expect(h.imt.postings().filter((x) => x.transaction_id === p.transaction_id)).toHaveLength(1);
    const history = await raw.workflowService.getWorkflowExecutionHistory({
      namespace: h.namespace,
      execution: { workflowId: workflowIds.payment(p.transaction_id) },
    });
    const input = history.history?.events?.[0].workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    expect(new TextDecoder().decode(input?.metadata?.[KEY_ID_METADATA] ?? new Uint8Array())).toBe('rotated2');
  });

  it('a client without the key, or with a different key of the same id, gets a clear error naming the key id', async () => {
    const handleWith = (keys: ReturnType<typeof testPayloadKeyList>) =>
      new Client({
        connection: h.client.connection,
        namespace: h.namespace,
        ...dataProtection(keys),
      }).workflow.getHandle(workflowIds.payment(paid.transaction_id));
    const [testKey] = testPayloadKeyList();
    await expect(handleWith([generatePayloadKey('other')]).result()).rejects.toThrow(
      new RegExp(
        `encrypted with key "${testKey.id}", which is not among the configured PAYLOAD_KEYS \\(other\\)`,
      ),
    );
    await expect(handleWith([generatePayloadKey(testKey.id)]).result()).rejects.toThrow(
      /does not decrypt with the configured key of that id/,
    );
  });

  it('the codec server decodes a stored payload for the token holder only, with CORS for the UI origin only', async () => {
    const token = uniqueId('codec-token-0123456789');
    const uiOrigin = 'http://127.0.0.1:8080';
    const app = buildCodecServer({
      codec: new AesGcmPayloadCodec(testPayloadKeyList()),
      token,
      uiOrigin,
      logger: silentLogger,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const addr = app.server.address();
      const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
      const history = await raw.workflowService.getWorkflowExecutionHistory({
        namespace: h.namespace,
        execution: { workflowId: workflowIds.payment(paid.transaction_id) },
      });
      // IC's delivery of the payment: the `deliver` update's argument, as the history stores it.
      const accepted = history.history!.events!.find(
        (e) => e.workflowExecutionUpdateAcceptedEventAttributes,
      )!;
      const stored =
        accepted.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest!.input!.args!.payloads![0];
      const body = {
        payloads: [
          {
            metadata: Object.fromEntries(
              Object.entries(stored.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
            ),
            data: Buffer.from(stored.data ?? new Uint8Array()).toString('base64'),
          },
        ],
      };
      const call = (headers: Record<string, string>) =>
        axios.post(`${url}/decode`, body, { headers, validateStatus: () => true });

      expect((await call({})).status).toBe(401);
      expect((await call({ Authorization: 'Bearer wrong-token-value' })).status).toBe(401);
      const ok = await call({ Authorization: `Bearer ${token}`, Origin: uiOrigin });
      expect(ok.status).toBe(200);
      expect(ok.headers['access-control-allow-origin']).toBe(uiOrigin);
      const decoded = ok.data.payloads[0];
      const input = defaultPayloadConverter.fromPayload({
        metadata: Object.fromEntries(
          Object.entries(decoded.metadata as Record<string, string>).map(([k, v]) => [
            k,
            Buffer.from(v, 'base64'),
          ]),
        ),
        data: Buffer.from(decoded.data, 'base64'),
      }) as DeliverInput;
      expect(input.delivery.kind === 'payment' && input.delivery.payment.message).toBe(MESSAGE);

      const foreign = await call({ Authorization: `Bearer ${token}`, Origin: 'https://evil.example' });
      expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
      const preflight = (origin: string) =>
        axios.options(`${url}/decode`, {
          headers: { Origin: origin, 'Access-Control-Request-Method': 'POST' },
          validateStatus: () => true,
        });
      expect((await preflight(uiOrigin)).status).toBe(204);
      expect((await preflight('https://evil.example')).status).toBe(403);
    } finally {
      await app.close();
    }
  });
});
