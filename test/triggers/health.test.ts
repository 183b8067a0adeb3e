/**
 * /api/health asks the app's own dependencies now and names what is wrong: here the staging
 * storage is an emulator that answers every request with an empty 500 (a broken Azurite), which
 * made every blob write take 16 s and fail with an empty message while health said ok.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { HttpRequest, InvocationContext } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { AzureBlobStaging } from '../../adapters/blobStaging.js';
import { createRuntime } from '../../activities/runtime.js';
import { loadConfig } from '../../config/loadConfig.js';
import { emulatorConnectionString, emulatorEndpoints } from '../../devhost/storage/azurite.js';
import { SyncError } from '../../sync/errors.js';
import { createHealth } from '../../triggers/health.js';
import { startSeededRuntime, type SeededRuntime } from '../support/localApp.js';

interface HealthBody {
  status: string;
  checks: { name: string; ok: boolean; detail: string }[];
}

const call = async (handler: ReturnType<typeof createHealth>) => {
  const res = await handler({} as HttpRequest, {} as InvocationContext);
  return { status: res.status, body: res.jsonBody as HealthBody };
};

describe('GET /api/health', () => {
  let broken: Server;
  let brokenConnection: string;
  let seeded: SeededRuntime;
  before(async () => {
    broken = createServer((_req, res) => {
      res.writeHead(500);
      res.end();
    });
    await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
    const port = (broken.address() as AddressInfo).port;
    brokenConnection = emulatorConnectionString(emulatorEndpoints({ blob: port, queue: port, table: port }));
    seeded = await startSeededRuntime('health-', {
      hubPrices: 10,
      spokePrices: 2,
      promotions: 2,
      ordersPerSpoke: 1,
      base: '2026-01-01T00:00:00.000Z',
    });
  });
  after(async () => {
    await seeded?.close();
    await new Promise((resolve) => broken?.close(resolve));
  });

  it('answers 200 with every region and the staging storage checked when all answer', async () => {
    const { status, body } = await call(createHealth(seeded.runtime));
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.status, 'ok');
    assert.deepEqual(body.checks.map((c) => c.name).sort(), [
      'region cn',
      'region eu',
      'region latam',
      'region sea',
      'staging storage',
    ]);
  });

  it('answers 503 naming the broken staging storage with its status and reason, within seconds', async () => {
    const config = loadConfig(
      {
        REGION_SYNC_DATA_DIR: seeded.root,
        REGION_SYNC_PSEUDONYM_KEY: Buffer.alloc(32, 7).toString('base64'),
        REGION_SYNC_STAGING_CONNECTION: brokenConnection,
      },
      { cwd: seeded.root },
    );
    const runtime = createRuntime(config);
    try {
      const started = Date.now();
      const { status, body } = await call(createHealth(runtime));
      assert.ok(Date.now() - started < 5000, `health took ${Date.now() - started} ms`);
      assert.equal(status, 503);
      assert.equal(body.status, 'unhealthy');
      const staging = body.checks.find((c) => c.name === 'staging storage');
      assert.equal(staging?.ok, false);
      assert.match(staging.detail, /500 Internal Server Error/);
      assert.match(staging.detail, new RegExp(`127\\.0\\.0\\.1:${(broken.address() as AddressInfo).port}`));
      assert.ok(body.checks.filter((c) => c.name.startsWith('region ')).every((c) => c.ok));
    } finally {
      await runtime.close();
    }
  });

  it('a failed blob write says status and reason instead of an empty message', async () => {
    // One try instead of the SDK's default retries (about 16 s against this server): the message is what matters.
    const staging = new AzureBlobStaging({
      serviceClient: BlobServiceClient.fromConnectionString(brokenConnection, {
        retryOptions: { maxTries: 1 },
      }),
      container: 'sync-staging',
    });
    const err = await staging.writeJson('report.json', {}).then(
      () => assert.fail('the write succeeded against a broken emulator'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof SyncError);
    assert.match(err.message, /create container sync-staging: 500 Internal Server Error: no error body/);
  });
});
