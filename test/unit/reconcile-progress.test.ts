import { describe, expect, it } from 'vitest';
import { reconcileProgressLine } from '../../client/cli/reconcile-commands';

describe('reconcileProgressLine (what `imt-ic reconcile` draws on a terminal)', () => {
  const base = { serviceRunsListed: 12_345, imtPages: 0, imtCount: null };
  it.each([
    [
      { ...base, phase: 'listing-service' as const },
      "reconciling 2022-10-03: listing the service's runs · 12,345 service runs listed",
    ],
    [
      { ...base, phase: 'listing-imt' as const, imtPages: 12, imtCount: 100_000 },
      "reconciling 2022-10-03: reading IMT's payments, page 12 (IMT lists 100,000 payments) · 12,345 service runs listed",
    ],
    [
      { ...base, phase: 'listing-imt' as const, imtPages: 1 },
      "reconciling 2022-10-03: reading IMT's payments, page 1 · 12,345 service runs listed",
    ],
    [
      { ...base, phase: 'comparing' as const },
      'reconciling 2022-10-03: comparing both sides by transaction ID · 12,345 service runs listed',
    ],
    [
      { ...base, phase: 'writing' as const, attempt: 2, lastFailure: 'IMT answered 503' },
      'reconciling 2022-10-03: writing the report · attempt 2: IMT answered 503',
    ],
  ])('%j', (progress, line) => {
    expect(reconcileProgressLine('2022-10-03', progress)).toBe(line);
  });
});
