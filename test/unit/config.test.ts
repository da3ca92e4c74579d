import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { CONFIG_VARIABLES, ConfigError, SECRET_VARIABLES, loadConfig } from '../../common/config';

const messageOf = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
};
const read = (file: string) => fs.readFileSync(path.resolve(__dirname, '../..', file), 'utf8');

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

  const realSystems = {
    IMT_INTEGRATOR_ID: 'imt-id',
    INGRESS_INTEGRATOR_ID: 'ingress-id',
    IC_BILLER_GUID: 'guid',
    IC_WEB_SERVICE_KEY: 'key',
  };

  it('refuses http:// for IMT and IC unless ALLOW_INSECURE_URLS=true, naming the variable', () => {
    const env = { ...realSystems, IMT_BASE_URL: 'http://imt.internal', IC_BASE_URL: 'http://ic.internal' };
    let message = '';
    try {
      loadConfig(env);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/IMT_BASE_URL: must be an https:\/\/ URL/);
    expect(message).toMatch(/IC_BASE_URL: must be an https:\/\/ URL/);
    expect(message).toContain('ALLOW_INSECURE_URLS=true');
    expect(loadConfig({ ...env, ALLOW_INSECURE_URLS: 'true' }).imt.baseUrl).toBe('http://imt.internal');
    expect(() => loadConfig({ ...env, IMT_BASE_URL: 'https://imt.example' })).toThrow(/IC_BASE_URL/);
    // The bundled simulators (URLs unset) are exempt.
    expect(loadConfig({}).embedded).toBe(true);
  });

  it('serves the ingress over TLS only with both files, and says which one is missing or unreadable', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-tls-'));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    fs.writeFileSync(cert, 'cert');
    fs.writeFileSync(key, 'key');
    expect(loadConfig({}).ingress.tls).toBeUndefined();
    expect(loadConfig({ INGRESS_TLS_CERT_FILE: cert, INGRESS_TLS_KEY_FILE: key }).ingress.tls).toEqual({
      certFile: cert,
      keyFile: key,
    });
    expect(() => loadConfig({ INGRESS_TLS_CERT_FILE: cert })).toThrow(
      /INGRESS_TLS_KEY_FILE is required when INGRESS_TLS_CERT_FILE is set/,
    );
    expect(() =>
      loadConfig({ INGRESS_TLS_CERT_FILE: cert, INGRESS_TLS_KEY_FILE: path.join(dir, 'missing.pem') }),
    ).toThrow(/INGRESS_TLS_KEY_FILE cannot be read \(.*missing\.pem: ENOENT\)/);
  });

  it('binds metrics to loopback by default, keeps export files 30 days and refuses plaintext payloads', () => {
    const c = loadConfig({});
    expect(c.metricsHost).toBe('127.0.0.1');
    expect(c.metricsPort).toBe(9464);
    expect(loadConfig({ METRICS_PORT: '0' }).metricsPort).toBe(0);
    expect(c.exportFileRetentionDays).toBe(30);
    expect(c.allowPlaintextPayloads).toBe(false);
    expect(loadConfig({ PAYLOAD_ALLOW_PLAINTEXT: 'true' }).allowPlaintextPayloads).toBe(true);
  });

  it('asks each process only for its own secrets: no ingress credential for a worker, no IC key for an ingress', () => {
    const urls = { IMT_BASE_URL: 'https://imt.example', IC_BASE_URL: 'https://ic.example' };
    const worker = loadConfig(
      { ...urls, IMT_INTEGRATOR_ID: 'imt', IC_BILLER_GUID: 'g', IC_WEB_SERVICE_KEY: 'k' },
      'worker',
    );
    expect(worker.ingress.integratorId).toBeUndefined();
    const ingress = loadConfig(
      { ...urls, IMT_INTEGRATOR_ID: 'imt', INGRESS_INTEGRATOR_ID: 'in', IC_BILLER_GUID: 'g' },
      'ingress',
    );
    expect(ingress.ic.webServiceKey).toBeUndefined();
    // The all-in-one process still needs everything.
    expect(() =>
      loadConfig({ ...urls, IMT_INTEGRATOR_ID: 'imt', IC_BILLER_GUID: 'g', IC_WEB_SERVICE_KEY: 'k' }),
    ).toThrow(/INGRESS_INTEGRATOR_ID/);
  });

  it('names malformed variables and the ones another variable makes required in the same message', () => {
    const message = messageOf({
      IMT_BASE_URL: 'https://billingtest.imtapps.com',
      LOG_LEVEL: 'loud',
      IC_BASE_URL: 'ftp://x',
    });
    expect(message).toMatch(/LOG_LEVEL: must be one of/);
    expect(message).toMatch(/IC_BASE_URL: must/);
    expect(message).toMatch(/IMT_INTEGRATOR_ID .*is required when IMT_BASE_URL is set/);
    expect(message).toMatch(/IC_BILLER_GUID is required when IC_BASE_URL is set/);
    expect(message).toMatch(/INGRESS_INTEGRATOR_ID .*is required/);
  });

  it('refuses a real IC with the IMT simulator (and the reverse) unless ALLOW_ONE_SIMULATOR=true', () => {
    const realIc = {
      IC_BASE_URL: 'https://www.invoicecloud.com',
      IC_BILLER_GUID: 'guid',
      IC_WEB_SERVICE_KEY: 'key',
      INGRESS_INTEGRATOR_ID: 'in',
    };
    expect(messageOf(realIc)).toMatch(
      /IMT_BASE_URL: must be set when IC_BASE_URL is .*post into the bundled IMT simulator.*ALLOW_ONE_SIMULATOR=true/,
    );
    const realImt = {
      IMT_BASE_URL: 'https://billingtest.imtapps.com',
      IMT_INTEGRATOR_ID: 'id',
      INGRESS_INTEGRATOR_ID: 'in',
    };
    expect(messageOf(realImt)).toMatch(/IC_BASE_URL: must be set when IMT_BASE_URL is/);
    expect(loadConfig({ ...realIc, ALLOW_ONE_SIMULATOR: 'true' }).ic.baseUrl).toBe(
      'https://www.invoicecloud.com',
    );
    expect(loadConfig({ ...realImt, ALLOW_ONE_SIMULATOR: 'true' }).imt.baseUrl).toBe(
      'https://billingtest.imtapps.com',
    );
    expect(messageOf({ ...realImt, ALLOW_ONE_SIMULATOR: 'sure' })).toMatch(
      /ALLOW_ONE_SIMULATOR: must be true or false/,
    );
  });

  it('checks every time-zone variable against the IANA database (Intl)', () => {
    expect(loadConfig({ EXPORT_SCHEDULE_TIMEZONE: 'Europe/Paris' }).export.scheduleTimeZone).toBe(
      'Europe/Paris',
    );
    const message = messageOf({ EXPORT_SCHEDULE_TIMEZONE: 'Chicago', BILLER_TIME_ZONE: 'CST6CDT7' });
    expect(message).toMatch(/EXPORT_SCHEDULE_TIMEZONE: must be an IANA time zone/);
    expect(message).toMatch(/BILLER_TIME_ZONE: must be an IANA time zone/);
  });

  it('documents every variable (README table, .env.example) and compose passes each one the service reads there', () => {
    const readme = read('README.md');
    const table = readme.slice(
      readme.indexOf('## Configuration'),
      readme.indexOf('\n## ', readme.indexOf('## Configuration') + 5),
    );
    const example = read('.env.example');
    const compose = YAML.parse(read('docker-compose.yml'), { merge: true }) as {
      'x-temporal-env': Record<string, string>;
      services: Record<string, { environment?: Record<string, string> }>;
    };
    const passed = new Set([
      ...Object.keys(compose['x-temporal-env']),
      ...Object.keys(compose.services['worker-payments'].environment ?? {}),
      ...Object.keys(compose.services['worker-bulk'].environment ?? {}),
      ...Object.keys(compose.services.ingress.environment ?? {}),
    ]);
    // Set by the image (Dockerfile ENV) or only meaningful for the embedded parts compose does not run.
    const notInCompose = new Set([
      'DATA_DIR',
      'WORKFLOW_BUNDLE_PATH',
      'TEMPORAL_PORT',
      'TEMPORAL_UI_PORT',
      'IMT_SIMULATOR_PORT',
      'IC_SIMULATOR_PORT',
    ]);
    for (const name of [...CONFIG_VARIABLES, ...SECRET_VARIABLES]) {
      expect(table, `README configuration table lacks ${name}`).toContain(`\`${name}\``);
      expect(example, `.env.example lacks ${name}`).toMatch(new RegExp(`^${name}=`, 'm'));
      // Secrets reach the services as files (Docker secrets, `<NAME>_FILE`).
      if (!notInCompose.has(name))
        expect(
          passed.has(name) || passed.has(`${name}_FILE`),
          `docker-compose.yml does not pass ${name}`,
        ).toBe(true);
    }
  });
});
