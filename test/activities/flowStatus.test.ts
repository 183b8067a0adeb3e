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

  it('counts each hub link exactly by origin, past a checkpoint', async () => {
    const { get, write, status } = regions('mixed');
    // 800 changes (below LAG_SCAN_LIMIT): half from the hub itself, a quarter each from sea and eu.
    assert.equal((await write('cn', priceRows(0, 800, ['cn', 'sea', 'cn', 'eu']))).kind, 'applied');
    // sea has taken the first 400 changes.
    const page = await get('cn').readChanges({
      table: tableMappingFor(table, 'cn'),
      after: null,
      limit: 400,
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
      sea: [[300, false, 7200]],
      eu: [[600, false, null]],
      latam: [[800, false, null]],
    });
  });

  it('says the count is capped only when more changes than the limit are pending', async () => {
    const { write, status } = regions('capped');
    await write('cn', priceRows(0, LAG_SCAN_LIMIT + 2, ['cn', 'sea']));
    const lag = async () =>
      Object.fromEntries(
        (await status('pricing')).map((l) => [l.target, [l.tables[0]?.lagChanges, l.tables[0]?.lagCapped]]),
      );
    // The next LAG_SCAN_LIMIT changes are looked at: latam gets every one, sea only the hub's half.
    assert.deepEqual(await lag(), {
      sea: [LAG_SCAN_LIMIT / 2, true],
      eu: [LAG_SCAN_LIMIT, true],
      latam: [LAG_SCAN_LIMIT, true],
    });
  });

  it('looks at a bounded number of changes when few of them cross (a spoke full of rows it received)', async () => {
    const { get, write } = regions('received');
    // sea received LAG_SCAN_LIMIT + 1 rows from the hub, then changed 3 of its own.
    await write('sea', priceRows(0, LAG_SCAN_LIMIT + 1, ['cn']));
    await write('sea', priceRows(LAG_SCAN_LIMIT + 1, 3, ['sea']));
    let looked = 0;
    const counting = new Proxy(get('sea'), {
      get(target, prop, receiver) {
        const v: unknown = Reflect.get(target, prop, receiver);
        if (prop !== 'countChanges') return typeof v === 'function' ? (v as () => unknown).bind(target) : v;
        return async (request: Parameters<RegionStore['countChanges']>[0]) => {
          looked = request.limit;
          return target.countChanges(request);
        };
      },
    });
    const status = createFlowStatus({
      topology,
      zone: 'sea',
      store: (r) => Promise.resolve(r === 'sea' ? counting : get(r)),
      now: () => new Date('2026-12-04T12:00:00.000Z'),
    });
    const [toHub] = await status('pricing');
    assert.equal(looked, LAG_SCAN_LIMIT);
    // None of the changes looked at crosses; more wait beyond them, so the link is not caught up.
    assert.deepEqual(
      [
        toHub?.target,
        toHub?.tables[0]?.lagChanges,
        toHub?.tables[0]?.lagCapped,
        toHub?.tables[0]?.lagSeconds,
      ],
      ['cn', 0, true, null],
    );
  });
});
