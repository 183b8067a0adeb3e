/**
 * `npm run sync` and `npm run orders` reach the app where `devhost sb` does: --url before or after
 * the subcommand, else DEVHOST_URL; when nothing answers, the error names the URL they tried.
 * Each case points at a port nothing listens on, so the URL in the message shows which one won.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../support/localApp';

const run = promisify(execFile);
const SCRIPTS = path.resolve(__dirname, '../../scripts');

async function script(name: string, args: string[], env: Record<string, string> = {}) {
  const clean = { ...process.env };
  delete clean.DEVHOST_URL;
  try {
    await run(process.execPath, [path.join(SCRIPTS, name), ...args], { env: { ...clean, ...env } });
    return { code: 0, stderr: '' };
  } catch (e) {
    const err = e as { code: number; stderr: string; stdout: string };
    return { code: err.code, stderr: err.stderr + err.stdout };
  }
}

describe('command-line tools: one origin everywhere', () => {
  let url: string;
  let other: string;
  before(async () => {
    url = `http://127.0.0.1:${await freePort()}`;
    other = `http://127.0.0.1:${await freePort()}`;
  });
  const names = (out: string, origin: string) =>
    assert.match(out, new RegExp(`cannot reach the app at ${origin.replace(/\./g, '\\.')}/api/`), out);

  it('npm run sync: --url after or before the flow, or DEVHOST_URL', async () => {
    for (const args of [
      ['pricing', '--mode', 'full', '--url', url],
      ['--url', url, 'pricing', '--mode', 'full'],
    ]) {
      const out = await script('syncCli.js', args, { DEVHOST_URL: other });
      assert.equal(out.code, 1);
      names(out.stderr, url);
    }
    const viaEnv = await script('syncCli.js', ['pricing'], { DEVHOST_URL: url });
    names(viaEnv.stderr, url);
  });

  it('npm run orders: --url before or after status and deadletters subcommands, or DEVHOST_URL', async () => {
    for (const args of [
      ['status', 'sea', 'ord-1', '--url', url],
      ['--url', url, 'status', 'sea', 'ord-1'],
      ['deadletters', 'list', '--url', url],
      ['deadletters', '--url', url, 'list'],
      ['--url', url, 'deadletters', 'show', 'x'],
    ]) {
      const out = await script('orders.js', args, { DEVHOST_URL: other });
      assert.equal(out.code, 1, args.join(' '));
      names(out.stderr, url);
    }
    const viaEnv = await script('orders.js', ['status', 'sea', 'ord-1'], { DEVHOST_URL: url });
    names(viaEnv.stderr, url);
  });

  it('npm run orders (load): publishing to devhost names the URL it tried', async () => {
    const out = await script('orders.js', [
      '--url',
      url,
      '--no-spoke-write',
      '--rate',
      '5',
      '--seconds',
      '1',
      '--orders',
      '2',
    ]);
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      new RegExp(`cannot reach the app at ${url.replace(/\./g, '\\.')}/admin/servicebus/`),
    );
  });
});
