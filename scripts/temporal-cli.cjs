// Finds or builds the Temporal CLI (which embeds the dev server). Plain CommonJS with no
// dependencies so that it runs on a fresh clone before `npm ci`, and from TypeScript.
//
// Order: $TEMPORAL_CLI_PATH, `temporal` on PATH, the project cache
// (~/.cache/imt-ic/temporal-cli-v1.5.1/bin/temporal), else build it from the Go module
// proxy with `go install` (minutes) into that cache. The SDK's own download of the dev
// server is the fallback on machines with internet and without Go.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { cacheDir: projectCache, goInstall, isExecutable, onPath, stderrLog } = require('./provision.cjs');

const CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
const CLI_VERSION = 'v1.5.1';

const cacheDir = () => projectCache(`temporal-cli-${CLI_VERSION}`);

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

/** Builds the CLI into the cache with `go install`, printing progress. */
async function buildTemporalCli(log = stderrLog) {
  const go = onPath('go');
  if (!go) return undefined;
  const bin = path.join(cacheDir(), 'bin');
  fs.mkdirSync(bin, { recursive: true });
  log(
    `[temporal-cli] building ${CLI_MODULE}@${CLI_VERSION} with go install into ${bin} (takes a few minutes the first time)…`,
  );
  const secs = await goInstall({ go, spec: `${CLI_MODULE}@${CLI_VERSION}`, bin, tag: 'temporal-cli', log });
  const target = path.join(bin, 'temporal');
  if (!isExecutable(target)) throw new Error(`go install ${CLI_MODULE}@${CLI_VERSION} left no ${target}`);
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

module.exports = { locateTemporalCli, buildTemporalCli, ensureTemporalCli, cliVersion, CLI_VERSION };
