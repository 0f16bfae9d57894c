#!/usr/bin/env node
/* global require, process */
// The `netboot` command (package.json "bin"): runs the TypeScript CLI, cli/main.ts, through tsx
// (a devDependency), so `npx netboot ...` works in a checkout after `npm ci`, with no build step.
'use strict';
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('tsx/cjs');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { main } = require('./main.ts');
main(process.argv).then((code) => {
  process.exitCode = code;
});
