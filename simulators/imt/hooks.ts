/**
 * IMT simulator: what happens to every partner call before and around its route — the
 * request log, the `X-Integrator-ID` check, and DRF-shaped answers for unknown routes and errors.
 * The `/_sim/...` control routes are neither logged nor authenticated.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { messageOf, secretMatches, sha256, statusOf } from '../http';
import { SIM_PREFIX, type ImtRequestLogEntry } from './types';

/** Keeps a long demo from growing the request log without bound. */
const MAX_REQUEST_LOG = 50_000;
const AUTH_FAILED = { detail: 'Authentication credentials were not provided or are invalid.' };
export const NOT_FOUND = { detail: 'Not found.' };

export function installRequestLog(app: FastifyInstance, log: ImtRequestLogEntry[]): void {
  const entries = new WeakMap<FastifyRequest, ImtRequestLogEntry>();
  app.addHook('onRequest', async (request) => {
    if (request.url.startsWith(SIM_PREFIX)) return;
    const entry = { method: request.method, path: request.url, status: 0, at: new Date().toISOString() };
    entries.set(request, entry);
    log.push(entry);
    if (log.length > MAX_REQUEST_LOG) log.splice(0, log.length - MAX_REQUEST_LOG);
  });
  app.addHook('onResponse', async (request, reply) => {
    const entry = entries.get(request);
    if (entry) entry.status = reply.statusCode;
  });
}

export function installAuth(app: FastifyInstance, integratorId: string): void {
  const expected = sha256(integratorId);
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith(SIM_PREFIX)) return;
    if (!secretMatches(request.headers['x-integrator-id'], expected))
      return reply.code(403).send(AUTH_FAILED);
  });
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((_request, reply) => reply.code(404).send(NOT_FOUND));
  app.setErrorHandler((err, request, reply) => {
    const status = statusOf(err);
    if (status < 500) return reply.code(status).send({ detail: messageOf(err) });
    request.log.error({ err }, 'IMT simulator error');
    return reply.code(500).send({ detail: 'A server error occurred.' });
  });
}
