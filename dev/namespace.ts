/**
 * Namespace setup shared by the embedded dev server and the local PostgreSQL cluster: the
 * namespace with 90 days of retention and the project's search attributes
 * (domain/ids.ts is the one list).
 *
 * Why 90 days: an ACH return can arrive 60 days after its payment, and a redelivered payment
 * is deduplicated by its workflow ID only while the closed run is retained.
 */
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { ALL_SEARCH_ATTRIBUTES } from '../domain';

export const RETENTION = '2160h';
export const RETENTION_DAYS = 90;

const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

function grpcCode(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? Number(err.code) : undefined;
}
const ALREADY_EXISTS = 6;
const NOT_FOUND = 5;

/** Creates the namespace (or sets its retention when it exists) and waits until it answers. */
export async function ensureNamespace(connection: Connection, namespace: string): Promise<void> {
  const retention = msToTs(RETENTION);
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: retention,
      description: 'IMT ⇄ Invoice Cloud integration',
    });
  } catch (err) {
    if (grpcCode(err) !== ALREADY_EXISTS) throw err;
    await connection.workflowService.updateNamespace({
      namespace,
      config: { workflowExecutionRetentionTtl: retention },
    });
  }
  // A real server's frontend learns about a new namespace through its namespace cache.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await connection.workflowService.describeNamespace({ namespace });
      return;
    } catch (err) {
      if (grpcCode(err) !== NOT_FOUND || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Registers every search attribute of domain/ids.ts that the namespace lacks. */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set([
    ...Object.keys(existing.customAttributes ?? {}),
    ...Object.keys(existing.systemAttributes ?? {}),
  ]);
  const missing = ALL_SEARCH_ATTRIBUTES.filter((sa) => !known.has(sa.name));
  if (missing.length === 0) return;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((sa) => [sa.name, KEYWORD])),
  });
}

/** The namespace's retention in whole days (for checks and the startup banner). */
export async function retentionDays(connection: Connection, namespace: string): Promise<number> {
  const ns = await connection.workflowService.describeNamespace({ namespace });
  return Number(ns.config?.workflowExecutionRetentionTtl?.seconds ?? 0) / 86_400;
}
