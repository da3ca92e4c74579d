/**
 * TLS to Temporal, proven (issue 22), in the cluster run: a local PostgreSQL-backed cluster
 * with mTLS on its frontend (`npm run cluster -- --tls`: dev/cluster.ts, dev/cluster-tls.ts).
 * The service's own connection code (common/temporal-connection.ts, the SDK's TEMPORAL_TLS_*
 * variables) reaches it with the client certificate — client and worker connections, and
 * `imt-ic setup-namespace` — and a client without the certificate, or without TLS, is refused.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runSetupNamespace } from '../../app/setup-namespace';
import {
  connectTemporal,
  connectWorkerToTemporal,
  temporalConnectOptions,
} from '../../common/temporal-connection';
import { retentionDays } from '../../dev/namespace';
import { startCluster, type LocalCluster } from '../../dev/cluster';

const onCluster = inject('temporalKind') === 'cluster';
let cluster: LocalCluster | undefined;
let dataDir: string;

beforeAll(async () => {
  if (!onCluster) return;
  // Under /tmp, reachable by the PostgreSQL user when the tests run as root.
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imt-ic-mtls-'));
  fs.chmodSync(dataDir, 0o755);
  cluster = await startCluster({ dataDir, port: 0, tls: true, log: () => undefined });
});
afterAll(async () => {
  await cluster?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe.skipIf(!onCluster)('mTLS to the local Temporal cluster', () => {
  const options = (env: Record<string, string>) =>
    temporalConnectOptions(cluster!.address, { remote: true, env: { ...env, HOME: dataDir } });

  it('connects clients, workers and setup-namespace with the client certificate', async () => {
    const env = cluster!.tls!.env;
    const client = await connectTemporal(options(env), { connectTimeout: '10 seconds' });
    try {
      const info = await client.workflowService.getSystemInfo({});
      expect(info.serverVersion).toBeTruthy();
      const worker = await connectWorkerToTemporal(options(env));
      await worker.close();
      await runSetupNamespace({
        ...env,
        HOME: dataDir,
        TEMPORAL_ADDRESS: cluster!.address,
        TEMPORAL_NAMESPACE: 'mtls',
      });
      expect(await retentionDays(client, 'mtls')).toBe(90);
    } finally {
      await client.close();
    }
  });

  it('refuses a client without the client certificate, and one without TLS', async () => {
    const { TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH, ...caOnly } = cluster!.tls!.env;
    expect(TEMPORAL_TLS_CLIENT_CERT_PATH && TEMPORAL_TLS_CLIENT_KEY_PATH).toBeTruthy();
    const attempt = async (env: Record<string, string>, remote: boolean) => {
      const opts = remote ? options(env) : { address: cluster!.address };
      const c = await connectTemporal(opts, { connectTimeout: '3 seconds' });
      try {
        await c.workflowService.getSystemInfo({});
      } finally {
        await c.close();
      }
    };
    await expect(attempt(caOnly, true)).rejects.toThrow();
    await expect(attempt({}, false)).rejects.toThrow();
  });
});
