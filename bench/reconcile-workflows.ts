/**
 * Bench-only workflow bundle for bench/reconcile.ts (never part of workflows/index.ts):
 * a stand-in `paymentWorkflow` that completes at once, so 100,000 "posted payment" runs —
 * same workflow type, memo and search attributes as the real ones — can be seeded in
 * minutes. The reconciliation reads only visibility (memo, search attributes, close
 * time), which these runs carry exactly like real ones.
 */
export async function paymentWorkflow(): Promise<{ status: 'POSTED' }> {
  return { status: 'POSTED' };
}
