/**
 * Per-client request budget of the ingress: a one-minute window per client address, each
 * client with its own budget however many addresses call. Memory is bounded by keeping at most
 * `maxClients` windows, least recently seen evicted first — so a flood from many addresses can
 * only ever cost an evicted client a fresh budget, never lump it with anyone else. No timers;
 * the ingress's routes stay registered synchronously (a Fastify rate-limit plugin would need
 * awaiting before them).
 */
export class ClientRateLimiter {
  /** Insertion order = recency: a client seen again moves to the end. */
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly perWindow: number,
    private readonly windowMs = 60_000,
    private readonly maxClients = 100_000,
  ) {}

  /** Counts one request of `client`; returns the seconds to wait when over budget, else 0. */
  take(client: string, now = Date.now()): number {
    let w = this.windows.get(client);
    if (w) this.windows.delete(client);
    if (!w || now - w.start >= this.windowMs) w = { start: now, count: 0 };
    w.count += 1;
    this.windows.set(client, w);
    if (this.windows.size > this.maxClients) {
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
    return w.count > this.perWindow ? Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000)) : 0;
  }

  /** Clients with a window in memory (at most maxClients). */
  get size(): number {
    return this.windows.size;
  }
}
