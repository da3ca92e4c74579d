/**
 * Each pool's worker registers exactly the activities its task queue can receive
 * (activities/index.ts `createPoolActivities`): an activity missing from its pool would leave
 * a run's task unrunnable on that queue. An activity runs on its workflow's queue, so the
 * payments pool's are the ones the transaction run (workflows/transaction.ts, the only
 * workflow on the payments queue) calls, and the bulk pool's the ones every other workflow
 * calls. Read from the workflow sources, so a new call shows up here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createActivities, createPoolActivities, type ActivityDeps } from '../../activities';
import { silentLogger } from '../../common/logger';
import { ImtClient } from '../../integrations/imt-client';

const WORKFLOWS = path.join(__dirname, '..', '..', 'workflows');
/** The workflow modules whose runs are started on the payments queue. */
const PAYMENTS_WORKFLOW_FILES = ['transaction.ts'];

const deps: ActivityDeps = {
  imt: new ImtClient({ baseUrl: 'http://127.0.0.1:1', integratorId: 'unit' }),
  logger: silentLogger,
  dataDir: path.join(__dirname, 'never-written'),
  authRetryDelayMs: 1000,
};

const names = (o: object) => Object.keys(o).sort();
const source = (file: string) => fs.readFileSync(path.join(WORKFLOWS, file), 'utf8');
const mentions = (text: string, name: string) => new RegExp(`\\b${name}\\b`).test(text);

describe('activities by pool', () => {
  const payments = names(createPoolActivities(deps, 'payments'));
  const bulk = names(createPoolActivities(deps, 'bulk'));
  const all = names(createActivities(deps));

  it('splits every activity into exactly one pool', () => {
    expect(payments.filter((n) => bulk.includes(n))).toEqual([]);
    expect([...payments, ...bulk].sort()).toEqual(all);
  });

  it('gives the payments pool exactly what the transaction run calls', () => {
    const called = new Set<string>();
    for (const file of PAYMENTS_WORKFLOW_FILES) {
      // `const { postPayment, reversePayment } = proxyActivities<Activities>(...)`
      for (const m of source(file).matchAll(/const \{([^}]+)\}\s*=\s*proxyActivities/g))
        for (const part of m[1]!.split(',')) called.add(part.split(':')[0]!.trim());
    }
    expect(payments).toEqual([...called].sort());
    expect(payments).toEqual(['findImtTransaction', 'postPayment', 'reversePayment']);
  });

  it('gives the bulk pool what the other workflows call, and them nothing of the payments pool', () => {
    const bulkSources = fs
      .readdirSync(WORKFLOWS)
      .filter((f) => f.endsWith('.ts') && !PAYMENTS_WORKFLOW_FILES.includes(f))
      .map(source)
      .join('\n');
    const paymentsSources = PAYMENTS_WORKFLOW_FILES.map(source).join('\n');
    for (const name of bulk) {
      expect(mentions(bulkSources, name), `${name} is called by a bulk workflow`).toBe(true);
      expect(mentions(paymentsSources, name), `${name} is not called on the payments queue`).toBe(false);
    }
    for (const name of payments)
      expect(mentions(bulkSources, name), `${name} is not called on the bulk queue`).toBe(false);
  });
});
