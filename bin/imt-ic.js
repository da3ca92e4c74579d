#!/usr/bin/env node
// Launcher of the operator CLI: runs the TypeScript sources through tsx, so `npx imt-ic`
// works from a clone without a build step. See client/cli/main.ts.
'use strict';
require('tsx/cjs');
const { runCli } = require('../client/cli/main.ts');

runCli(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`imt-ic: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
