// Finds or builds the Temporal CLI (which embeds the dev server). Plain CommonJS with no
// dependencies so that it runs on a fresh clone before `npm ci`, and from TypeScript.
//
// Order: $TEMPORAL_CLI_PATH, `temporal` on PATH, the project cache
// (~/.cache/imt-ic/temporal-cli-v1.5.1-sqlite-v1.44.3/bin/temporal), else build it from the
// Go module proxy (minutes) into that cache: CLI v1.5.1 (the newest `go install` accepts
// here, server 1.29.1) with its SQLite driver raised from modernc.org/sqlite v1.34.1 to
// v1.44.3. Under load, v1.34.1 can leave the dev server's database answering "interrupted
// (9)" to every query for good (SQLITE_INTERRUPT; the chaos run saw it, and Temporal raised
// the driver for the same errors: temporalio/temporal#9198). docs/decisions.md has the story. The SDK's own download of the dev
// server is the fallback on machines with internet and without Go.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { cacheDir: projectCache, goBuildRaised, isExecutable, onPath, stderrLog } = require('./provision.cjs');

const CLI_MODULE = 'github.com/temporalio/cli';
const CLI_PACKAGE = './cmd/temporal';
const CLI_VERSION = 'v1.5.1';
const SQLITE_DRIVER = 'modernc.org/sqlite@v1.44.3';

const cacheDir = () => projectCache(`temporal-cli-${CLI_VERSION}-sqlite-${SQLITE_DRIVER.split('@')[1]}`);

/** @returns {string | undefined} absolute path of a usable Temporal CLI */
function locateTemporalCli() {
  const explicit = process.env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (!isExecutable(explicit)) throw new Error(`TEMPORAL_CLI_PATH=${explicit} is not an executable file`);
    return path.resolve(explicit);
  }
  return (
    onPath('temporal') ||
    (isExecutable(path.join(cacheDir(), 'bin', 'temporal'))
      ? path.join(cacheDir(), 'bin', 'temporal')
      : undefined)
  );
}

/** Builds the CLI into the cache (its SQLite driver raised), printing progress. */
async function buildTemporalCli(log = stderrLog) {
  const go = onPath('go');
  if (!go) return undefined;
  const bin = path.join(cacheDir(), 'bin');
  fs.mkdirSync(bin, { recursive: true });
  const target = path.join(bin, 'temporal');
  log(
    `[temporal-cli] building ${CLI_MODULE}@${CLI_VERSION} with ${SQLITE_DRIVER} into ${bin} (takes a few minutes the first time)…`,
  );
  // Built beside the target and renamed: a killed build never leaves a half-written binary.
  const partial = `${target}.partial`;
  const secs = await goBuildRaised({
    go,
    module: CLI_MODULE,
    version: CLI_VERSION,
    pkg: CLI_PACKAGE,
    raise: [SQLITE_DRIVER],
    out: partial,
    tag: 'temporal-cli',
    log,
  });
  if (!isExecutable(partial)) throw new Error(`building ${CLI_MODULE}@${CLI_VERSION} left no ${partial}`);
  fs.renameSync(partial, target);
  log(`[temporal-cli] built in ${secs} s: ${target}`);
  return target;
}

async function ensureTemporalCli(log) {
  const found = locateTemporalCli();
  if (found) return found;
  return buildTemporalCli(log);
}

function cliVersion(file) {
  const r = spawnSync(file, ['--version'], { encoding: 'utf8' });
  return (r.stdout || '').trim();
}

module.exports = {
  locateTemporalCli,
  buildTemporalCli,
  ensureTemporalCli,
  cliVersion,
  CLI_VERSION,
  SQLITE_DRIVER,
};
