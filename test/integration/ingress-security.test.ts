/**
 * The ingress is safe to expose (issue 22): HTTPS only with TLS 1.2+ and a certificate that
 * rotates without a restart (on change or SIGHUP); slow or piled-up sockets are closed;
 * /healthz answers from a cached, deadlined check and is rate-limited; /metrics is not on the
 * ingress's port; every path parameter is validated before anything reaches IMT. Certificates
 * are made here with openssl; Temporal, the worker and the IMT simulator are the real ones.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Client, Connection } from '@temporalio/client';
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../common/logger';
import { buildIngress, type IngressOptions } from '../../client/ingress/server';
import { startHarness, eventually, type Harness } from '../helpers/harness';

let h: Harness;
let dir: string;
const opened: FastifyInstance[] = [];

/** One RSA key for every certificate: same-length certificates, so only SIGHUP can tell them apart. */
function makeCertificate(name: string, serial: number): { cert: Buffer; key: Buffer } {
  const key = path.join(dir, 'key.pem');
  if (!fs.existsSync(key)) execFileSync('openssl', ['genrsa', '-out', key, '2048'], { stdio: 'ignore' });
  const cert = path.join(dir, `${name}.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-key',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-set_serial',
      String(serial),
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return { cert: fs.readFileSync(cert), key: fs.readFileSync(key) };
}

const fingerprintOf = (pem: Buffer) => new X509Certificate(pem).fingerprint256;

async function listen(opts: Partial<IngressOptions>): Promise<{ app: FastifyInstance; port: number }> {
  const app = buildIngress({
    client: h.client,
    namespace: h.namespace,
    taskQueue: h.taskQueue,
    integratorId: h.ingressIntegratorId,
    confirmWaitMs: 1000,
    logger: silentLogger,
    imt: h.deps.imt,
    ...opts,
  });
  opened.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  return { app, port: typeof addr === 'object' && addr ? addr.port : 0 };
}

/** The certificate the server presents, and the TLS version agreed (or the handshake's error). */
function handshake(
  port: number,
  opts: tls.ConnectionOptions = {},
): Promise<{ fingerprint: string; protocol: string | null }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts }, () => {
      const peer = socket.getPeerX509Certificate();
      resolve({ fingerprint: peer?.fingerprint256 ?? '', protocol: socket.getProtocol() });
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** GET with the path sent exactly as written (a URL string would have `..` normalised away). */
function get(url: string, opts: https.RequestOptions = {}): Promise<{ status: number; body: string }> {
  const [, scheme, port, rawPath] = /^(https?):\/\/127\.0\.0\.1:(\d+)(\/.*)$/.exec(url) ?? [];
  const lib = scheme === 'https' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get({ host: '127.0.0.1', port: Number(port), path: rawPath, ...opts }, (res) => {
      let body = '';
      res.on('data', (d) => (body += String(d)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once('error', reject);
  });
}

beforeAll(async () => {
  h = await startHarness({ name: 'ingress-security' });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingress-tls-'));
});
afterAll(async () => {
  for (const app of opened) await app.close();
  await h?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('TLS at the ingress', () => {
  it('serves HTTPS only, TLS 1.2 or newer, with the configured certificate', async () => {
    const first = makeCertificate('cert-1', 1);
    fs.writeFileSync(path.join(dir, 'tls.crt'), first.cert);
    fs.writeFileSync(path.join(dir, 'tls.key'), first.key);
    const { port } = await listen({
      tls: { certFile: path.join(dir, 'tls.crt'), keyFile: path.join(dir, 'tls.key') },
    });
    // A real call, verified against the certificate as CA.
    const health = await get(`https://127.0.0.1:${port}/healthz`, { ca: first.cert });
    expect(health.status).toBe(200);
    const forbidden = await get(`https://127.0.0.1:${port}/api/integration/payments/T1`, { ca: first.cert });
    expect(forbidden.status).toBe(403);
    // Plain HTTP on the same port gets no answer.
    await expect(get(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    expect((await handshake(port, { maxVersion: 'TLSv1.2' })).protocol).toBe('TLSv1.2');
    await expect(
      handshake(port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
    ).rejects.toThrow(/protocol|version|alert/i);
  });

  it('rotates the certificate without a restart: when the files change, and on SIGHUP', async () => {
    const certFile = path.join(dir, 'rotating.crt');
    const keyFile = path.join(dir, 'rotating.key');
    const one = makeCertificate('rot-1', 11);
    fs.writeFileSync(certFile, one.cert);
    fs.writeFileSync(keyFile, one.key);
    const { port } = await listen({ tls: { certFile, keyFile } });
    expect((await handshake(port)).fingerprint).toBe(fingerprintOf(one.cert));

    // 1. The file changes (as a certificate manager renews it).
    const two = makeCertificate('rot-2', 12);
    fs.writeFileSync(certFile, two.cert);
    await eventually(async () => (await handshake(port)).fingerprint === fingerprintOf(two.cert));

    // 2. Same size, same inode, same modification time: only SIGHUP can tell.
    const three = makeCertificate('rot-3', 13);
    expect(three.cert.length).toBe(two.cert.length);
    const before = fs.statSync(certFile);
    fs.writeFileSync(certFile, three.cert);
    fs.utimesSync(certFile, before.atime, before.mtime);
    expect((await handshake(port)).fingerprint).toBe(fingerprintOf(two.cert));
    process.kill(process.pid, 'SIGHUP');
    await eventually(async () => (await handshake(port)).fingerprint === fingerprintOf(three.cert));

    // A broken pair keeps the previous certificate in service.
    fs.writeFileSync(certFile, 'not a certificate');
    process.kill(process.pid, 'SIGHUP');
    await new Promise((r) => setImmediate(r));
    expect((await handshake(port)).fingerprint).toBe(fingerprintOf(three.cert));
  });
});

/** Opens a socket and sends `head`, then one byte of body every 100 ms until the server closes it. */
function trickle(port: number, head: string): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
    const timer = setInterval(() => socket.writable && socket.write('x'), 100);
    socket.on('data', (d) => (answer += String(d)));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve(answer);
    });
  });
}

