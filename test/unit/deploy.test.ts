/**
 * Invariants of the production deployment files (docker-compose.yml, Dockerfile,
 * .dockerignore): pinned images, a healthcheck or a one-shot role for every service, no
 * secret literal, 90 days of retention, and nothing but the ingress reachable from the
 * network. `.ci/run` additionally validates the compose file with `docker-compose config`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { RETENTION_DAYS } from '../../dev/namespace';

const root = path.resolve(__dirname, '../..');
const read = (f: string) => fs.readFileSync(path.join(root, f), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  restart?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  healthcheck?: { test: string[] };
  profiles?: string[];
}
const compose = YAML.parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = Object.entries(compose.services);

/** A one-shot job: runs to completion and others wait for `service_completed_successfully`. */
const ONE_SHOT = new Set(['temporal-schema', 'temporal-namespace']);
const SECRET_NAMES = /(PASSWORD|PWD|SECRET|TOKEN|KEYS?$|WEB_SERVICE_KEY|INTEGRATOR_ID$|API_KEY)(_FILE)?$/;

describe('docker-compose.yml', () => {
  it('pins every image to a version (no latest, no bare name)', () => {
    for (const [name, s] of services) {
      expect(s.image, name).toMatch(/^[\w./-]+:\d+\.\d+(\.\d+)?[\w.-]*$/);
    }
    expect(compose.services.temporal.image).toBe('temporalio/server:1.29.1');
    expect(compose.services['temporal-schema'].image).toBe('temporalio/admin-tools:1.29.1');
  });

  it('gives every long-running service a healthcheck; one-shot jobs never restart', () => {
    for (const [name, s] of services) {
      if (ONE_SHOT.has(name)) expect(s.restart, name).toBe('no');
      else expect(s.healthcheck?.test?.length, `${name} has no healthcheck`).toBeGreaterThan(0);
    }
  });

  it('holds no secret literal: every secret comes from .env through ${VAR:?}', () => {
    for (const [name, s] of services) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (SECRET_NAMES.test(key))
          expect(String(value), `${name}.${key}`).toMatch(/^\$\{[A-Z0-9_]+:\?[^}]*\}$/);
      }
    }
    // No token-like literal (24+ characters mixing upper case, lower case and digits) either.
    const tokens = read('docker-compose.yml').match(/[A-Za-z0-9+/_=-]{24,}/g) ?? [];
    expect(tokens.filter((t) => /[A-Z]/.test(t) && /[a-z]/.test(t) && /\d/.test(t))).toEqual([]);
  });

  it('publishes only the ingress to the network; UI, codec server and gRPC bind to 127.0.0.1', () => {
    const published: string[] = [];
    for (const [name, s] of services) {
      for (const p of s.ports ?? []) {
        if (p.startsWith('127.0.0.1:')) continue;
        published.push(name);
      }
    }
    expect(published).toEqual(['ingress']);
    expect(compose.services.temporal.ports).toEqual(['127.0.0.1:7233:7233']);
  });

  it('sets up the namespace with at least 90 days of retention (dev/namespace.ts, shared with the local cluster)', () => {
    expect(RETENTION_DAYS).toBeGreaterThanOrEqual(90);
    expect(compose.services['temporal-namespace'].command).toEqual([
      'node',
      'lib/app/main.js',
      'setup-namespace',
    ]);
    expect(read('app/setup-namespace.ts')).toContain('ensureNamespace(');
    expect(read('dev/namespace.ts')).toMatch(/export const RETENTION = '2160h'/);
  });

  it('points the UI at the codec server, and the app at PostgreSQL-backed Temporal', () => {
    expect(compose.services['temporal-ui'].environment?.TEMPORAL_CODEC_ENDPOINT).toBe(
      'http://127.0.0.1:8888',
    );
    expect(compose.services.temporal.environment?.DB).toBe('postgres12');
    for (const pool of ['payments', 'bulk']) {
      const worker = compose.services[`worker-${pool}`];
      expect(worker.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
      expect(worker.command).toEqual(['node', 'lib/app/main.js', 'worker', '--pool', pool]);
    }
    expect(compose.services.simulators.profiles).toEqual(['simulators']);
  });
});

describe('Dockerfile and .dockerignore', () => {
  const dockerfile = read('Dockerfile');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

  it('builds in one stage and runs compiled JavaScript with a prebuilt bundle, production deps only, as non-root', () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBe(2);
    expect(dockerfile).toContain('npm run build');
    expect(dockerfile).toContain('node lib/worker/bundle.js lib/workflow-bundle.js');
    expect(dockerfile).toContain('npm prune --omit=dev');
    expect(runtime).toContain('WORKFLOW_BUNDLE_PATH=/app/lib/workflow-bundle.js');
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).not.toMatch(/tsx|tsc|typescript/);
    for (const from of dockerfile.match(/^FROM \S+/gm) ?? []) expect(from).toMatch(/:\d+\.\d+\.\d+/);
  });

  it('copies every folder the build compiles, and runs the one program', () => {
    const build = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
    for (const dir of build.include) expect(dockerfile).toContain(`COPY ${dir} ./${dir}`);
    expect(runtime).toContain('CMD ["node", "lib/app/main.js", "worker"]');
  });

  it('tsx and typescript are dev dependencies, so `npm prune --omit=dev` removes them', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies)).not.toContain('tsx');
    expect(Object.keys(pkg.dependencies)).not.toContain('typescript');
  });

  it('.dockerignore keeps secrets, local state, dependencies and tests out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['.env', '.data/', 'node_modules/', 'test/']) expect(ignored).toContain(entry);
  });
});
