// Finds or builds the Temporal server and temporal-sql-tool for `npm run cluster` (a real
// Temporal cluster on PostgreSQL). Plain CommonJS with no dependencies, like temporal-cli.cjs,
// so that it runs from scripts/bootstrap.mjs before `npm ci` and from TypeScript.
//
// Both come from the Go module proxy at the server version the CLI v1.5.1 embeds:
//   go install go.temporal.io/server/cmd/server@v1.29.1        → <cache>/bin/server
//   go install go.temporal.io/server/cmd/tools/sql@v1.29.1     → <cache>/bin/sql
// cached in ~/.cache/imt-ic/temporal-server-v1.29.1. The PostgreSQL schema files and the
// config to start from ship in that module (`go env GOMODCACHE`).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { cacheDir: projectCache, goInstall, isExecutable, onPath, stderrLog } = require('./provision.cjs');

const SERVER_MODULE = 'go.temporal.io/server';
const SERVER_VERSION = 'v1.29.1';
const PACKAGES = { server: `${SERVER_MODULE}/cmd/server`, sql: `${SERVER_MODULE}/cmd/tools/sql` };

const cacheDir = () => projectCache(`temporal-server-${SERVER_VERSION}`);

/** The module's source directory in the Go module cache (schema files, sample configs). */
function moduleDir() {
  const go = onPath('go');
  const r = go ? spawnSync(go, ['env', 'GOMODCACHE'], { encoding: 'utf8' }) : undefined;
  const modcache = (r && r.stdout ? r.stdout.trim() : '') || path.join(os.homedir(), 'go', 'pkg', 'mod');
  return path.join(modcache, `${SERVER_MODULE}@${SERVER_VERSION}`);
}

/** @returns {{ server: string, sql: string, moduleDir: string } | undefined} */
function locateTemporalServer() {
  const bin = path.join(cacheDir(), 'bin');
  const server = path.join(bin, 'server');
  const sql = path.join(bin, 'sql');
  const mod = moduleDir();
  if (isExecutable(server) && isExecutable(sql) && fs.existsSync(path.join(mod, 'schema'))) {
    return { server, sql, moduleDir: mod };
  }
  return undefined;
}

async function buildOne(go, pkg, bin, log) {
  log(`[temporal-server] go install ${pkg}@${SERVER_VERSION} into ${bin}…`);
  const secs = await goInstall({ go, spec: `${pkg}@${SERVER_VERSION}`, bin, tag: 'temporal-server', log });
  log(`[temporal-server] built ${pkg} in ${secs} s`);
}

/** Builds both binaries into the cache (minutes the first time). */
async function buildTemporalServer(log = stderrLog) {
  const go = onPath('go');
  if (!go) {
    throw new Error(
      'no Go toolchain: the local Temporal cluster needs `go` to build go.temporal.io/server (or set TEMPORAL_ADDRESS to an existing cluster)',
    );
  }
  const bin = path.join(cacheDir(), 'bin');
  fs.mkdirSync(bin, { recursive: true });
  if (!isExecutable(path.join(bin, 'server'))) await buildOne(go, PACKAGES.server, bin, log);
  if (!isExecutable(path.join(bin, 'sql'))) await buildOne(go, PACKAGES.sql, bin, log);
  const found = locateTemporalServer();
  if (!found) throw new Error(`built the Temporal server, but ${bin} or the module sources are incomplete`);
  return found;
}

async function ensureTemporalServer(log) {
  return locateTemporalServer() || buildTemporalServer(log);
}

module.exports = { locateTemporalServer, buildTemporalServer, ensureTemporalServer, SERVER_VERSION };