describe('no cheap denial of service', () => {
  const limits = { requestTimeoutMs: 600, headersTimeoutMs: 400, checkIntervalMs: 100 };

  // The sockets closing is the assertion: on a server without these limits the test times out.
  it(
    'closes a socket that trickles its body or its headers, authenticated or not',
    { timeout: 20_000 },
    async () => {
      const { port } = await listen({ limits });
      const body = (id: string) =>
        `POST /api/integration/invoice/post-payment HTTP/1.1\r\nHost: x\r\nX-Integrator-ID: ${id}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{';
      expect(await trickle(port, body(h.ingressIntegratorId))).toMatch(/^HTTP\/1\.1 408/);
      // Refused at once (403), and the socket does not stay open for the rest of the body either.
      expect(await trickle(port, body('wrong'))).toMatch(/^HTTP\/1\.1 403/);
      // Headers that never end.
      expect(await trickle(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ')).not.toContain('200 OK');
    },
  );

  it('caps the sockets held open at once', { timeout: 20_000 }, async () => {
    const { app, port } = await listen({ limits: { maxConnections: 2 } });
    const sockets = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect(port, '127.0.0.1', () => resolve(s));
          }),
      ),
    );
    await eventually(
      async () => new Promise<boolean>((resolve) => app.server.getConnections((_e, n) => resolve(n === 2))),
    );
    const third = net.connect(port, '127.0.0.1');
    third.on('error', () => undefined);
    await new Promise((resolve) => third.once('close', resolve));
    for (const s of sockets) s.destroy();
  });

  it('/healthz answers from one deadlined check however many probes, and is rate-limited', async () => {
    // A "Temporal" that accepts connections and never answers.
    const blackhole = net.createServer(() => undefined);
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', () => r()));
    const addr = blackhole.address() as net.AddressInfo;
    let describes = 0;
    const counting: Interceptor = (options, next) => {
      if (options.method_definition.path.endsWith('/DescribeTaskQueue')) describes += 1;
      return new InterceptingCall(next(options));
    };
    const connection = Connection.lazy({
      address: `127.0.0.1:${addr.port}`,
      interceptors: [counting],
    });
    const client = new Client({ connection, namespace: h.namespace });
    try {
      const { port } = await listen({
        client,
        health: { cacheMs: 60_000, deadlineMs: 300 },
        rateLimitPerMinute: 12,
      });
      const probe = () => get(`http://127.0.0.1:${port}/healthz`);
      const first = await Promise.all(Array.from({ length: 5 }, probe));
      const again = await Promise.all(Array.from({ length: 5 }, probe));
      for (const r of [...first, ...again]) {
        expect(r.status).toBe(503);
        expect(JSON.parse(r.body)).toMatchObject({ checks: { temporal: 'unreachable' } });
      }
      // One check for all ten probes: each pool's queue described once.
      expect(describes).toBe(2);
      // Past the per-client budget (12 a minute), probes are refused too.
      const over = await Promise.all(Array.from({ length: 4 }, probe));
      expect(over.map((r) => r.status)).toContain(429);
    } finally {
      await connection.close();
      blackhole.close();
    }
  });

  it('does not serve /metrics on the ingress port', async () => {
    const { port } = await listen({});
    expect((await get(`http://127.0.0.1:${port}/metrics`)).status).toBe(403);
    const withId = await get(`http://127.0.0.1:${port}/metrics`, {
      headers: { 'X-Integrator-ID': h.ingressIntegratorId },
    });
    expect(withId.status).toBe(404);
  });
});

describe('path parameters', () => {
  it('refuses a path segment that would escape its route (400) and never calls IMT with it', async () => {
    const { port } = await listen({});
    const raw = (p: string) =>
      get(`http://127.0.0.1:${port}${p}`, { headers: { 'X-Integrator-ID': h.ingressIntegratorId } });
    const imtCallsBefore = h.imt.requestLog().length;
    for (const p of [
      '/api/integration/invoice/../detail',
      '/api/integration/invoice/%2e%2e/detail',
      '/api/integration/invoice/%2e%2e/pdf',
      '/api/integration/invoice/..%2fpayments/pdf',
      '/api/integration/payments/..%2F..%2Fhealthz',
      '/api/integration/payments/%20T1',
    ]) {
      const r = await raw(p);
      expect(r.status, p).toBe(400);
      expect(JSON.parse(r.body).fields, p).toBeDefined();
    }
    expect(h.imt.requestLog().slice(imtCallsBefore)).toEqual([]);
    // A valid invoice number still reaches IMT (404: the simulator does not know it).
    expect((await raw('/api/integration/invoice/INV-0001/detail')).status).toBe(404);
  });
});
