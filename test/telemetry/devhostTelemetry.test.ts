/**
 * Replay safety as Application Insights would see it: the app on devhost runs a flow in small
 * pages (many replays of flowSync and pairSync, continue-as-new), and the JSON lines in the host's
 * output tell each event of that run once, with its run id and link.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SyncApp } from '../e2e/support/batchHarness';
import { startSyncApp } from '../e2e/support/batchHarness';

type Line = Record<string, unknown>;

function telemetryLines(output: string): Line[] {
  const lines: Line[] = [];
  for (const text of output.split('\n')) {
    const at = text.indexOf('{"event":');
    if (at < 0) continue;
    try {
      lines.push(JSON.parse(text.slice(at)) as Line);
    } catch {
      // a line cut by the output buffer
    }
  }
  return lines;
}

describe('telemetry on devhost', () => {
  let app: SyncApp;
  before(async () => {
    app = await startSyncApp();
  });
  after(async () => {
    await app?.close();
  });

  it("logs one run's start, links and finish once each, with its run id, despite replays", async () => {
    const status = await app.run('pricing', { mode: 'incremental', pageSize: 7 });
    assert.equal(status.runtimeStatus, 'Completed', JSON.stringify(status.output));
    const report = status.output as { runId: string; links: { link: { source: string; target: string } }[] };
    const links = report.links.map((l) => `${l.link.source}->${l.link.target}`).sort();
    // Lines reach the output shortly after the invocation that wrote them.
    await new Promise((r) => setTimeout(r, 500));
    const mine = telemetryLines(app.host.output()).filter((l) => l.flowRunId === report.runId);
    const count = (event: string) => mine.filter((l) => l.event === event).length;
    assert.equal(count('runStarted'), 1);
    assert.equal(count('runFinished'), 1);
    const of = (event: string) =>
      mine
        .filter((l) => l.event === event)
        .map((l) => l.link as string)
        .sort();
    assert.deepEqual(of('linkStarted'), links);
    assert.deepEqual(of('linkFinished'), links);
    // Every page of the run was logged by its activity once, with flow and zone.
    const pages = mine.filter((l) => l.event === 'pageExtracted');
    assert.ok(pages.length > links.length, `small pages: ${pages.length} pages over ${links.length} links`);
    const keys = pages.map((l) => `${String(l.link)}|${String(l.table)}|${String(l.page)}`);
    assert.equal(new Set(keys).size, keys.length, 'a page logged twice');
    for (const l of mine) {
      assert.equal(l.flow, 'pricing');
      assert.equal(typeof l.zone, 'string');
    }
    // Orchestration lines name their instance; the run's sub-orchestrations are under its run id.
    for (const l of mine.filter((x) => String(x.event).startsWith('link')))
      assert.match(String(l.instanceId), /^pricing-incremental/);
    // Rows moved are measured per applied page (as metric lines locally).
    const moved = telemetryLines(app.host.output()).filter(
      (l) => l.event === 'metric' && l.metric === 'regionsync.rows_moved' && l.flow === 'pricing',
    );
    assert.ok(moved.length > 0);
    assert.ok(moved.every((m) => links.includes(String(m.link))));
  });
});
