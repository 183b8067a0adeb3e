#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node:test.
// `node --test dist/test/` would also execute every other .js under a folder named "test"
// (test support code, compiled fixture apps), so the files are listed explicitly.
// Usage: node scripts/runTests.js [folder or file ...]   (default: dist/test)
'use strict';
const { spawnSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');
const fg = require('fast-glob');

const root = path.resolve(__dirname, '..');
const targets = process.argv.slice(2);
const patterns = (targets.length > 0 ? targets : ['dist/test']).map((target) =>
  target.endsWith('.js') ? target : `${target.replace(/\/+$/, '')}/**/*.test.js`,
);
const files = fg.sync(patterns, { cwd: root, ignore: ['**/node_modules/**', '**/fixtures/**'] }).sort();
if (files.length === 0) {
  console.error(`No test files match ${patterns.join(', ')}. Did the build run?`);
  process.exit(1);
}
// Test files start child processes (devhost); more files at once than cores only adds contention.
const concurrency = Math.max(2, os.availableParallelism());
const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
