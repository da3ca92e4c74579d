/**
 * Connection options from the SDK's standard environment configuration
 * (@temporalio/envconfig) — for a configured cluster only.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TemporalSettingsError, temporalConnectOptions } from '../../common/temporal-connection';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imt-ic-envconfig-'));
const file = (name: string, text: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// No profile file of whoever runs the tests.
const base = { HOME: dir, TEMPORAL_CONFIG_FILE: path.join(dir, 'none.toml') };

describe('temporalConnectOptions', () => {
  it('leaves a local server plain, whatever TEMPORAL_* says', () => {
    expect(
      temporalConnectOptions('127.0.0.1:7233', {
        remote: false,
        env: { ...base, TEMPORAL_API_KEY: 'k-123' },
      }),
    ).toEqual({ address: '127.0.0.1:7233' });
  });

  it('an API key (Temporal Cloud) turns TLS on', () => {
    const o = temporalConnectOptions('ns.acct.tmprl.cloud:7233', {
      remote: true,
      env: { ...base, TEMPORAL_API_KEY: 'k-123' },
    });
    expect(o).toMatchObject({ address: 'ns.acct.tmprl.cloud:7233', apiKey: 'k-123', tls: true });
  });

  it('mTLS: CA, client certificate and key, server name from TEMPORAL_TLS_*', () => {
    const o = temporalConnectOptions('temporal.internal:7233', {
      remote: true,
      env: {
        ...base,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('ca.pem', 'CA PEM'),
        TEMPORAL_TLS_CLIENT_CERT_PATH: file('client.pem', 'CERT PEM'),
        TEMPORAL_TLS_CLIENT_KEY_PATH: file('client.key', 'KEY PEM'),
        TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      },
    });
    expect(o.address).toBe('temporal.internal:7233');
    const tls = o.tls as {
      serverNameOverride?: string;
      serverRootCACertificate?: Uint8Array;
      clientCertPair?: { crt: Uint8Array; key: Uint8Array };
    };
    expect(tls.serverNameOverride).toBe('temporal.internal');
    expect(Buffer.from(tls.serverRootCACertificate ?? []).toString()).toBe('CA PEM');
    expect(Buffer.from(tls.clientCertPair?.crt ?? []).toString()).toBe('CERT PEM');
    expect(Buffer.from(tls.clientCertPair?.key ?? []).toString()).toBe('KEY PEM');
  });

  it('reads the profile file, but the address stays the one contracts A resolved', () => {
    const toml = file(
      'temporal.toml',
      '[profile.prod]\naddress = "elsewhere:7233"\napi_key = "from-profile"\n',
    );
    const o = temporalConnectOptions('temporal:7233', {
      remote: true,
      env: { ...base, TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'prod' },
    });
    expect(o).toMatchObject({ address: 'temporal:7233', apiKey: 'from-profile', tls: true });
  });

  it('an unreadable certificate is a clear settings error', () => {
    expect(() =>
      temporalConnectOptions('t:7233', {
        remote: true,
        env: { ...base, TEMPORAL_TLS_SERVER_CA_CERT_PATH: path.join(dir, 'missing.pem') },
      }),
    ).toThrow(TemporalSettingsError);
  });
});
