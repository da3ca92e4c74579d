/**
 * Bench-only workflow bundle for bench/reconcile.ts (never part of workflows/index.ts):
 * a stand-in `transactionWorkflow` that completes at once, so 100,000 "posted payment" runs —
 * same workflow type, memo and search attributes as the real ones — can be seeded in
 * minutes. The reconciliation reads only visibility (memo, search attributes, start time),
 * which these runs carry exactly like real ones (a real run stays open, asleep, after
 * posting; open or closed, it is listed the same).
 */
export async function transactionWorkflow(): Promise<{ status: 'POSTED' }> {
  return { status: 'POSTED' };
}
