/**
 * `node lib/simulators/main.js` — the IMT and IC simulators as a service of their own (the
 * docker-compose `simulators` profile: a rehearsal of the production layout without touching
 * IMT or IC). Credentials come from the same variables the service sends, so the worker's
 * configuration is unchanged: IMT_INTEGRATOR_ID, IC_BILLER_GUID, IC_WEB_SERVICE_KEY (or _FILE).
 */
import { readSecret } from '../common/secrets';
import { startImtSimulator } from './imt/server';
import { startIcSimulator } from './ic/server';
import type { CycleOptions } from './imt/dataset';

async function main(): Promise<void> {
  const env = process.env;
  const need = (name: string) => {
    const r = readSecret(env, name);
    if (r.error || !r.value) throw new Error(r.error ?? `${name} (or ${name}_FILE) is required`);
    return r.value;
  };
  const host = env.SIMULATORS_HOST?.trim() || '0.0.0.0';
  const imt = await startImtSimulator({
    host,
    port: Number(env.IMT_SIMULATOR_PORT || 4010),
    integratorId: need('IMT_INTEGRATOR_ID'),
    cycles: cyclesFromEnv(env.SIM_CYCLES),
  });
  const billerGuid = env.IC_BILLER_GUID?.trim();
  if (!billerGuid) throw new Error('IC_BILLER_GUID is required');
  const ic = await startIcSimulator({
    host,
    port: Number(env.IC_SIMULATOR_PORT || 4020),
    billerGuid,
    webServiceKey: need('IC_WEB_SERVICE_KEY'),
  });
  process.stdout.write(`IMT simulator ${imt.url} · IC simulator ${ic.url}\n`);
  const stop = () => void Promise.all([imt.close(), ic.close()]).then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/**
 * SIM_CYCLES=`<YYYY-MM-01>:<count>[,…]` (seed 42, every 10th invoice invalid) sizes the
 * generated cycles, e.g. the chaos run's 20,000-invoice export; unset → one cycle of 25.
 */
function cyclesFromEnv(text: string | undefined): CycleOptions[] {
  if (!text?.trim()) return [{ seed: 42, invoiceMonth: '2022-09-01', count: 25, invalidEvery: 10 }];
  return text.split(',').map((item, i) => {
    const match = /^(\d{4}-\d{2}-01):(\d+)$/.exec(item.trim());
    if (!match) throw new Error(`SIM_CYCLES: "${item}" must be <YYYY-MM-01>:<count>`);
    return { seed: 42 + i, invoiceMonth: match[1], count: Number(match[2]), invalidEvery: 10 };
  });
}

main().catch((err) => {
  process.stderr.write(`simulators failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
