/**
 * Bill PDFs (issue 12 item 4): the IMT simulator generates a real PDF per invoice, and the
 * ingress passes it through as a stream — the bytes arrive intact (sha256 of what the
 * simulator produced = sha256 of what the caller received), and a 50 MB bill does not grow
 * the ingress process's memory by more than a few MB (measured in a process of its own).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateCycle } from '../../simulators/imt/dataset';
import { startImtSimulator, type ImtSimulator } from '../../simulators/imt/server';
import type { MemoryFigures } from '../helpers/ingress-process';

const CYCLE = { seed: 67, invoiceMonth: '2024-08-01', count: 5, invalidEvery: 0 };
const BIG = 50 * 1024 * 1024;
/** "A few MB": what streaming may hold (socket and stream buffers), far below the 50 MB bill. */
const MAX_GROWTH = 8 * 1024 * 1024;

let imt: ImtSimulator;
let child: ChildProcess;
let port: number;
const ingressId = randomBytes(12).toString('hex');

function ask(type: 'mark' | 'peak' | 'live'): Promise<MemoryFigures> {
  return new Promise((resolve) => {
    const onMessage = (msg: { type: string; memory: MemoryFigures }) => {
      if (msg.type !== type) return;
      child.off('message', onMessage);
      resolve(msg.memory);
    };
    child.on('message', onMessage);
    child.send({ type });
  });
}

interface Downloaded {
  status: number;
  type?: string;
  sha256: string;
  bytes: number;
}

/**
 * Downloads through the ingress, hashing as the bytes come: nothing is held here either.
 * `midway` pauses the download once `at` bytes have arrived, awaits `run`, then resumes.
 */
function download(
  invoiceNumber: string,
  midway?: { at: number; run: () => Promise<void> },
): Promise<Downloaded> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: '127.0.0.1',
        port,
        path: `/api/integration/invoice/${invoiceNumber}/pdf`,
        headers: { 'X-Integrator-ID': ingressId },
      },
      (res) => {
        const hash = createHash('sha256');
        let bytes = 0;
        let paused = false;
        res.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          bytes += chunk.length;
          if (midway && !paused && bytes >= midway.at) {
            paused = true;
            res.pause();
            midway.run().then(() => res.resume(), reject);
          }
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['content-type'],
            sha256: hash.digest('hex'),
            bytes,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
  });
}

beforeAll(async () => {
  const imtId = randomBytes(12).toString('hex');
  imt = await startImtSimulator({ port: 0, integratorId: imtId, cycles: [CYCLE] });
  child = fork(path.join(__dirname, '..', 'helpers', 'ingress-process.ts'), [], {
    execArgv: ['--require', 'tsx/cjs', '--expose-gc'],
    env: {
      ...process.env,
      IMT_URL: imt.url,
      IMT_INTEGRATOR_ID: imtId,
      INGRESS_INTEGRATOR_ID: ingressId,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`ingress process exited with ${code}`)));
    child.on('message', (msg: { type: string; port?: number }) => {
      if (msg.type === 'listening' && msg.port) resolve(msg.port);
    });
  });
});

afterAll(async () => {
  child?.disconnect();
  await imt?.close();
});

describe('bill PDF pass-through', () => {
  it('passes a generated bill through byte for byte', async () => {
    const invoice = generateCycle(CYCLE).invoiceAt(0).invoice_number;
    const got = await download(invoice);
    expect(got.status).toBe(200);
    expect(got.type).toContain('application/pdf');
    const served = imt.servedPdfs().filter((p) => p.invoiceNumber === invoice);
    expect(served).toHaveLength(1);
    expect(got).toMatchObject({ sha256: served[0].sha256, bytes: served[0].bytes });
    expect(got.bytes).toBeGreaterThan(1000);
    expect((await download('999999999999')).status).toBe(404);
  });

  it('streams a 50 MB bill intact without growing the ingress by more than a few MB', async () => {
    const small = generateCycle(CYCLE).invoiceAt(1).invoice_number;
    const big = generateCycle(CYCLE).invoiceAt(2).invoice_number;
    // Warm the route, the IMT client and the sockets, so the baseline is the ingress at work.
    imt.padBillPdf(small, 2 * 1024 * 1024);
    for (let i = 0; i < 3; i += 1) expect((await download(small)).status).toBe(200);

    imt.padBillPdf(big, BIG);
    const before = await ask('mark');
    const liveBefore = await ask('live');
    let liveMidway: MemoryFigures | undefined;
    const got = await download(big, {
      at: BIG / 2,
      run: async () => {
        // The caller stops reading halfway: a streaming ingress stops reading from IMT too
        // (backpressure) and holds only socket and stream buffers; a buffering one goes on
        // reading the rest of the bill. Give it a moment to do either, then look.
        await new Promise((resolve) => setTimeout(resolve, 500));
        liveMidway = await ask('live');
      },
    });
    const peak = await ask('peak');

    const served = imt.servedPdfs().filter((p) => p.invoiceNumber === big);
    expect(served).toHaveLength(1);
    expect(got.status).toBe(200);
    expect(got.bytes).toBeGreaterThan(BIG);
    expect(got).toMatchObject({ sha256: served[0].sha256, bytes: served[0].bytes });

    const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
    const retained = {
      rss: liveMidway!.rss - liveBefore.rss,
      heapUsed: liveMidway!.heapUsed - liveBefore.heapUsed,
      arrayBuffers: liveMidway!.arrayBuffers - liveBefore.arrayBuffers,
    };
    const peakRss = peak.rss - before.rss;
    console.log(
      `[bill-pdf] ${mb(got.bytes)} through the ingress. Halfway, after a GC: RSS +${mb(retained.rss)}, ` +
        `heap +${mb(retained.heapUsed)}, buffers +${mb(retained.arrayBuffers)}. ` +
        `Peak RSS over the whole download, no forced GC: +${mb(peakRss)} (baseline ${mb(before.rss)})`,
    );
    // What the ingress holds while streaming (JS heap + buffers, after GC): a few MB, not the bill.
    expect(retained.arrayBuffers + retained.heapUsed).toBeLessThan(MAX_GROWTH);
    // RSS also counts chunks already sent that V8 has not collected yet (it collects external
    // memory in batches of tens of MB) and memory the allocator keeps after they are freed
    // (measured +20–26 MB at the peak): still below the bill's size, which a buffering
    // ingress adds at least once (a buffering variant measured +50 MB of buffers, +85 MB peak RSS).
    expect(retained.rss).toBeLessThan(BIG * 1.5);
    // RSS also moves with what else the machine runs (Node 24 under load: +55 MB halfway, +57 MB
    // at the peak): these bounds tell streaming from buffering (+85 MB and more), not a tight figure.
    expect(peakRss).toBeLessThan(BIG * 1.5);
  });
});
