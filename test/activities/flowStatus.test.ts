/**
 * The status endpoint's lag over real SQLite stores: counted in the source's database by origin
 * (what each link will send), never by reading the pending rows.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createFlowStatus, LAG_SCAN_LIMIT } from '../../activities/flowStatus.js';
import { SqliteRegionStore } from '../../adapters/sqliteRegionStore.js';
import { loadConfig } from '../../config/loadConfig.js';
import type { ChangeCursor, RegionId, SyncRow } from '../../sync/model.js';
import { OPEN_GUARD } from '../../sync/model.js';
import type { RegionStore } from '../../sync/ports.js';
import type { FlowTable } from '../../sync/topology.js';
import { conflictPolicyFor, flowOf, tableMappingFor } from '../../sync/topology.js';

const topology = loadConfig({ REGION_SYNC_PSEUDONYM_KEY: Buffer.alloc(32, 9).toString('base64') }).topology;
const pricing = flowOf(topology, 'pricing');
const [table] = pricing.tables as [FlowTable];
const AT = '2026-12-04T10:00:00.000Z';

function priceRows(from: number, count: number, origins: readonly RegionId[]): SyncRow[] {
  return Array.from({ length: count }, (_, j) => ({
    values: { sku: `SKU-${String(from + j).padStart(7, '0')}`, currency: 'USD', list_price: 1 },
    modifiedAt: AT,
    originRegion: origins[(from + j) % origins.length] as RegionId,
    isDeleted: false,
  }));
}

describe('flow status lag over SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flow-status-'));
  const opened: SqliteRegionStore[] = [];
  after(async () => {
    for (const s of opened) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Fresh stores for every region; the status sees them through a port that refuses row reads. */
  function regions(name: string) {
    const stores = new Map<RegionId, SqliteRegionStore>();
    for (const r of topology.regions) {
      const s = new SqliteRegionStore({ region: r.id, file: join(dir, `${name}-${r.id}.sqlite`) });
      opened.push(s);
      stores.set(r.id, s);
    }
    const get = (r: RegionId) => stores.get(r) as SqliteRegionStore;
    const write = (
      region: RegionId,
      rows: SyncRow[],
      checkpoint?: { source: RegionId; cursor: ChangeCursor },
    ) =>
      get(region).applyPage({
        table: tableMappingFor(table, region),
        rows,
        policy: conflictPolicyFor(topology, pricing),
        guard: OPEN_GUARD,
        checkpoint: {
          flow: checkpoint === undefined ? 'seed' : 'pricing',
          source: checkpoint?.source ?? 'seed',
          target: region,
          table: table.canonical,
          cursor: checkpoint?.cursor ?? { change: '0', key: [] },
          runId: 'r1',
          updatedAt: AT,
        },
        audit: {
          flow: 'seed',
          source: 'seed',
          target: region,
          runId: 'r1',
          table: table.canonical,
          policy: '',
          at: AT,
        },
      });
    const store = (r: RegionId): Promise<RegionStore> =>
      Promise.resolve(
        new Proxy(get(r), {
          get(target, prop, receiver) {
            if (prop === 'readChanges') throw new Error('the status must not read pending rows');
            const v: unknown = Reflect.get(target, prop, receiver);
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
        }),
      );
    const status = createFlowStatus({
      topology,
      zone: 'cn',
      store,
      now: () => new Date('2026-12-04T12:00:00.000Z'),
    });
    return { get, write, status };
  }

  it('counts each hub link exactly by origin, past a checkpoint, beyond a few thousand changes', async () => {
    const { get, write, status } = regions('mixed');
    // 12000 changes: half from the hub itself, a quarter each from sea and eu.
    assert.equal((await write('cn', priceRows(0, 12_000, ['cn', 'sea', 'cn', 'eu']))).kind, 'applied');
    // sea has taken the first 6000 changes.
    const page = await get('cn').readChanges({
      table: tableMappingFor(table, 'cn'),
      after: null,
      limit: 6000,
    });
    assert.ok(page.nextCursor !== null);
    await write('sea', [], { source: 'cn', cursor: page.nextCursor });

    const byTarget = Object.fromEntries(
      (await status('pricing')).map((l) => [
        l.target,
        l.tables.map((t) => [t.lagChanges, t.lagCapped, t.lagSeconds]),
      ]),
    );
    // pricing forwards spoke rows, but never back to their origin.
    assert.deepEqual(byTarget, {
      sea: [[4500, false, 7200]],
      eu: [[9000, false, null]],
      latam: [[12_000, false, null]],
    });
  });

  it('says the count is capped only when more changes than the limit are pending', async () => {
    const { write, status } = regions('capped');
    await write('cn', priceRows(0, LAG_SCAN_LIMIT + 2, ['cn', 'sea']));
    const lag = async () =>
      Object.fromEntries(
        (await status('pricing')).map((l) => [l.target, [l.tables[0]?.lagChanges, l.tables[0]?.lagCapped]]),
      );
    // latam would get every change, sea only the hub's half.
    assert.deepEqual(await lag(), {
      sea: [LAG_SCAN_LIMIT / 2 + 1, false],
      eu: [LAG_SCAN_LIMIT, true],
      latam: [LAG_SCAN_LIMIT, true],
    });
  });
});
