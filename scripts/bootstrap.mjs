// Makes a fresh clone runnable: installs npm dependencies when they are missing or stale,
// then makes sure a Temporal CLI is available (see scripts/temporal-cli.cjs).
// With --temporal-server, also the Temporal server + temporal-sql-tool of `npm run cluster`
// (scripts/temporal-server.cjs).
// Usage: node scripts/bootstrap.mjs [--no-temporal] [--temporal-server]
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { ensureTemporalCli, cliVersion } = require('./temporal-cli.cjs');
const { ensureTemporalServer } = require('./temporal-server.cjs');

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

const installed = path.join(root, 'node_modules', '.package-lock.json');
if (mtime(installed) === 0 || mtime(path.join(root, 'package-lock.json')) > mtime(installed)) {
  console.error('[bootstrap] installing npm dependencies (npm ci)…');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!process.argv.includes('--no-temporal') && !process.env.TEMPORAL_ADDRESS) {
  try {
    const cli = await ensureTemporalCli((line) => console.error(line));
    if (cli) console.error(`[bootstrap] Temporal CLI: ${cli} (${cliVersion(cli).split('\n')[0]})`);
    else
      console.error(
        '[bootstrap] no Temporal CLI and no Go toolchain: the Temporal SDK will download its dev server',
      );
  } catch (err) {
    console.error(`[bootstrap] ${err.message}`);
    process.exit(1);
  }
}

if (process.argv.includes('--temporal-server') && !process.env.TEMPORAL_ADDRESS) {
  try {
    const started = Date.now();
    const { server, sql } = await ensureTemporalServer((line) => console.error(line));
    console.error(
      `[bootstrap] Temporal server: ${server}, temporal-sql-tool: ${sql} (${Math.round((Date.now() - started) / 1000)} s)`,
    );
  } catch (err) {
    console.error(`[bootstrap] ${err.message}`);
    process.exit(1);
  }
}
