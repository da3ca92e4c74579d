/**
 * One-shot job (docker-compose `temporal-namespace`, or by hand against any cluster): creates
 * the namespace with 90 days of retention and registers the search attributes of
 * domain/ids.ts — the same code the local cluster and the dev server use
 * (dev/namespace.ts), so the list exists once. Waits for the frontend to come up.
 * Uses TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and the SDK's TLS / API-key settings
 * (TEMPORAL_TLS_*, TEMPORAL_API_KEY, the profile file: common/temporal-connection.ts) like
 * every other process; payloads are not involved.
 */
import type { Connection } from '@temporalio/client';
import { connectTemporal, temporalConnectOptions } from '../common/temporal-connection';
import { ensureNamespace, ensureSearchAttributes, retentionDays } from '../dev/namespace';

export async function runSetupNamespace(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const address = env.TEMPORAL_ADDRESS?.trim();
  const namespace = env.TEMPORAL_NAMESPACE?.trim() || 'default';
  if (!address || !/^[\w.-]+:\d{1,5}$/.test(address)) {
    throw new Error('TEMPORAL_ADDRESS must be host:port, e.g. temporal:7233');
  }
  const options = temporalConnectOptions(address, { remote: true, env });
  const deadline = Date.now() + 120_000;
  let connection: Connection | undefined;
  while (!connection) {
    try {
      const c = await connectTemporal(options, { connectTimeout: '5 seconds' });
      await c.workflowService.getSystemInfo({});
      connection = c;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    await ensureNamespace(connection, namespace);
    await ensureSearchAttributes(connection, namespace);
    const days = await retentionDays(connection, namespace);
    process.stdout.write(
      `namespace ${namespace} on ${address}: retention ${days} days, search attributes registered\n`,
    );
  } finally {
    await connection.close();
  }
}
