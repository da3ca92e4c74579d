/**
 * A retry budget for IMT postings, per worker: how many postings failed in the last minute.
 * Few failures are one-offs, retried soon (30 s cap) whatever IMT answers other calls — a
 * quiet system with one unlucky payment is not an outage. Many failures are an outage: the
 * payment workflow keeps its long backoff (5-minute cap), so a partner that is down, or
 * Temporal the moment it is back, is never stormed. The budget bounds the quick retries:
 * at most `perMinute` failed postings per worker per minute are followed by a short wait.
 */
export const POSTING_RETRY_BUDGET_PER_MINUTE = 30;
const WINDOW_MS = 60_000;

export class RetryBudget {
  /** Times of the most recent failures, oldest first; never more than perMinute + 1. */
  private readonly failures: number[] = [];

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records one failure; true while the failures of the last minute, this one included, fit the budget. */
  spend(): boolean {
    const t = this.now();
    this.failures.push(t);
    // Only whether the count exceeds perMinute matters, so the newest perMinute + 1 suffice.
    while (this.failures.length > this.perMinute + 1) this.failures.shift();
    while (this.failures.length > 0 && this.failures[0] <= t - WINDOW_MS) this.failures.shift();
    return this.failures.length <= this.perMinute;
  }
}
