#!/usr/bin/env node
// Launcher of the one program, `imt-ic <command>` (app/main.ts): runs the TypeScript sources
// through tsx, so `npx imt-ic` works from a clone without a build step. The compiled image
// runs `node lib/app/main.js <command>` instead.
'use strict';
require('tsx/cjs');
const { runProgram } = require('../app/main.ts');

runProgram(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`imt-ic: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
