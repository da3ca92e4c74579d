/**
 * Load shapes and the HTTP sender: a closed loop (N in flight), open-loop arrivals at a fixed
 * rate, and a keep-alive JSON POST with no client library in the way.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { sleep } from '../environment/measure';

/** Runs `task(0 … n-1)` with at most `concurrency` in flight. */
export async function closedLoop(
  n: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const runner = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, n)) }, runner));
}

/** Open-loop arrivals: task i is started at t0 + i/rate whatever the earlier ones are doing. */
export async function openLoop(
  n: number,
  ratePerSecond: number,
  task: (i: number) => Promise<void>,
): Promise<number> {
  const t0 = performance.now();
  const interval = 1000 / ratePerSecond;
  const running: Promise<void>[] = [];
  let maxLag = 0;
  for (let i = 0; i < n; i++) {
    const due = t0 + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    maxLag = Math.max(maxLag, performance.now() - due);
    running.push(task(i));
  }
  await Promise.all(running);
  return maxLag;
}

export interface HttpAnswer {
  status: number;
  body: string;
  /** Seconds from a `Retry-After` header (429 / 503), when there is one. */
  retryAfterS?: number;
}

export function postJson(
  agent: http.Agent,
  url: URL,
  headers: Record<string, string>,
  body: string,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          ...headers,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
        },
        timeout: 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        const retryAfter = Number(res.headers['retry-after']);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            retryAfterS: Number.isFinite(retryAfter) ? retryAfter : undefined,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out after 60 s')));
    req.on('error', reject);
    req.end(body);
  });
}
