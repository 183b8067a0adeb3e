/**
 * Crash-resume: devhost is SIGKILLed in the middle of a pricing run and started again on the same
 * task hub, Azurite data and regional databases; the run finishes with every row where it belongs,
 * none lost and none twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SyncApp } from './support/batchHarness';
import { startSyncApp } from './support/batchHarness';
import { SPOKES, assertPricingConverged } from './support/expectations';

interface Progress {
  pages?: number;
  links?: { done: number; total: number };
}

describe('batch sync crash-resume on devhost', () => {
  let app: SyncApp;
  before(async () => {
    app = await startSyncApp({
      seed: {
        hubPrices: 800,
        spokePrices: 20,
        promotions: 4,
        ordersPerSpoke: 2,
        base: '2026-01-01T00:00:00.000Z',
      },
      persistentHost: true,
    });
  });
  after(async () => {
    await app?.close();
  });

  it('finishes a run killed with SIGKILL mid-way after a restart, with no row lost or duplicated', async () => {
    const started = await app.post('pricing', { mode: 'incremental', pageSize: 10 });
    assert.equal(started.status, 202);
    const uri = String(started.json.statusQueryGetUri);
    // Kill once the outbound wave (80+ pages per link) is under way.
    const deadline = Date.now() + 60_000;
    for (;;) {
      assert.ok(Date.now() < deadline, 'the run made no progress for a minute');
      const s = (await (await fetch(uri)).json()) as { runtimeStatus: string; customStatus: Progress | null };
      assert.ok(
        s.runtimeStatus === 'Running' || s.runtimeStatus === 'Pending',
        `ended before the kill: ${s.runtimeStatus}`,
      );
      if ((s.customStatus?.pages ?? 0) >= 40) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const killed = await app.host.kill();
    assert.equal(killed.signal, 'SIGKILL');
    const partial = SPOKES.map((s) => app.rows(s, 'price_list').size);
    const hubSize = app.rows('cn', 'price_list').size;
    assert.ok(
      partial.some((n) => n < hubSize),
      `every spoke was already complete (${partial.join(', ')} of ${hubSize}): the kill came too late`,
    );

    await app.restart();
    const final = await app.waitForRun(uri, 120_000);
    assert.equal(final.runtimeStatus, 'Completed', JSON.stringify(final.output));
    assertPricingConverged(app);

    // Exactly once in effect: every staged row of a link was applied (a re-run page finds its rows
    // unchanged), and the link's checkpoint is at the source's high-water mark.
    const report = final.output as {
      links: {
        link: { source: string; target: string };
        rowsStaged: number;
        inserted: number;
        updated: number;
        unchanged: number;
        lostConflicts: number;
      }[];
    };
    for (const l of report.links) {
      assert.equal(
        l.inserted + l.updated + l.unchanged + l.lostConflicts,
        l.rowsStaged,
        `${l.link.source}>${l.link.target}`,
      );
    }
    const hubFromHub = [...app.rows('cn', 'price_list').values()].filter(
      (r) => r.origin_region === 'cn',
    ).length;
    for (const spoke of SPOKES) {
      const fromHub = [...app.rows(spoke, 'price_list').values()].filter(
        (r) => r.origin_region === 'cn',
      ).length;
      assert.equal(fromHub, hubFromHub, `${spoke} holds ${fromHub} hub prices of ${hubFromHub}`);
      const cp = app
        .db(spoke)
        .prepare(
          "SELECT cursor_change FROM sync_checkpoint WHERE flow = 'pricing' AND source = 'cn' AND table_name = 'price_list'",
        )
        .get() as { cursor_change: string };
      const hwm = app.db('cn').prepare('SELECT max(change_seq) AS m FROM price_list').get() as { m: number };
      assert.equal(Number(cp.cursor_change), hwm.m, `${spoke} checkpoint`);
    }
  });
});
