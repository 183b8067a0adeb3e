import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CLI_PATH, runDevhostToExit, startDevhost } from '../../support/devhost';
import { tempDir, waitFor } from '../helpers';
import { FIXTURES } from './harness';

const APP = path.join(FIXTURES, 'durable-crash');

/** Linux process state letter ('Z' for a zombie), or undefined where /proc is absent. */
function processState(pid: number): string | undefined {
  try {
    return /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

void describe('one devhost per task hub (child processes, file-backed hub)', () => {
  void it('a devhost killed with -9 never blocks the next one, even while its pid still exists as a zombie', async () => {
    const temp = tempDir('hub-zombie');
    const dataDir = path.join(temp.dir, 'data');
    // The shell starts devhost in the background and becomes `sleep`, which never reaps it: once
    // killed, the devhost stays a zombie whose pid answers kill(pid, 0).
    const shell = spawn(
      '/bin/sh',
      [
        '-c',
        `"${process.execPath}" "${CLI_PATH}" start "${APP}" --port 0 --data-dir "${dataDir}" & exec sleep 120`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    shell.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    shell.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const ready = await waitFor(
        () => /^DEVHOST_READY (.*)$/m.exec(output)?.[1],
        'the first devhost to be ready',
        30_000,
      );
      const { pid } = JSON.parse(ready) as { pid: number };
      process.kill(pid, 'SIGKILL');
      if (process.platform === 'linux') {
        await waitFor(
          () => (processState(pid) === 'Z' ? true : undefined),
          'the killed devhost to be a zombie',
        );
      } else {
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      assert.doesNotThrow(() => process.kill(pid, 0), 'its pid still answers');

      const second = await startDevhost({ appDir: APP, dataDir });
      await second.stop();
    } finally {
      shell.kill('SIGKILL');
      temp.cleanup();
    }
  });

  void it('a live devhost on the hub refuses a second one, naming its pid, the data dir and how to stop it', async () => {
    const temp = tempDir('hub-live');
    const dataDir = path.join(temp.dir, 'data');
    const first = await startDevhost({ appDir: APP, dataDir });
    try {
      const refused = await runDevhostToExit({ appDir: APP, dataDir });
      assert.equal(refused.code, 1);
      assert.match(refused.output, new RegExp(`in use by another devhost \\(pid ${first.pid}\\)`));
      assert.ok(refused.output.includes(dataDir), `names the data dir:\n${refused.output}`);
      assert.match(
        refused.output,
        new RegExp(`Stop it first \\(Ctrl\\+C in its terminal, or kill ${first.pid}\\)`),
      );
      // The first one is unharmed.
      assert.equal((await fetch(`${first.origin}/admin/functions`)).status, 200);
    } finally {
      await first.stop();
      temp.cleanup();
    }
  });
});
