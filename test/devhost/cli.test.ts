/** `devhost start` and `devhost status` as a user meets them when something is wrong. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer as createHttpServer, request, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startAzurite } from '../../devhost/storage/azurite';
import { CLI_PATH, runDevhostToExit, startDevhost } from '../support/devhost';
import { freePort } from '../support/localApp';
import { fixture } from './helpers';

const run = promisify(execFile);

/** `node dist/devhost/cli.js ...args`; resolves with the exit code and output, never throws on a non-zero exit. */
async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI_PATH, ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const listen = (server: Server | HttpServer, port: number) =>
  new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
const close = (server: Server | HttpServer) => new Promise((resolve) => server.close(resolve));

describe('devhost start and status (child processes)', () => {
  it('says to use --port when the port is taken', async () => {
    const taken = createServer();
    const port = await freePort();
    await listen(taken, port);
    try {
      const exit = await runDevhostToExit({ appDir: fixture('js-app'), port });
      assert.equal(exit.code, 1);
      assert.match(exit.output, new RegExp(`Port ${port} on 127\\.0\\.0\\.1 is already in use`));
      assert.match(exit.output, /--port <n>, or --port 0 for a free one/);
    } finally {
      await close(taken);
    }
  });

  it('status names the URL it tried when no devhost answers there', async () => {
    const port = await freePort();
    const viaFlag = await cli(['status', '--url', `http://127.0.0.1:${port}`]);
    assert.equal(viaFlag.code, 1);
    assert.match(
      viaFlag.stderr,
      new RegExp(`cannot reach devhost at http://127\\.0\\.0\\.1:${port}/admin/status`),
    );
    const viaEnv = await cli(['status'], { DEVHOST_URL: `http://127.0.0.1:${port}` });
    assert.match(viaEnv.stderr, new RegExp(`http://127\\.0\\.0\\.1:${port}/admin/status`));
  });

  it('status says ok for a healthy devhost and names a storage emulator that broke, with status and reason', async () => {
    const azurite = await startAzurite({ inMemory: true, blobPort: 0, queuePort: 0, tablePort: 0 });
    const azuriteBlob = Number(new URL(azurite.blobEndpoint).port);
    // The blob port devhost is given passes requests on to Azurite until the emulator "breaks":
    // from then on every request gets an empty 500, as from a broken emulator.
    let broken = false;
    const blob = createHttpServer((req, res) => {
      if (broken) {
        res.writeHead(500);
        res.end();
        return;
      }
      const upstream = request(
        { host: '127.0.0.1', port: azuriteBlob, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    const blobPort = await freePort();
    await listen(blob, blobPort);
    const ports = [
      blobPort,
      ...[azurite.queueEndpoint, azurite.tableEndpoint].map((u) => Number(new URL(u).port)),
    ];
    const host = await startDevhost({
      appDir: fixture('storage-app'),
      env: { DEVHOST_AZURITE_PORTS: ports.join(',') },
      args: ['--storage-emulator', 'external'],
    });
    try {
      const healthy = await cli(['status', '--url', host.origin]);
      assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
      assert.match(healthy.stdout, /: ok\n/);
      assert.match(healthy.stdout, /ok {4}storage emulator: the external storage emulator answers/);
      assert.match(healthy.stdout, /ok {4}durable task hub/);

      broken = true;
      const sick = await cli(['status'], { DEVHOST_URL: host.origin });
      assert.equal(sick.code, 1);
      assert.match(sick.stdout, /: unhealthy\n/);
      assert.match(
        sick.stdout,
        /FAIL {2}storage emulator: .*blob: 500 Internal Server Error: the response has no error body/,
      );
    } finally {
      await host.stop();
      blob.closeAllConnections();
      await close(blob);
      await azurite.stop();
    }
  });
});
