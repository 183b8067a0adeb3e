/**
 * Two devhosts side by side on one machine, as two clones or two test runs have them: each with
 * its own data directory and its own Azurite on free ports (nothing shared, nothing configured),
 * both running a full pricing compare at the same time to the end.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { storageConnection } from '../support/localApp';
import type { SyncApp } from './support/batchHarness';
import { startSyncApp } from './support/batchHarness';
import { assertPricingConverged } from './support/expectations';

describe('two devhosts side by side', () => {
  let apps: SyncApp[] = [];
  before(async () => {
    apps = await Promise.all([
      startSyncApp({ persistentHost: true }),
      startSyncApp({ persistentHost: true }),
    ]);
  });
  after(async () => {
    await Promise.all(apps.map((a) => a.close()));
  });

  it('each runs its own storage emulator on free ports', async () => {
    const [a, b] = await Promise.all(apps.map((app) => storageConnection(app.host.origin)));
    const blobPort = (cs: string) => Number(new URL(/BlobEndpoint=([^;]+)/.exec(cs)![1]!).port);
    assert.notEqual(blobPort(a!), blobPort(b!));
    for (const cs of [a!, b!]) assert.ok(![10000, 10001, 10002].includes(blobPort(cs)), cs);
    for (const app of apps) {
      const health = await fetch(`${app.host.origin}/api/health`);
      assert.equal(health.status, 200, await health.text());
    }
  });

  it('both complete a full pricing run at the same time', async () => {
    const runs = await Promise.all(apps.map((app) => app.run('pricing', { mode: 'full' })));
    for (const status of runs) {
      assert.equal(status.runtimeStatus, 'Completed', JSON.stringify(status.output));
      const report = status.output as { links: { lastError: string | null }[] };
      assert.ok(report.links.length > 0);
      for (const l of report.links) assert.equal(l.lastError, null);
    }
    for (const app of apps) assertPricingConverged(app);
  });
});
