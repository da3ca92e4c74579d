/**
 * The Temporal UI as the operator console, checked in a real browser: a payment that IMT
 * refuses ends in NEEDS_ATTENTION; headless Chromium (Debian's, driven by playwright-core)
 * finds the run by its TransactionId search attribute, opens it and sees its summary and
 * status. Screenshots go to test-output/screenshots/; with UPDATE_SCREENSHOTS=1 they are
 * also copied to docs/screenshots/ for the README's "Operating the service" section.
 *
 * The UI needs a dev server started with it, so this file starts its own (in memory, on
 * free ports) instead of using the shared headless one from global-setup.
 *
 * Chromium: CHROMIUM_PATH or /usr/bin/chromium (`apt-get install -y chromium`; .ci/run
 * installs it). Missing → the test fails when CI is set, and is skipped otherwise.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer } from '../../dev/temporal-server';
import { workflowListUiUrl, workflowUiUrl } from '../../common/ui';
import { transactionSummary } from '../../client/ingress/payment';
import { PaymentStatus, SA, TRANSACTION_WORKFLOW_TYPE, workflowIds, type PaymentRequest } from '../../domain';
import { eventually, startHarness, type Harness } from '../helpers/harness';
import { freePort } from '../helpers/free-port';
import { seedPayment } from '../helpers/payments';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', // root in a container
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ROOT = path.resolve(__dirname, '../..');
const SHOTS = path.join(ROOT, 'test-output', 'screenshots');
const DOCS_SHOTS = path.join(ROOT, 'docs', 'screenshots');
/** Generous: the first page load compiles the UI's bundles in a cold browser. */
const UI_TIMEOUT_MS = 30_000;

const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) {
  throw new Error(
    `Chromium not found at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (as .ci/run does) or set CHROMIUM_PATH.`,
  );
}

