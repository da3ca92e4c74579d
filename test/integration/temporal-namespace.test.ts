/**
 * The namespace every Temporal server of the project gets (dev server and, with
 * TEST_TEMPORAL=cluster, the PostgreSQL cluster): 90 days of retention — an ACH return may
 * come 60 days after its payment — and the search attributes of domain/ids.ts.
 */
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { retentionDays } from '../../dev/namespace';
import { ALL_SEARCH_ATTRIBUTES } from '../../domain';

let connection: Connection;
beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
});
afterAll(async () => {
  await connection?.close();
});

describe(`namespace on the ${inject('temporalKind')}`, () => {
  it('keeps closed runs for 90 days', async () => {
    expect(await retentionDays(connection, 'default')).toBe(90);
  });

  it('has every search attribute the workflows set, as Keyword', async () => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({
      namespace: 'default',
    });
    for (const sa of ALL_SEARCH_ATTRIBUTES) expect(customAttributes?.[sa.name], sa.name).toBe(2); // KEYWORD
  });
});
