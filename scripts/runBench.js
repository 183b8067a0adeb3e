#!/usr/bin/env node
// Runs every compiled benchmark (dist/bench/**/*.js) one after another, never inside npm test.
// Usage: node scripts/runBench.js [name filter] [bench flags...]   e.g. `npm run bench -- batchSync --rows 200000`
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const fg = require('fast-glob');

const root = path.resolve(__dirname, '..');
// The first argument filters by name; the rest go to every bench that runs.
const filter = process.argv[2];
const benchArgs = process.argv.slice(3);
const files = fg
  .sync('dist/bench/**/*.js', { cwd: root, ignore: ['**/fixtures/**'] })
  .filter((file) => !filter || file.includes(filter))
  .sort();
if (files.length === 0) {
  console.error('No compiled benchmarks in dist/bench. Did the build run?');
  process.exit(1);
}
let failed = 0;
for (const file of files) {
  console.log(`\n== ${file}`);
  const result = spawnSync(process.execPath, [file, ...benchArgs], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