describe.skipIf(!haveChromium)('Temporal UI (headless Chromium)', () => {
  let env: TestWorkflowEnvironment | undefined;
  let h: Harness | undefined;
  let browser: Browser | undefined;
  let uiBase = '';

  beforeAll(async () => {
    // As the harness does: the SDK logs every failed attempt at WARN, and this test fails one on purpose.
    // (The runtime must be installed before the dev server below creates the default one.)
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
    } catch {
      // A runtime exists already in this worker process.
    }
    const [port, uiPort] = [await freePort(), await freePort()];
    env = await startDevServer({ port, uiPort });
    uiBase = `http://127.0.0.1:${uiPort}`;
    h = await startHarness({
      name: 'ui',
      address: `127.0.0.1:${port}`,
      temporalUiUrl: uiBase,
      confirmWaitMs: 5000,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    fs.mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
    await env?.teardown();
  });

  async function shoot(page: Page, name: string, fullPage = false) {
    const file = path.join(SHOTS, `${name}.png`);
    await page.screenshot({ path: file, fullPage });
    return file;
  }

  const payment = (customer: string, method: PaymentRequest['payment_method'] = 'echeck'): PaymentRequest =>
    seedPayment(h!.imt, { customer, method });

  it('finds a NEEDS_ATTENTION payment by TransactionId and shows its summary and status', async () => {
    const harness = h!;
    // Some company for the parked run, so the list screenshot looks like a real day.
    for (const [customer, method] of [
      ['0406', 'echeck'],
      ['0512', 'credit'],
    ] as const) {
      expect(
        (await harness.http.post('/api/integration/invoice/post-payment', payment(customer, method))).status,
      ).toBe(201);
    }
    const parked = payment('0733');
    harness.imt.rejectPostsFor(parked.invoice_number, { invoice_number: ['Invoice is closed.'] });
    const res = await harness.http.post('/api/integration/invoice/post-payment', parked);
    expect(res.status).toBe(400);
    expect(res.data.status).toBe(PaymentStatus.NEEDS_ATTENTION);
    const workflowId = workflowIds.payment(parked.transaction_id);
    // Visibility (what the UI's list reads) is updated asynchronously from the run itself.
    await eventually(async () => {
      for await (const wf of harness.client.workflow.list({
        query: `TransactionId = '${parked.transaction_id}' AND PaymentStatus = 'NEEDS_ATTENTION'`,
      })) {
        return wf.typedSearchAttributes.get(SA.PaymentStatus) === PaymentStatus.NEEDS_ATTENTION;
      }
      return false;
    });

    const page = await browser!.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(UI_TIMEOUT_MS);

    // 1. The operator's search: the run by its TransactionId search attribute.
    const listUrl = workflowListUiUrl(uiBase, 'default', `TransactionId="${parked.transaction_id}"`)!;
    await page.goto(listUrl, { waitUntil: 'load' });
    const runLink = page.locator('a', { hasText: workflowId }).first();
    await runLink.waitFor();
    await expect(page.getByText(TRANSACTION_WORKFLOW_TYPE).first().isVisible()).resolves.toBe(true);
    await shoot(page, 'ui-find-by-transaction-id');

    // The operator's daily view: everything that needs a person.
    await page.goto(workflowListUiUrl(uiBase, 'default', `PaymentStatus="NEEDS_ATTENTION"`)!, {
      waitUntil: 'load',
    });
    await page.locator('a', { hasText: workflowId }).first().waitFor();
    await shoot(page, 'ui-needs-attention-list');

    // 2. Open the run: the static summary is on the start event.
    await page.goto(listUrl, { waitUntil: 'load' });
    await page.locator('a', { hasText: workflowId }).first().click();
    await page.waitForURL(/\/workflows\/payment-[^/]+\/[^/]+\/history/);
    const summary = transactionSummary({ kind: 'payment', payment: parked });
    expect(summary).toBe(`Transaction · invoice ${parked.invoice_number} · customer ${parked.customer}`);
    await page.getByText(summary).first().waitFor();
    await page.getByText(workflowId).first().waitFor();
    await shoot(page, 'ui-payment-run');

    // 3. Its status: the PaymentStatus search attribute.
    await page.getByRole('tab', { name: 'Search Attributes' }).first().click();
    await page.waitForURL(/\/search-attributes$/);
    await page.getByText('"PaymentStatus": "NEEDS_ATTENTION"').first().waitFor();
    const attributes = await page.locator('main').innerText();
    expect(attributes).toContain(`"TransactionId": "${parked.transaction_id}"`);
    expect(attributes).toContain(`"InvoiceNumber": "${parked.invoice_number}"`);
    // Minimal personal data: identifiers only — no names, addresses or credentials.
    expect(attributes).not.toContain(harness.ingressIntegratorId);
    expect(attributes).not.toContain(harness.imtIntegratorId);
    await shoot(page, 'ui-payment-search-attributes');

    // 4. The summary as user metadata (rendered by the UI in a sandboxed frame).
    await page.getByRole('tab', { name: 'User Metadata' }).first().click();
    await page.waitForURL(/\/user-metadata$/);
    await eventually(
      async () => {
        for (const frame of page.frames()) {
          const text = await frame
            .locator('body')
            .innerText({ timeout: 1000 })
            .catch(() => '');
          if (text.includes(summary)) return true;
        }
        return false;
      },
      UI_TIMEOUT_MS,
      250,
    );
    await shoot(page, 'ui-payment-summary');

    // The deep link the CLI, alerts and the status call print lands on the same run.
    await page.goto(workflowUiUrl(uiBase, 'default', workflowId)!, { waitUntil: 'load' });
    await page.getByText(workflowId).first().waitFor();
    expect(page.url()).toContain(`/workflows/${workflowId}`);
    await page.close();

    // Publish for the README ("Operating the service") when asked, so runs don't churn git.
    if (process.env.UPDATE_SCREENSHOTS === '1') {
      fs.mkdirSync(DOCS_SHOTS, { recursive: true });
      for (const name of fs.readdirSync(SHOTS).filter((f) => f.startsWith('ui-') && f.endsWith('.png'))) {
        fs.copyFileSync(path.join(SHOTS, name), path.join(DOCS_SHOTS, name));
      }
    }
    harness.imt.clearRejections();
  });
});
