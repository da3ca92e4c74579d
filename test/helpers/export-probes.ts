/** Where a billing-cycle export shows: its workflow, its ExportStatus search attribute, its uploads to IC. */
import { SA, workflowIds } from '../../domain';
import type { Harness } from './harness';

/** `harness` is read at each call (test files assign theirs in beforeAll). */
export function exportProbes(harness: () => Harness) {
  const handleOf = (cycle: string) => harness().client.workflow.getHandle(workflowIds.export(cycle));
  return {
    handleOf,
    statusAttr: async (cycle: string) =>
      (await handleOf(cycle).describe()).typedSearchAttributes.get(SA.ExportStatus),
    uploadsOf: (cycle: string) =>
      harness()
        .ic!.uploads()
        .filter((u) => u.fileName.startsWith(`invoices_${cycle}_`)),
  };
}
