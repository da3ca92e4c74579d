/**
 * Security hygiene of the ingress: unmatched paths never mint metric series, each client has
 * a request budget (429 + Retry-After beyond it, /healthz included), and a failed authentication is logged
 * without the value that was presented.
 */
import { Writable } from 'node:stream';
import axios from 'axios';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../app/metrics';
import { startHarness, type Harness } from '../helpers/harness';

let h: Harness;
let metrics: ReturnType<typeof createMetrics>;
const logLines: string[] = [];
const RATE = 40;

beforeAll(async () => {
  metrics = createMetrics();
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  h = await startHarness({
    name: 'ingress-hygiene',
    ingressHooks: metrics.ingressHooks,
    rateLimitPerMinute: RATE,
    ingressLogger: pino({ level: 'info' }, sink),
  });
});
afterAll(async () => {
  await h?.stop();
});

const scrape = () => metrics.scrape();
/** The service's own series (name and labels, no values), without Node's process metrics. */
const serviceSeries = (text: string) =>
  text
    .split('\n')
    .filter((l) => l && !l.startsWith('#') && !/^imt_ic_(nodejs|process)_/.test(l))
    .map((l) => l.replace(/ [^ ]+$/, ''))
    .sort();
const raw = (path: string, headers: Record<string, string> = {}) =>
  axios.get(`${h.ingressUrl}${path}`, { headers, validateStatus: () => true });

describe('ingress hygiene', () => {
  it('junk requests to unknown paths add no metric series; a failed auth is logged without the presented value', async () => {
    const junkPaths = (tag: string) =>
      Array.from({ length: 15 }, (_, i) => `/junk-${tag}${i}-${Math.random().toString(36).slice(2)}`);
    const presented = 'a-real-looking-credential-0123456789';
    const send = async (paths: string[]) => {
      for (const p of paths) expect((await raw(p, { 'X-Integrator-ID': presented })).status).toBe(403);
    };
    const first = junkPaths('a');
    await send(first);
    const mid = await scrape();
    const second = junkPaths('b');
    await send(second);
    const after = await scrape();
    for (const p of [...first, ...second]) expect(after).not.toContain(p.slice(1));
    // The first junk created the one `unmatched` label's series; more junk adds none. Node's
    // own series (active handles by type, GC by kind) come and go by themselves: not counted.
    expect(after).toContain('call="unmatched"');
    expect(serviceSeries(after)).toEqual(serviceSeries(mid));
    const junk = [...first, ...second];

    const rejected = logLines.filter((l) => l.includes('without the right X-Integrator-ID'));
    expect(rejected.length).toBe(junk.length);
    expect(logLines.join('')).not.toContain(presented);
    expect(rejected[0]).toContain('"header":"wrong"');
  });

  it('answers 429 with Retry-After once a client exceeds its budget; /healthz counts too (issue 22)', async () => {
    const answers = [];
    for (let i = 0; i < RATE + 5; i++) {
      answers.push(
        await raw('/api/integration/payments/T-none', { 'X-Integrator-ID': h.ingressIntegratorId }),
      );
    }
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(Number(limited[0].headers['retry-after'])).toBeGreaterThan(0);
    // The unauthenticated probe is no way around the budget.
    expect((await raw('/healthz')).status).toBe(429);
  });
});
