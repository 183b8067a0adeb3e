/** `npm start`'s banner names the origin devhost actually serves, whatever port it was given. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { localAppEnv } from '../support/localApp';

const REPO_ROOT = path.resolve(__dirname, '../../..');

describe('npm start', () => {
  it('prints the commands with the port devhost listens on, and stops devhost on SIGTERM', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'region-sync-start-'));
    const child = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'dist/scripts/start.js'), '--port', '0', '--data-dir', path.join(root, 'host')],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, ...(await localAppEnv(root)) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const banner = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no banner within 60 s:\n${output}`)), 60_000);
        const onData = (chunk: Buffer) => {
          output += chunk.toString('utf8');
          if (/Region Sync is ready at .*\n(.*\n){4}/.test(output)) {
            clearTimeout(timer);
            resolve(output);
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        void exited.then(() => reject(new Error(`npm start exited:\n${output}`)));
      });
      const ready = /DEVHOST_READY (\{.*\})/.exec(banner);
      assert.ok(ready, banner);
      const { origin, port } = JSON.parse(ready[1]!) as { origin: string; port: number };
      assert.notEqual(port, 7071);
      assert.match(banner, new RegExp(`Region Sync is ready at ${origin}/api/`));
      assert.match(banner, new RegExp(`npm run sync -- --url ${origin} pricing --mode full`));
      assert.doesNotMatch(banner, /7071/);
      assert.equal((await fetch(`${origin}/api/health`)).status, 200);
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited, 0, output);
      rmSync(root, { recursive: true, force: true });
    }
  });
});
