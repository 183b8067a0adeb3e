import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BlobRunHistory } from '../../adapters/blobRunHistory.js';
import { createRecordRun } from '../../activities/recordRun.js';
import type { RunRecord } from '../../sync/runHistory.js';
import { runIdStart, runView } from '../../sync/runHistory.js';
import type { RunningAzurite } from '../support/storeAzurite.js';
import { startAzuriteBlob } from '../support/storeAzurite.js';

const stamp = (iso: string) => new Date(iso).toISOString().replace(/[-:]/g, '');

function record(startedAt: string, overrides: Partial<RunRecord> = {}): RunRecord {
  const instanceId = overrides.instanceId ?? 'pricing-incremental';
  return {
    runId: `${instanceId}.${stamp(startedAt)}`,
    instanceId,
    flow: 'pricing',
    mode: 'incremental',
    window: null,
    regions: null,
    dryRun: false,
    trigger: 'http',
    startedAt,
    finishedAt: null,
    status: 'running',
    plannedLinks: ['sea>cn', 'cn>sea'],
    links: [],
    totals: null,
    reportBlob: null,
    error: null,
    ...overrides,
  };
}

describe('run history in blob (Azurite, in-process)', () => {
  let azurite: RunningAzurite;
  let history: BlobRunHistory;
  before(async () => {
    azurite = await startAzuriteBlob();
    history = new BlobRunHistory({ connectionString: azurite.connectionString, container: 'sync-runs' });
  });
  after(async () => {
    await azurite.stop();
  });

  it('keeps every run of the same request as its own record, newest first, paged with a continuation', async () => {
    const first = record('2026-12-01T02:00:00.000Z');
    const second = record('2026-12-02T02:00:00.000Z');
    const third = record('2026-12-03T02:00:00.000Z', { trigger: 'cli' });
    for (const r of [second, first, third]) await history.put(r);
    await history.put({
      ...first,
      status: 'failed',
      error: 'sea>cn: boom',
      finishedAt: '2026-12-01T02:01:00.000Z',
    });
    await history.put(
      record('2026-12-02T03:00:00.000Z', { flow: 'promotions', instanceId: 'promotions-full' }),
    );

    const page1 = await history.list('pricing', { max: 2 });
    assert.deepEqual(
      page1.runs.map((r) => r.runId),
      [third.runId, second.runId],
    );
    assert.notEqual(page1.continuation, null);
    const page2 = await history.list('pricing', { max: 2, continuation: page1.continuation });
    assert.deepEqual(
      page2.runs.map((r) => [r.runId, r.status, r.error]),
      [[first.runId, 'failed', 'sea>cn: boom']],
    );
    assert.equal(page2.continuation, null);
    assert.equal((await history.get('pricing', third.runId))?.trigger, 'cli');
    assert.equal(await history.get('pricing', 'pricing-incremental.nostamp'), null);
    assert.equal(await history.get('pricing', `${third.runId}x`), null);
  });

  it('deletes records of runs started before the retention cutoff at the next run start', async () => {
    const old = record('2026-10-01T00:00:00.000Z', { instanceId: 'pricing-full' });
    const recent = record('2026-11-30T00:00:00.000Z', { instanceId: 'pricing-full' });
    await history.put(old);
    await history.put(recent);
    const recordRun = createRecordRun({
      runs: history,
      runRetentionDays: 45,
      now: () => new Date('2026-12-04T00:00:00.000Z'),
    });
    // An end record never prunes; a start record does.
    assert.deepEqual(await recordRun({ record: { ...recent, status: 'completed' } }), { pruned: 0 });
    const started = record('2026-12-04T00:00:00.000Z', { instanceId: 'pricing-full' });
    const out = await recordRun({ record: started });
    assert.ok(out.pruned >= 1);
    assert.equal(await history.get('pricing', old.runId), null);
    assert.notEqual(await history.get('pricing', recent.runId), null);
    assert.notEqual(await history.get('pricing', started.runId), null);
  });

  it('refuses names that would escape the flow prefix', () => {
    assert.throws(() => BlobRunHistory.blobName('../x', 'pricing-incremental.20261201T020000.000Z'));
  });
});

describe('run view (record + live instance status)', () => {
  const running = record('2026-12-01T02:00:00.000Z');
  it('decodes the start time from the run id', () => {
    assert.equal(runIdStart(running.runId)?.toISOString(), '2026-12-01T02:00:00.000Z');
  });
  it('shows live progress of the same run, and the fate of a run whose instance moved on', () => {
    const progress = { runId: running.runId, links: { done: 1, total: 2 } };
    assert.deepEqual(
      runView(running, { runtimeStatus: 'Running', customStatus: progress, output: null }).progress,
      progress,
    );
    const next = { runId: `${running.instanceId}.20261202T020000.000Z` };
    assert.equal(
      runView(running, { runtimeStatus: 'Running', customStatus: next, output: null }).status,
      'abandoned',
    );
    assert.equal(runView(running, null).status, 'abandoned');
    const failed = runView(running, {
      runtimeStatus: 'Failed',
      customStatus: progress,
      output: 'boom\nstack',
    });
    assert.deepEqual([failed.status, failed.error], ['failed', 'boom']);
    assert.equal(
      runView(running, { runtimeStatus: 'Terminated', customStatus: progress, output: null }).status,
      'terminated',
    );
    const done = { ...running, status: 'completed' as const };
    assert.equal(
      runView(done, { runtimeStatus: 'Running', customStatus: next, output: null }).status,
      'completed',
    );
  });
});
