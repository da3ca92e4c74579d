/**
 * The real ingress in a process of its own, for tests that measure the ingress's memory
 * (in the test process the simulators and the test itself would blur the figure).
 *
 * Started with `fork` (`--require tsx/cjs`); configured by environment variables; reports
 * `{ port }` once listening. It samples its own memory every 5 ms and answers the IPC
 * messages `mark` (start a new peak from now; replies with the current usage), `peak`
 * (replies with the highest RSS / heap seen since the last mark) and `live` (a full GC
 * first when started with --expose-gc, then the usage: what is actually retained).
 */
import { Client, Connection } from '@temporalio/client';
import { silentLogger } from '../../common/logger';
import { ImtClient } from '../../integrations/imt-client';
import { buildIngress } from '../../client/ingress/server';

export interface MemoryFigures {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

type Request = { type: 'mark' } | { type: 'peak' } | { type: 'live' };

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

async function main(): Promise<void> {
  const imt = new ImtClient({ baseUrl: required('IMT_URL'), integratorId: required('IMT_INTEGRATOR_ID') });
  const connection = Connection.lazy({ address: required('TEMPORAL_ADDRESS') });
  const app = buildIngress({
    client: new Client({ connection }),
    namespace: 'default',
    taskQueue: 'ingress-process-test',
    integratorId: required('INGRESS_INTEGRATOR_ID'),
    confirmWaitMs: 1000,
    logger: silentLogger,
    imt,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();

  const now = (): MemoryFigures => {
    const m = process.memoryUsage();
    return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
  };
  let peak = now();
  setInterval(() => {
    const m = now();
    peak = {
      rss: Math.max(peak.rss, m.rss),
      heapUsed: Math.max(peak.heapUsed, m.heapUsed),
      external: Math.max(peak.external, m.external),
      arrayBuffers: Math.max(peak.arrayBuffers, m.arrayBuffers),
    };
  }, 5).unref();
  process.on('message', (msg: Request) => {
    if (msg.type === 'mark') {
      peak = now();
      process.send?.({ type: 'mark', memory: peak });
    } else if (msg.type === 'peak') {
      process.send?.({ type: 'peak', memory: peak });
    } else if (msg.type === 'live') {
      // Two full GCs a moment apart: V8 frees ArrayBuffer backing stores on a background
      // thread after the first.
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      setTimeout(() => {
        gc?.();
        process.send?.({ type: 'live', memory: now() });
      }, 50);
    }
  });
  process.on('disconnect', () => {
    void app.close().finally(() => process.exit(0));
  });
  process.send?.({ type: 'listening', port: typeof addr === 'object' && addr ? addr.port : 0 });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
