/**
 * The Temporal UI shows decrypted payloads (issue 22), checked in headless Chromium: the dev
 * server's UI is pointed at the codec server (`--ui-codec-endpoint`), and the browser carries an
 * OIDC access token the way a UI behind single sign-on forwards its user's
 * (`TEMPORAL_CODEC_PASS_ACCESS_TOKEN`); the codec server verifies it against a local JWKS. The
 * payment's amount and message, ciphertext in Temporal, appear in clear on the run's page —
 * and stay hidden for a browser without a token. Screenshot: test-output/screenshots/.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { chromium, type Browser } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCodecServer } from '../../client/codec-server/server';
import { silentLogger } from '../../common/logger';
import { AesGcmPayloadCodec } from '../../common/payload-codec';
import { workflowUiUrl } from '../../common/ui';
import { startDevServer } from '../../dev/temporal-server';
import { workflowIds } from '../../domain';
import { startHarness, type Harness } from '../helpers/harness';
import { freePort } from '../helpers/free-port';
import { testPayloadKeyList } from '../helpers/payload-keys';
import { seedPayment, voidOf } from '../helpers/payments';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run', '--disable-sync'];
const SHOTS = path.resolve(__dirname, '../..', 'test-output', 'screenshots');
const UI_TIMEOUT_MS = 30_000;
const ISSUER = 'https://login.example.test/';
const AUDIENCE = 'temporal-ui';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`Chromium not found at ${CHROMIUM}`);

describe.skipIf(!haveChromium)('Temporal UI decodes through the codec server (headless Chromium)', () => {
  let env: TestWorkflowEnvironment | undefined;
  let h: Harness | undefined;
  let browser: Browser | undefined;
  let codec: FastifyInstance | undefined;
  let jwks: http.Server | undefined;
  let uiBase = '';
  let accessToken = '';

  beforeAll(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
    } catch {
      // A runtime exists already in this worker process.
    }
    const pair = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwks = http.createServer((_req, res) => res.end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((r) => jwks!.listen(0, '127.0.0.1', () => r()));
    accessToken = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('operator@example.test')
      .setExpirationTime('10m')
      .sign(pair.privateKey);

    const [port, uiPort, codecPort] = [await freePort(), await freePort(), await freePort()];
    uiBase = `http://127.0.0.1:${uiPort}`;
    codec = buildCodecServer({
      codec: new AesGcmPayloadCodec(testPayloadKeyList()),
      oidc: {
        jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`,
        issuer: ISSUER,
        audience: AUDIENCE,
      },
      uiOrigin: uiBase,
      logger: silentLogger,
    });
    await codec.listen({ port: codecPort, host: '127.0.0.1' });
    env = await startDevServer({ port, uiPort, uiCodecEndpoint: `http://127.0.0.1:${codecPort}` });
    h = await startHarness({ name: 'ui-codec', address: `127.0.0.1:${port}`, temporalUiUrl: uiBase });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    fs.mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
    await env?.teardown();
    await codec?.close();
    jwks?.close();
  });

  it('shows the payment’s amount and message in clear to a signed-in operator, ciphertext to others', async () => {
    const paid = { ...seedPayment(h!.imt, { amount: '731.19' }), message: 'Pay the spring bill, thanks' };
    expect((await h!.http.post('/api/integration/invoice/post-payment', paid)).status).toBe(201);
    // Voided, so the transaction's run completes: its result (the whole transaction, payment
    // included) is what the UI's workflow page shows in its Input and Results card.
    expect((await h!.http.post('/api/integration/invoice/void-payment', voidOf(paid))).status).toBe(201);
    await h!.client.workflow.getHandle(workflowIds.payment(paid.transaction_id)).result();
    const url = workflowUiUrl(uiBase, 'default', workflowIds.payment(paid.transaction_id))!;

    const signedIn = await browser!.newContext({
      viewport: { width: 1440, height: 1000 },
      extraHTTPHeaders: { Authorization: `Bearer ${accessToken}` },
    });
    const page = await signedIn.newPage();
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    await page.goto(url, { waitUntil: 'load' });
    await page.getByText('Pay the spring bill, thanks').first().waitFor();
    await expect(page.getByText('731.19').first().isVisible()).resolves.toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'ui-decoded-payment.png'), fullPage: true });
    await signedIn.close();

    const anonymous = await browser!.newContext({ viewport: { width: 1440, height: 1000 } });
    const other = await anonymous.newPage();
    other.setDefaultTimeout(UI_TIMEOUT_MS);
    await other.goto(url, { waitUntil: 'load' });
    await other.getByText(workflowIds.payment(paid.transaction_id)).first().waitFor();
    // The codec server refused it (401): the UI shows the stored ciphertext (base64 of binary/encrypted).
    await other.getByText(Buffer.from('binary/encrypted').toString('base64')).first().waitFor();
    await other.screenshot({ path: path.join(SHOTS, 'ui-undecoded-payment.png'), fullPage: true });
    const shown = await other.locator('body').innerText();
    expect(shown).not.toContain('Pay the spring bill');
    expect(shown).not.toContain('731.19');
    await anonymous.close();
  });
});
