/**
 * Per-client request budget of the ingress (fixed one-minute windows, keyed by the client's
 * address). Small on purpose: no timers, bounded memory, and the ingress's routes stay
 * registered synchronously (a Fastify rate-limit plugin would need awaiting before them).
 */
export class ClientRateLimiter {
  private windowStart = 0;
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly perWindow: number,
    private readonly windowMs = 60_000,
    /** Beyond this many distinct clients in one window, the rest share one budget. */
    private readonly maxClients = 10_000,
  ) {}

  /** Counts one request of `client`; returns the seconds to wait when over budget, else 0. */
  take(client: string, now = Date.now()): number {
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.counts.clear();
    }
    const key = this.counts.has(client) || this.counts.size < this.maxClients ? client : '*';
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    return n > this.perWindow ? Math.max(1, Math.ceil((this.windowStart + this.windowMs - now) / 1000)) : 0;
  }
}
