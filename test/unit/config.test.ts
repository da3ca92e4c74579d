import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../common/config';

describe('configuration (contracts A)', () => {
  it('defaults to the embedded stack', () => {
    const c = loadConfig({});
    expect(c.embedded).toBe(true);
    expect(c.temporal).toMatchObject({ address: undefined, namespace: 'default', taskQueue: 'imt-ic' });
    expect(c.ingress.port).toBe(3000);
    expect(c.dataDir).toBe(path.resolve('./.data'));
    expect(c.logLevel).toBe('info');
  });

  it('names every bad variable at once and never echoes a secret', () => {
    const secret = 'super-secret-value-123';
    let error: unknown;
    try {
      loadConfig({
        IMT_BASE_URL: 'not a url',
        INGRESS_PORT: '99999',
        LOG_LEVEL: secret,
        IC_BASE_URL: 'https://ic.example',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['IMT_BASE_URL', 'INGRESS_PORT', 'LOG_LEVEL']) expect(message).toContain(name);
    expect(message).not.toContain(secret);
  });

  it('requires credentials with real URLs, and reads *_FILE secrets', () => {
    expect(() => loadConfig({ IMT_BASE_URL: 'https://billingtest.imtapps.com' })).toThrow(
      /IMT_INTEGRATOR_ID.*INGRESS_INTEGRATOR_ID/s,
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    fs.writeFileSync(path.join(dir, 'imt'), 'from-file-id\n');
    const c = loadConfig({
      IMT_BASE_URL: 'https://billingtest.imtapps.com/',
      IMT_INTEGRATOR_ID_FILE: path.join(dir, 'imt'),
      INGRESS_INTEGRATOR_ID: 'ingress-id',
      IC_BASE_URL: 'https://www.invoicecloud.com',
      IC_BILLER_GUID: 'guid',
      IC_WEB_SERVICE_KEY: 'key',
    });
    expect(c.imt).toMatchObject({ baseUrl: 'https://billingtest.imtapps.com', integratorId: 'from-file-id' });
    expect(c.embedded).toBe(false);
  });

  it('treats blank values (a copied .env.example) as unset', () => {
    expect(loadConfig({ IMT_BASE_URL: '', IMT_INTEGRATOR_ID: ' ', ALERT_WEBHOOK_URL: '' }).embedded).toBe(
      true,
    );
  });

  it('reads the biller’s time zone (reconciliation days) and rejects an unknown one', () => {
    expect(loadConfig({}).biller.timeZone).toBe('America/Chicago');
    expect(loadConfig({ BILLER_TIME_ZONE: 'America/New_York' }).biller.timeZone).toBe('America/New_York');
    expect(() => loadConfig({ BILLER_TIME_ZONE: 'Mars/Olympus' })).toThrow(
      /BILLER_TIME_ZONE: must be an IANA time zone/,
    );
  });
});
