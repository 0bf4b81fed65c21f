#!/usr/bin/env node
'use strict';
// The CLI is compiled by `npm run build` (run automatically by `npm ci` through `prepare`).
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'cli', 'index.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('govx: not built yet; run `npm run build` first\n');
  process.exit(2);
}
require(entry).main(process.argv).catch((err) => {
  process.stderr.write(`govx: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
