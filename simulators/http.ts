/**
 * Small HTTP pieces both simulators (IMT and IC) need: the URL they listen on, the status of
 * a thrown error, and a comparison of secrets that does not leak through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Compares digests, so the time taken reveals neither how much of the secret matched nor its
 * length. `expectedDigest` is `sha256(secret)`, computed once.
 */
export function secretMatches(given: unknown, expectedDigest: Buffer): boolean {
  if (typeof given !== 'string') return false;
  return timingSafeEqual(sha256(given), expectedDigest);
}

/** The HTTP status Fastify attached to an error (bad JSON, too large…), else 500. */
export function statusOf(err: unknown): number {
  const code =
    typeof err === 'object' && err !== null ? (err as { statusCode?: unknown }).statusCode : undefined;
  return typeof code === 'number' ? code : 500;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `http://host:port` of a listening server; `name` says which simulator in the error. */
export function listenUrl(app: FastifyInstance, host: string, name: string): string {
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error(`${name} is not listening on TCP`);
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return `http://${hostPart}:${address.port}`;
}
