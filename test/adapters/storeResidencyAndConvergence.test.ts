/**
 * Through real SQLite region files: PII never reaches another region's database, and conflicting
 * edits converge to the same rows in every region under each policy.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEFAULT_TOPOLOGY } from '../../config/defaultTopology.js';
import { topologyProblems } from '../../config/topologySchema.js';
import { SqliteRegionStore } from '../../adapters/sqliteRegionStore.js';
import { guardFor } from '../../sync/residency.js';
import type { ConflictPolicyName, SyncRow, TableMapping } from '../../sync/model.js';
import { OPEN_GUARD } from '../../sync/model.js';
import { prepareOutbound } from '../../sync/outbound.js';
import type { Topology } from '../../sync/topology.js';
import { flowOf, residencyFor, tableMappingFor } from '../../sync/topology.js';
import { isoAt, policy, priceMapping, priceRow, ISO0 } from '../support/syncFixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'store-e2e-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const KEY = Buffer.alloc(32, 5).toString('base64');

describe('PII stays in its region (SQLite files)', () => {
  it('raw EU customer data is never written to the hub database file', async () => {
    const { topology } = topologyProblems(structuredClone(DEFAULT_TOPOLOGY));
    const topo = topology as Topology;
    const flow = flowOf(topo, 'orders');
    const link = { flow: 'orders', source: 'eu', target: 'cn' };
    const euMap = tableMappingFor(flow.tables[0]!, 'eu');
    const cnMap = tableMappingFor(flow.tables[0]!, 'cn');
    const eu = new SqliteRegionStore({ region: 'eu', file: join(dir, 'pii', 'eu.sqlite') });
    const cn = new SqliteRegionStore({ region: 'cn', file: join(dir, 'pii', 'cn.sqlite') });
    await eu.migrate([euMap]);
    await cn.migrate([cnMap]);
    const pii: string[] = [];
    const rows: SyncRow[] = Array.from({ length: 200 }, (_, i) => {
      const person = {
        name: `Zofia Kowalska-${i}`,
        email: `zofia.${i}@example.eu`,
        phone: `+48 600 100 ${1000 + i}`,
        addr: `ul. Lipowa ${i}, Kraków`,
        id: `EU-CUST-${7000 + i}`,
      };
      pii.push(person.name, person.email, person.phone, person.addr, person.id);
      return {
        values: {
          order_id: `eu-${i}`,
          home_region: 'eu',
          version: 1,
          customer_id: person.id,
          customer_name: person.name,
          customer_email: person.email,
          customer_phone: person.phone,
          shipping_address: person.addr,
          currency: 'EUR',
          total_amount: i,
          status: 'open',
          ordered_at: ISO0,
        },
        modifiedAt: ISO0,
        originRegion: 'eu',
        isDeleted: false,
      };
    });
    // The EU CRM writes its own orders (as if local users did).
    await eu.applyPage({
      table: euMap,
      rows,
      policy: policy('origin-wins'),
      guard: OPEN_GUARD,
      checkpoint: {
        flow: 'local',
        source: 'eu',
        target: 'eu',
        table: 'sales_order',
        cursor: { change: '0', key: [] },
        runId: 'crm',
        updatedAt: ISO0,
      },
      audit: {
        flow: 'local',
        source: 'eu',
        target: 'eu',
        table: 'sales_order',
        runId: 'crm',
        policy: 'local',
        at: ISO0,
      },
    });
    const guard = guardFor(residencyFor(flow, link, 'sales_order'));
    // Attack: an extract that forgot the policy is refused by the hub store.
    const raw = await eu.readChanges({ table: euMap, after: null, limit: 50 });
    const refused = await cn.applyPage({
      table: cnMap,
      rows: raw.rows.map(({ cursor: _c, ...r }) => r),
      policy: policy('origin-wins'),
      guard,
      checkpoint: { ...link, table: 'sales_order', cursor: raw.nextCursor!, runId: 'bad', updatedAt: ISO0 },
      audit: { ...link, table: 'sales_order', runId: 'bad', policy: 'none', at: ISO0 },
    });
    assert.equal(refused.kind, 'rejected');
    // The real pipeline: extract, residency, load.
    let cursor = null;
    for (;;) {
      const page = await eu.readChanges({ table: euMap, after: cursor, limit: 64 });
      const out = prepareOutbound(page.rows, topo, flow, link, 'sales_order', { pseudonymKey: KEY });
      const res = await cn.applyPage({
        table: cnMap,
        rows: out.rows,
        policy: policy('origin-wins'),
        guard,
        checkpoint: { ...link, table: 'sales_order', cursor: page.nextCursor!, runId: 'r1', updatedAt: ISO0 },
        audit: { ...link, table: 'sales_order', runId: 'r1', policy: 'origin-wins; drop+hmac', at: ISO0 },
      });
      assert.equal(res.kind, 'applied');
      cursor = page.nextCursor;
      if (!page.hasMore) break;
    }
    const hubRows = await cn.readRows({ table: cnMap, afterKey: null, limit: 1000 });
    assert.equal(hubRows.length, 200);
    await cn.close();
    await eu.close();
    // Scan every byte the hub region has on disk (database, WAL, shared memory).
    const files = readdirSync(join(dir, 'pii')).filter((f) => f.startsWith('cn.sqlite'));
    const bytes = files.map((f) => readFileSync(join(dir, 'pii', f)).toString('latin1')).join('');
    const utf8 = files.map((f) => readFileSync(join(dir, 'pii', f)).toString('utf8')).join('');
    for (const value of pii) {
      assert.ok(!bytes.includes(value) && !utf8.includes(value), `hub database contains ${value}`);
    }
    // The EU file still has them (the test would catch a scan that finds nothing anywhere).
    const euBytes = readdirSync(join(dir, 'pii'))
      .filter((f) => f.startsWith('eu.sqlite'))
      .map((f) => readFileSync(join(dir, 'pii', f)).toString('utf8'))
      .join('');
    assert.ok(euBytes.includes(pii[0]!));
  });
});

describe('convergence across regional databases', () => {
  const policies: ConflictPolicyName[] = ['last-writer-wins', 'hub-wins', 'origin-wins'];
  for (const name of policies) {
    it(`${name}: three regions receiving the same conflicting edits in different orders end identical`, async () => {
      const table: TableMapping = {
        ...priceMapping(),
        columns: { ...priceMapping().columns, home_region: 'home_region' },
      };
      const edits: SyncRow[] = [];
      for (let k = 0; k < 30; k++) {
        for (const [origin, t] of [
          ['cn', k % 3],
          ['sea', 1],
          ['eu', (k * 7) % 3],
          ['latam', 2],
        ] as const) {
          const base = priceRow(k, { modifiedAt: isoAt(t), originRegion: origin, price: k * 10 + t });
          edits.push({
            ...base,
            values: { ...base.values, home_region: k % 2 === 0 ? 'sea' : 'cn', price_book: origin },
          });
        }
      }
      const orders = [
        edits,
        [...edits].reverse(),
        edits.filter((_, i) => i % 2 === 0).concat(edits.filter((_, i) => i % 2 === 1)),
      ];
      const finals: SyncRow[][] = [];
      for (const [i, region] of ['cn', 'sea', 'eu'].entries()) {
        const store = new SqliteRegionStore({ region, file: join(dir, `conv-${name}`, `${region}.sqlite`) });
        await store.migrate([table]);
        // One edit per page, in this region's arrival order, some pages twice.
        for (const [j, edit] of orders[i]!.entries()) {
          for (let rep = 0; rep < (j % 5 === 0 ? 2 : 1); rep++) {
            const res = await store.applyPage({
              table,
              rows: [edit],
              policy: policy(name),
              guard: OPEN_GUARD,
              checkpoint: {
                flow: 'pricing',
                source: edit.originRegion,
                target: region,
                table: 'price_list',
                cursor: { change: String(j), key: [] },
                runId: 'c',
                updatedAt: ISO0,
              },
              audit: {
                flow: 'pricing',
                source: edit.originRegion,
                target: region,
                table: 'price_list',
                runId: 'c',
                policy: name,
                at: ISO0,
              },
            });
            assert.equal(res.kind, 'applied');
          }
        }
        finals.push([...(await store.readRows({ table, afterKey: null, limit: 1000 }))]);
        await store.close();
      }
      assert.equal(finals[0]!.length, 30);
      assert.deepEqual(finals[1], finals[0]);
      assert.deepEqual(finals[2], finals[0]);
    });
  }
});
