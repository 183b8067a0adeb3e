/**
 * flowSync / pairSync behaviour read from the durable histories the real durable-functions
 * produced on devhost: the per-target cap, the inbound-then-outbound waves, pairSync's
 * continue-as-new, and progress that adds up.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SyncApp } from '../e2e/support/batchHarness';
import { startSyncApp } from '../e2e/support/batchHarness';
import { assertPricingConverged } from '../e2e/support/expectations';

interface HistoryItem {
  EventType: string;
  FunctionName?: string;
  ScheduledTime?: string;
  Timestamp: string;
  Result?: unknown;
}

interface LinkProgress {
  link: { source: string; target: string };
  pages: number;
  done: boolean;
}

describe('flowSync orchestration', () => {
  let app: SyncApp;
  before(async () => {
    app = await startSyncApp({
      seed: {
        hubPrices: 40,
        spokePrices: 24,
        promotions: 4,
        ordersPerSpoke: 2,
        base: '2026-01-01T00:00:00.000Z',
      },
    });
  });
  after(async () => {
    await app?.close();
  });

  it('caps links per target, runs inbound links before outbound ones, and pairSync continues as new', async () => {
    const started = await app.post('pricing', { mode: 'incremental', pageSize: 2 });
    assert.equal(started.status, 202);
    const final = await app.waitForRun(String(started.json.statusQueryGetUri), 90_000);
    assert.equal(final.runtimeStatus, 'Completed', JSON.stringify(final.output));
    assertPricingConverged(app);

    const id = String(started.json.id);
    const res = await fetch(
      `${app.host.origin}/runtime/webhooks/durabletask/instances/${encodeURIComponent(id)}?showHistory=true&showHistoryOutput=true`,
    );
    const status = (await res.json()) as {
      historyEvents: HistoryItem[];
      customStatus: { runId: string; pages: number; links: { done: number; total: number } };
    };
    const calls = status.historyEvents
      .filter((e) => e.EventType === 'SubOrchestrationInstanceCompleted' && e.FunctionName === 'pairSync')
      .map((e) => {
        const p = e.Result as LinkProgress;
        return {
          target: p.link.target,
          source: p.link.source,
          from: Date.parse(e.ScheduledTime ?? ''),
          to: Date.parse(e.Timestamp),
          pages: p.pages,
        };
      });
    assert.ok(calls.length >= 12, `only ${calls.length} pairSync calls`);

    // In flight per target at each start: never above the flow's cap (2); the hub's three inbound
    // links do reach it.
    const maxInFlight = (target: string) => {
      const mine = calls.filter((c) => c.target === target);
      return Math.max(...mine.map((c) => mine.filter((o) => o.from <= c.from && c.from < o.to).length));
    };
    assert.equal(maxInFlight('cn'), 2);
    for (const spoke of ['sea', 'eu', 'latam']) assert.ok(maxInFlight(spoke) <= 2);

    const inbound = calls.filter((c) => c.target === 'cn');
    const outbound = calls.filter((c) => c.source === 'cn');
    assert.ok(
      Math.max(...inbound.map((c) => c.to)) <= Math.min(...outbound.map((c) => c.from)),
      'outbound started before inbound ended',
    );
    // Different targets run side by side.
    assert.ok(
      outbound.some((a) => outbound.some((b) => a.target !== b.target && a.from < b.to && b.from < a.to)),
    );

    // A pairSync call walks 8 pages in two generations of 4 (continue-as-new in between).
    const first = await fetch(
      `${app.host.origin}/runtime/webhooks/durabletask/instances/${encodeURIComponent(`${status.customStatus.runId}~cn>sea~w1`)}?showInput=true`,
    );
    const sub = (await first.json()) as {
      runtimeStatus: string;
      input: { pagesThisCall: number; progress: { pages: number } };
      output: LinkProgress;
    };
    assert.equal(sub.runtimeStatus, 'Completed');
    assert.equal(sub.input.pagesThisCall, 4, 'the last generation did not start after 4 pages');
    assert.equal(sub.output.pages, 8);

    // Progress adds up: the custom status counts every page the calls walked.
    const last = new Map<string, number>();
    for (const c of calls)
      last.set(`${c.source}>${c.target}`, Math.max(last.get(`${c.source}>${c.target}`) ?? 0, c.pages));
    assert.equal(
      status.customStatus.pages,
      [...last.values()].reduce((a, b) => a + b, 0),
    );
    assert.deepEqual(status.customStatus.links, { ...status.customStatus.links, done: 6, total: 6 });
  });

  it('continues as new between sub-orchestrations and still reports the whole run', async () => {
    const request = {
      flow: 'pricing',
      mode: 'incremental',
      window: { from: '2000-01-01T00:00:00.000Z' },
      dryRun: false,
      pageSize: 2,
      trigger: 'test',
    };
    const id = 'pricing-can-test';
    const res = await fetch(`${app.host.origin}/runtime/webhooks/durabletask/orchestrators/flowSync/${id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ request, tuning: { completionsPerGeneration: 3 } }),
    });
    assert.equal(res.status, 202);
    const final = await app.waitForRun(
      `${app.host.origin}/runtime/webhooks/durabletask/instances/${id}`,
      90_000,
    );
    assert.equal(final.runtimeStatus, 'Completed', JSON.stringify(final.output));
    const status = (await (
      await fetch(`${app.host.origin}/runtime/webhooks/durabletask/instances/${id}?showInput=true`)
    ).json()) as { input: { state?: { calls: Record<string, number> } } };
    // The last generation started from carried state: the run continued as new at least once.
    assert.ok(status.input.state !== undefined, 'flowSync never continued as new');
    const calls = Object.values(status.input.state.calls).reduce((a, b) => a + b, 0);
    assert.ok(calls > 6, `only ${calls} pairSync calls`);
    const report = final.output as {
      links: { done: boolean; rowsRead: number; pages: number }[];
      totals: { pages: number; rowsWritten: number };
    };
    assert.equal(report.links.length, 6);
    assert.ok(report.links.every((l) => l.done && l.rowsRead > 0));
    assert.equal(
      report.totals.pages,
      report.links.reduce((n, l) => n + l.pages, 0),
    );
    // Everything was already in place: the backfill re-applied identical rows and wrote none.
    assert.equal(report.totals.rowsWritten, 0);
    assertPricingConverged(app);
  });
});
