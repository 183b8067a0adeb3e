/** Run history on devhost: every run keeps its own record, paged newest first, with drill-down. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SyncApp } from './support/batchHarness';
import { startSyncApp } from './support/batchHarness';

interface RunView {
  runId: string;
  instanceId: string;
  status: string;
  trigger: string;
  mode: string;
  startedAt: string;
  finishedAt: string | null;
  links: { link: { source: string; target: string }; inserted: number; updated: number }[];
  totals: { rowsWritten: number } | null;
  reportBlob: string | null;
  report?: { totals?: { matched: number } } | null;
}

describe('run history on devhost', () => {
  let app: SyncApp;
  const get = async (path: string) => {
    const res = await fetch(`${app.host.origin}/api/${path}`);
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  before(async () => {
    app = await startSyncApp();
  });
  after(async () => {
    await app?.close();
  });

  it('keeps a record per run of the same request, newest first, paged with a continuation token', async () => {
    const first = await app.run('pricing', { mode: 'incremental' });
    assert.equal(first.runtimeStatus, 'Completed');
    // The CLI says who it is; the record keeps it.
    const res = await fetch(`${app.host.origin}/api/sync/pricing`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-region-sync-trigger': 'cli' },
      body: JSON.stringify({ mode: 'incremental' }),
    });
    assert.equal(res.status, 202);
    const second = await app.waitForRun(
      String(((await res.json()) as { statusQueryGetUri: string }).statusQueryGetUri),
    );
    assert.equal(second.instanceId, first.instanceId, 'the instance id is still the request');

    const all = (await get('sync/pricing/runs')).json as { runs: RunView[]; continuation: string | null };
    assert.equal(all.runs.length, 2);
    assert.equal(all.continuation, null);
    const [newest, oldest] = all.runs as [RunView, RunView];
    assert.notEqual(newest.runId, oldest.runId);
    assert.ok(newest.startedAt > oldest.startedAt);
    assert.deepEqual(
      all.runs.map((r) => [r.instanceId, r.status, r.trigger, r.mode]),
      [
        ['pricing-incremental', 'completed', 'cli', 'incremental'],
        ['pricing-incremental', 'completed', 'http', 'incremental'],
      ],
    );
    // The first run moved the seeded rows; the second found nothing new. Both kept their numbers.
    assert.ok((oldest.totals?.rowsWritten ?? 0) > 0);
    assert.equal(newest.totals?.rowsWritten, 0);
    assert.equal(oldest.links.length, 6);
    assert.ok(oldest.finishedAt !== null && oldest.finishedAt >= oldest.startedAt);

    const page1 = (await get('sync/pricing/runs?max=1')).json as { runs: RunView[]; continuation: string };
    assert.deepEqual(
      page1.runs.map((r) => r.runId),
      [newest.runId],
    );
    assert.equal(typeof page1.continuation, 'string');
    const page2 = (
      await get(`sync/pricing/runs?max=1&continuation=${encodeURIComponent(page1.continuation)}`)
    ).json as { runs: RunView[]; continuation: string | null };
    assert.deepEqual(
      page2.runs.map((r) => r.runId),
      [oldest.runId],
    );

    assert.equal((await get('sync/pricing/runs?max=0')).status, 400);
    assert.equal((await get('sync/nope/runs')).status, 404);
    assert.equal((await get(`sync/pricing/runs/${oldest.runId}`)).json.runId, oldest.runId);
    assert.equal((await get('sync/pricing/runs/pricing-incremental.20200101T000000.000Z')).status, 404);
  });

  it('drills down into a full compare with its reconciliation report, and reads lag 0 once caught up', async () => {
    const full = await app.run('promotions', { mode: 'full' });
    assert.equal(full.runtimeStatus, 'Completed');
    const list = (await get('sync/promotions/runs')).json as { runs: RunView[] };
    const run = list.runs[0] as RunView;
    assert.equal(run.reportBlob, `promotions/${run.runId}/report.json`);
    const detail = (await get(`sync/promotions/runs/${run.runId}`)).json as unknown as RunView;
    assert.ok((detail.report?.totals?.matched ?? 0) > 0, JSON.stringify(detail.report));

    const status = (await get('sync/promotions/status')).json as {
      links: { tables: { lagChanges: number; lagSeconds: number | null }[] }[];
    };
    for (const l of status.links)
      for (const t of l.tables) assert.deepEqual([t.lagChanges, t.lagSeconds], [0, 0]);
  });
});
