/**
 * Staging retention: the daily `purgeStaging` timer is registered on its schedule (never on
 * start-up) and, over a real in-process Azurite, deletes the pages older than the retention,
 * never a report, and logs what it did; a failure is logged with its reason and thrown to the host.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvocationContext } from '@azure/functions';
import type { Timer } from '@azure/functions';
import { BlobServiceClient, StorageSharedKeyCredential, newPipeline } from '@azure/storage-blob';
import type { SyncRuntime } from '../../activities/runtime.js';
import { createRuntime } from '../../activities/runtime.js';
import { AzureBlobStaging } from '../../adapters/blobStaging.js';
import { createTelemetry } from '../../adapters/telemetry.js';
import { loadConfig } from '../../config/loadConfig.js';
import { loadTelemetrySettings } from '../../config/telemetrySettings.js';
import { registerTriggers } from '../../triggers/index.js';
import { createStagingPurge } from '../../triggers/syncTimers.js';
import { freePort } from '../support/localApp.js';
import { captureRegistrations, registeredFunction } from '../support/registrations.js';
import type { RunningAzurite } from '../support/storeAzurite.js';
import { startAzuriteBlob } from '../support/storeAzurite.js';
import { priceRow } from '../support/syncFixtures.js';

const DAY_MS = 86_400_000;
const at = new Date().toISOString();
const TIMER: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: at, next: at, lastUpdated: at },
};
const telemetry = createTelemetry(loadTelemetrySettings({ REGION_SYNC_ZONE: 'cn' }));

/** An invocation context whose log lines (the JSON telemetry events) the test reads. */
function context(name: string) {
  const events: Record<string, unknown>[] = [];
  const ctx = new InvocationContext({
    functionName: name,
    logHandler: (_level, ...args) => events.push(JSON.parse(args.join(' ')) as Record<string, unknown>),
  });
  return { ctx, events };
}

describe('purgeStaging timer', () => {
  let azurite: RunningAzurite;
  let root: string;
  let runtime: SyncRuntime;
  before(async () => {
    azurite = await startAzuriteBlob();
    root = mkdtempSync(join(tmpdir(), 'staging-purge-'));
    const config = loadConfig(
      {
        REGION_SYNC_DATA_DIR: root,
        REGION_SYNC_PSEUDONYM_KEY: randomBytes(32).toString('base64'),
        REGION_SYNC_STAGING_CONNECTION: azurite.connectionString,
        REGION_SYNC_STAGING_RETENTION_DAYS: '3',
      },
      { cwd: root },
    );
    runtime = createRuntime(config, { pageWorkers: 0 });
  });
  after(async () => {
    await runtime?.close();
    await azurite?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('is registered daily on REGION_SYNC_STAGING_PURGE_SCHEDULE (default 04:30), never on start-up', () => {
    const registered = (schedule?: string) => {
      const config = loadConfig(
        {
          REGION_SYNC_PSEUDONYM_KEY: randomBytes(32).toString('base64'),
          ...(schedule === undefined ? {} : { REGION_SYNC_STAGING_PURGE_SCHEDULE: schedule }),
        },
        { cwd: root },
      );
      const rt = { ...runtime, stagingPurgeSchedule: config.staging.purgeSchedule };
      const fn = registeredFunction(
        captureRegistrations(() => registerTriggers(rt, telemetry)),
        'purgeStaging',
      );
      const triggers = Object.values(fn.metadata.bindings).filter((b) => b.type === 'timerTrigger');
      assert.equal(triggers.length, 1);
      return triggers[0] as { schedule?: unknown; runOnStartup?: unknown };
    };
    const daily = registered();
    assert.equal(daily.schedule, '0 30 4 * * *');
    assert.equal(daily.runOnStartup, false);
    assert.equal(registered('0 0 23 * * *').schedule, '0 0 23 * * *');
  });

  it('deletes the pages older than the retention, keeps newer pages and every report, and logs it', async () => {
    let now = new Date();
    const clocked: SyncRuntime = { ...runtime, now: () => now };
    const fn = registeredFunction(
      captureRegistrations(() => registerTriggers(clocked, telemetry)),
      'purgeStaging',
    );
    const run = async () => {
      const { ctx, events } = context('purgeStaging');
      await fn.callback(TIMER, ctx);
      const line = events.find((e) => e.event === 'stagingPurged');
      assert.ok(line !== undefined, JSON.stringify(events));
      return line;
    };
    const ref = (page: number) => ({
      flow: 'pricing',
      runId: 'timer-run',
      source: 'cn',
      target: 'sea',
      table: 'price_list',
      page,
    });
    for (const p of [0, 1, 2]) await runtime.staging.writePage(ref(p), [priceRow(p)]);
    await runtime.blobs.writeJson('pricing/timer-run/report.json', { matched: 3 });

    // Written just now: younger than 3 days, kept.
    const kept = await run();
    assert.equal(kept.deleted, 0);
    assert.equal((await runtime.staging.listRunPages('pricing', 'timer-run')).length, 3);

    // Four days later they are older than the retention: purged; the report stays.
    now = new Date(Date.now() + 4 * DAY_MS);
    const purged = await run();
    assert.equal(purged.deleted, 3);
    assert.equal(purged.retentionDays, 3);
    assert.equal(purged.cutoff, new Date(now.getTime() - 3 * DAY_MS).toISOString());
    assert.equal(typeof purged.durationMs, 'number');
    assert.deepEqual(await runtime.staging.listRunPages('pricing', 'timer-run'), []);
    assert.deepEqual(await runtime.blobs.readJson('pricing/timer-run/report.json'), { matched: 3 });
  });

  it('logs a failure with its reason and rethrows it (the host records it; the next day retries)', async () => {
    const part = (key: string) => new RegExp(`${key}=([^;]+)`).exec(azurite.connectionString)?.[1] ?? '';
    const pipeline = newPipeline(new StorageSharedKeyCredential(part('AccountName'), part('AccountKey')), {
      retryOptions: { maxTries: 1 },
    });
    // Nothing listens there: every request is refused.
    const nowhere = new BlobServiceClient(`http://127.0.0.1:${await freePort()}/devstoreaccount1`, pipeline);
    const purge = createStagingPurge(
      {
        staging: new AzureBlobStaging({ serviceClient: nowhere, container: 'sync-staging' }),
        stagingRetentionDays: 7,
        now: () => new Date(),
      },
      telemetry,
    );
    const { ctx, events } = context('purgeStaging');
    await assert.rejects(purge(TIMER, ctx), /ECONNREFUSED/);
    const failed = events.find((e) => e.event === 'stagingPurgeFailed');
    assert.match(String(failed?.error), /ECONNREFUSED/);
    assert.equal(failed?.retentionDays, 7);
  });
});
