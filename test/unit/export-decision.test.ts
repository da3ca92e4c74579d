/** An operator's approve / reject is taken only where a decision is awaited, and only once. */
import { describe, expect, it } from 'vitest';
import { ExportStatus, refuseExportDecision } from '../../domain';

describe('export decisions (the run’s update validator)', () => {
  const cases: [string, ExportStatus, { decision?: unknown; countDecision?: unknown }, boolean][] = [
    ['at the approval gate', ExportStatus.AWAITING_APPROVAL, {}, true],
    ['at the gate, already decided', ExportStatus.AWAITING_APPROVAL, { decision: {} }, false],
    ['on IC’s count mismatch', ExportStatus.NEEDS_ATTENTION, {}, true],
    ['on the mismatch, already decided', ExportStatus.NEEDS_ATTENTION, { countDecision: {} }, false],
    ['while extracting', ExportStatus.EXTRACTING, {}, false],
    ['once uploaded', ExportStatus.UPLOADED, {}, false],
  ];
  it.each(cases)('%s', (_name, status, taken, accepted) => {
    const refusal = refuseExportDecision('2022-09-01', status, taken);
    expect(refusal === undefined).toBe(accepted);
    if (!accepted) expect(refusal).toContain(`is ${status}`);
  });
});
