import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SqliteRegionStore } from '../../adapters/sqliteRegionStore.js';
import type { ChangeCursor, SyncRow, TableMapping } from '../../sync/model.js';
import { OPEN_GUARD } from '../../sync/model.js';
import type { ApplyPageRequest } from '../../sync/ports.js';
import { isoAt, policy, priceMapping, priceRow } from '../support/syncFixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'apply-worker-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function request(
  table: TableMapping,
  rows: SyncRow[],
  name: Parameters<typeof policy>[0],
  runId: string,
  cursor: ChangeCursor,
): ApplyPageRequest {
  const link = { flow: 'pricing', source: 'cn', target: 'sea' };
  return {
    table,
    rows,
    policy: policy(name),
    guard: OPEN_GUARD,
    checkpoint: { ...link, table: 'price_list', cursor, runId, updatedAt: isoAt(0) },
    audit: { ...link, runId, table: 'price_list', policy: name, at: isoAt(0) },
  };
}

/** Pages with new keys, conflicting versions (older, newer, same ms other region), tombstones, repeats. */
function pages(seed: number): SyncRow[][] {
  const regions = ['cn', 'sea', 'eu', 'latam'];
  const out: SyncRow[][] = [];
  for (let p = 0; p < 4; p++) {
    const rows: SyncRow[] = [];
    for (let i = 0; i < 600; i++) {
      const k = (i * 7 + p * 131 + seed) % 900;
      rows.push(
        priceRow(k, {
          price: (k * 13 + p) % 50,
          modifiedAt: isoAt(((k + p * 3 + seed) % 5) * 1000),
          originRegion: regions[(k + p) % 4] as string,
          isDeleted: (k + p) % 11 === 0,
        }),
      );
    }
    // Keys are unique within a page, as a keyset page's are.
    const seen = new Set<string>();
    out.push(
      rows.filter((r) => !seen.has(String(r.values.sku)) && seen.add(String(r.values.sku)) !== undefined),
    );
  }
  return out;
}

describe('SQLite apply worker: large pages on a worker thread decide and write exactly as on the store connection', () => {
  for (const name of ['last-writer-wins', 'hub-wins', 'origin-wins'] as const) {
    it(`${name}: same counts, rows, change values, checkpoint and audit; re-apply changes nothing`, async () => {
      const file = new SqliteRegionStore({ region: 'sea', file: join(dir, `${name}.sqlite`) });
      const memory = new SqliteRegionStore({ region: 'sea', file: ':memory:' });
      const table = priceMapping();
      try {
        await file.migrate([table]);
        await memory.migrate([table]);
        const ps = [...pages(3), ...pages(3)]; // every page twice: the second pass is a re-apply
        for (const [i, rows] of ps.entries()) {
          assert.ok(rows.length >= 256, 'large enough for the worker');
          const cursor = { change: String(i + 1), key: ['SKU', 'USD'] };
          const a = await file.applyPage(request(table, rows, name, `run-${i % 4}`, cursor));
          const b = await memory.applyPage(request(table, rows, name, `run-${i % 4}`, cursor));
          assert.deepEqual(a, b, `page ${i}`);
          if (i >= 4) {
            assert.equal(a.kind === 'applied' && a.inserted + a.updated, 0, `page ${i} re-applied`);
          }
        }
        const dump = (s: SqliteRegionStore) =>
          s.database.prepare('SELECT * FROM price_list ORDER BY sku, currency').all();
        assert.deepEqual(dump(file), dump(memory));
        assert.deepEqual(
          await file.highWaterMark(table),
          await memory.highWaterMark(table),
          're-applied pages produced no change values',
        );
        const link = { flow: 'pricing', source: 'cn', target: 'sea' };
        assert.deepEqual(
          await file.getCheckpoint(link, 'price_list'),
          await memory.getCheckpoint(link, 'price_list'),
        );
        for (let r = 0; r < 4; r++)
          assert.deepEqual(await file.readAudit(`run-${r}`), await memory.readAudit(`run-${r}`));
      } finally {
        await file.close();
        await memory.close();
      }
    });
  }

  it('a page that fails on the worker writes nothing, not even its checkpoint, and the error keeps its kind', async () => {
    const store = new SqliteRegionStore({ region: 'sea', file: join(dir, 'fail.sqlite') });
    const table = priceMapping();
    try {
      await store.migrate([table]);
      store.database.exec(
        "CREATE TRIGGER no_bad BEFORE INSERT ON price_list WHEN NEW.sku = 'SKU-000300' BEGIN SELECT RAISE(ABORT, 'constraint failed'); END",
      );
      const rows = Array.from({ length: 400 }, (_, i) => priceRow(i));
      await assert.rejects(
        store.applyPage(request(table, rows, 'last-writer-wins', 'run-x', { change: '9', key: ['a', 'b'] })),
        (e: unknown) => e instanceof Error && e.name === 'SyncError' && /applyPage/.test(e.message),
      );
      assert.equal(store.database.prepare('SELECT count(*) FROM price_list').pluck().get(), 0);
      assert.equal(
        await store.getCheckpoint({ flow: 'pricing', source: 'cn', target: 'sea' }, 'price_list'),
        null,
      );
    } finally {
      await store.close();
    }
  });
});
