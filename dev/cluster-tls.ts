/**
 * mTLS for the local Temporal cluster (`npm run cluster -- --tls`, dev/cluster.ts): a CA, a
 * server certificate for 127.0.0.1 / localhost and a client certificate, made with openssl
 * under <dataDir>/temporal-cluster/tls on first use (kept across restarts; keys 0600). The
 * server requires a client certificate from that CA on its frontend; every client of the
 * service connects through the SDK's standard variables (`envconfigVariables`), exactly as
 * against a production mTLS cluster or Temporal Cloud.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface ClusterTls {
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** The name in the server certificate that clients verify. */
  serverName: string;
}

export const CLUSTER_SERVER_NAME = 'localhost';
const DAYS = '825';

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`openssl ${args[0]} failed: ${(r.stderr || r.stdout || '').trim().slice(-500)}`);
  }
}

/** The certificates under `dir`, made when missing. */
export function clusterCertificates(dir: string): ClusterTls {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = (name: string) => path.join(dir, name);
  const tls: ClusterTls = {
    caFile: f('ca.pem'),
    serverCertFile: f('server.pem'),
    serverKeyFile: f('server.key'),
    clientCertFile: f('client.pem'),
    clientKeyFile: f('client.key'),
    serverName: CLUSTER_SERVER_NAME,
  };
  if (Object.values(tls).every((v) => v === CLUSTER_SERVER_NAME || fs.existsSync(v))) return tls;

  openssl(['genrsa', '-out', 'ca.key', '2048'], dir);
  openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      'ca.key',
      '-sha256',
      '-days',
      DAYS,
      '-subj',
      '/CN=imt-ic local Temporal CA',
      '-out',
      'ca.pem',
    ],
    dir,
  );
  const issue = (name: string, subject: string, extensions: string) => {
    openssl(['genrsa', '-out', `${name}.key`, '2048'], dir);
    openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
    fs.writeFileSync(f(`${name}.ext`), extensions);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        DAYS,
        '-sha256',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.pem`,
      ],
      dir,
    );
    fs.rmSync(f(`${name}.csr`));
    fs.rmSync(f(`${name}.ext`));
  };
  issue(
    'server',
    `/CN=${CLUSTER_SERVER_NAME}`,
    `subjectAltName=DNS:${CLUSTER_SERVER_NAME},IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n`,
  );
  issue('client', '/CN=imt-ic', 'extendedKeyUsage=clientAuth\n');
  for (const key of ['ca.key', 'server.key', 'client.key']) fs.chmodSync(f(key), 0o600);
  return tls;
}

/** The server config's `global.tls`: mTLS on the frontend, and the system worker as its client. */
export function serverTlsConfig(tls: ClusterTls): Record<string, unknown> {
  const client = { serverName: tls.serverName, rootCaFiles: [tls.caFile] };
  return {
    frontend: {
      server: {
        certFile: tls.serverCertFile,
        keyFile: tls.serverKeyFile,
        requireClientAuth: true,
        clientCaFiles: [tls.caFile],
      },
      client,
    },
    systemWorker: { certFile: tls.clientCertFile, keyFile: tls.clientKeyFile, client },
    // The server re-reads the files: certificates rotate without a restart.
    refreshInterval: '1m',
  };
}

/** The SDK's standard variables (`@temporalio/envconfig`) a client of this cluster sets. */
export function envconfigVariables(tls: ClusterTls): Record<string, string> {
  return {
    TEMPORAL_TLS: 'true',
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: tls.caFile,
    TEMPORAL_TLS_CLIENT_CERT_PATH: tls.clientCertFile,
    TEMPORAL_TLS_CLIENT_KEY_PATH: tls.clientKeyFile,
    TEMPORAL_TLS_SERVER_NAME: tls.serverName,
  };
}
