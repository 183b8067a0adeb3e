/**
 * `npm start` (after prestart built and seeded): runs `devhost start .` with the arguments given
 * (`npm start -- --port 8080`), passes its output through, and once devhost is ready prints the
 * Region Sync commands with the origin devhost actually serves. Exits with devhost's exit code.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { devhostNodeOptions } from '../devhost/nodeOptions.js';
import { startBanner } from './startBanner.js';

const READY_PREFIX = 'DEVHOST_READY ';
const cli = path.resolve(__dirname, '../devhost/cli.js');
const child = spawn(
  process.execPath,
  [...devhostNodeOptions(), cli, 'start', '.', ...process.argv.slice(2)],
  {
    stdio: ['inherit', 'pipe', 'inherit'],
  },
);

createInterface({ input: child.stdout }).on('line', (line) => {
  process.stdout.write(`${line}\n`);
  if (line.startsWith(READY_PREFIX)) {
    const { origin } = JSON.parse(line.slice(READY_PREFIX.length)) as { origin: string };
    process.stdout.write(startBanner(origin));
  }
});

// Ctrl-C reaches devhost from the terminal itself (same process group): forwarding it would count
// as a second signal and skip the graceful stop. A SIGTERM sent to this process alone is forwarded.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
