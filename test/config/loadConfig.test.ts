import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../config/configError.js';
import { DEFAULT_TOPOLOGY } from '../../config/defaultTopology.js';
import { loadConfig } from '../../config/loadConfig.js';
import { ncrontabProblem } from '../../config/ncrontab.js';
import { flowOf, linksOf } from '../../sync/topology.js';

const KEY = Buffer.alloc(32, 9).toString('base64');
const env = (extra: Record<string, string> = {}) => ({ REGION_SYNC_PSEUDONYM_KEY: KEY, ...extra });

function problemsOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.code, 'invalid-config');
    assert.equal(e.retryable, false);
    for (const p of e.problems) assert.ok(e.message.includes(p.path), `message lists ${p.path}`);
    return [...e.problems];
  }
  assert.fail('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('loads the embedded default: hub cn, spokes sea/eu/latam, three flows, frozen', () => {
    const config = loadConfig(env(), { cwd: '/srv/app' });
    assert.equal(config.topologySource, 'embedded-default');
    assert.deepEqual(
      config.topology.regions.map((r) => [r.id, r.role]),
      [
        ['cn', 'hub'],
        ['sea', 'spoke'],
        ['eu', 'spoke'],
        ['latam', 'spoke'],
      ],
    );
    assert.deepEqual(config.stores.eu, { kind: 'sqlite', file: '/srv/app/.data/regions/eu.sqlite' });
    const pricing = flowOf(config.topology, 'pricing');
    assert.equal(pricing.direction, 'bidirectional');
    assert.equal(linksOf(config.topology, pricing).length, 6);
    assert.equal(flowOf(config.topology, 'promotions').direction, 'hub-to-spokes');
    const orders = flowOf(config.topology, 'orders');
    assert.equal(orders.direction, 'spokes-to-hub');
    assert.equal(orders.realtime, true);
    for (const f of config.topology.flows) assert.match(f.schedule.fullCompare, /^\S+ \S+ \S+ 1 \* \*$/);
    assert.ok(
      Object.isFrozen(config) &&
        Object.isFrozen(config.topology.flows[0]) &&
        Object.isFrozen(orders.residency[0]),
    );
    assert.throws(() => {
      (config.staging as { container: string }).container = 'x';
    }, TypeError);
    assert.equal(config.staging.connectionString, 'UseDevelopmentStorage=true');
  });

  it('gives ONE error listing every problem of a malformed topology, each with its path', () => {
    const bad = {
      regions: [
        {
          id: 'cn',
          displayName: 'HQ',
          role: 'hub',
          priority: 100,
          store: { kind: 'sqlite', path: 'a.sqlite' },
        },
        { id: 'CN-2', displayName: 'X', role: 'boss', priority: 'high', store: { kind: 'oracle' } },
        {
          id: 'eu',
          displayName: 'EU',
          role: 'spoke',
          priority: 1,
          store: { kind: 'mssql', connectionSetting: 'EU_SQL' },
        },
        {
          id: 'cn',
          displayName: 'Dup',
          role: 'hub',
          priority: 1,
          store: { kind: 'sqlite', path: 'a.sqlite' },
        },
      ],
      flows: [
        {
          name: 'pricing',
          direction: 'sideways',
          tables: [{ canonical: 'price list', keyColumns: ['sku'], columns: ['currency', 'modified_at'] }],
          schedule: { incremental: '0 0 1 * *', fullCompare: '0 61 3 1 * *' },
          pageSize: 0,
          conflictPolicy: 'origin-wins',
          concurrencyPerTarget: 2,
          residency: [{ from: 'mars', to: '*', table: 'orders', drop: ['x'] }],
          surprise: true,
        },
      ],
    };
    const problems = problemsOf(() => loadConfig(env({ REGION_SYNC_TOPOLOGY_JSON: JSON.stringify(bad) })));
    const paths = new Set(problems.map((p) => p.path));
    for (const expected of [
      'topology.regions[1].id',
      'topology.regions[1].role',
      'topology.regions[1].priority',
      'topology.regions[1].store.kind',
      'topology.regions[3].id',
      'topology.regions[3].store.path',
      'topology.regions',
      'topology.regions[2].store.connectionSetting',
      'topology.flows[0].direction',
      'topology.flows[0].tables[0].canonical',
      'topology.flows[0].tables[0].keyColumns[0]',
      'topology.flows[0].tables[0].columns[1]',
      'topology.flows[0].schedule.incremental',
      'topology.flows[0].schedule.fullCompare',
      'topology.flows[0].pageSize',
      'topology.flows[0].homeRegionColumn',
      'topology.flows[0].residency[0].from',
      'topology.flows[0].residency[0].table',
    ]) {
      assert.ok(paths.has(expected), `missing problem at ${expected}; got:\n${[...paths].join('\n')}`);
    }
    assert.ok(
      problems.some((p) => p.path === 'topology.flows[0]' && /surprise/.test(p.message)),
      'unknown keys are refused',
    );
  });

  it('refuses hostile table and column names in config, naming where they are', () => {
    const doc = structuredClone(DEFAULT_TOPOLOGY) as unknown as {
      flows: { tables: { canonical: string; regionNames?: Record<string, unknown> }[] }[];
    };
    doc.flows[0]!.tables[0]!.regionNames = {
      sea: { table: 'price_list]; DROP TABLE users; --', columns: { list_price: 'p" OR 1=1 --' } },
    };
    doc.flows[1]!.tables[0]!.canonical = "promotion'; DELETE FROM sync_checkpoint; --";
    const paths = problemsOf(() => loadConfig(env({ REGION_SYNC_TOPOLOGY_JSON: JSON.stringify(doc) }))).map(
      (p) => p.path,
    );
    assert.ok(paths.includes('topology.flows[0].tables[0].regionNames.sea.table'));
    assert.ok(paths.includes('topology.flows[0].tables[0].regionNames.sea.columns.list_price'));
    assert.ok(paths.includes('topology.flows[1].tables[0].canonical'));
  });

  it('reports settings problems together with topology problems', () => {
    const problems = problemsOf(() =>
      loadConfig({
        REGION_SYNC_PSEUDONYM_KEY: 'c2hvcnQ=',
        REGION_SYNC_STAGING_CONTAINER: 'Bad_Name',
        REGION_SYNC_STAGING_RETENTION_DAYS: '0',
        REGION_SYNC_STAGING_PURGE_SCHEDULE: '0 30 4 * *',
      }),
    );
    assert.deepEqual(
      problems.map((p) => p.path).sort(),
      [
        'settings.REGION_SYNC_PSEUDONYM_KEY',
        'settings.REGION_SYNC_STAGING_CONTAINER',
        'settings.REGION_SYNC_STAGING_RETENTION_DAYS',
        'settings.REGION_SYNC_STAGING_PURGE_SCHEDULE',
      ].sort(),
    );
    assert.match(
      problems.find((p) => p.path === 'settings.REGION_SYNC_STAGING_PURGE_SCHEDULE')?.message ?? '',
      /6 fields/,
    );
    const missingKey = problemsOf(() => loadConfig({}));
    assert.match(missingKey[0]?.message ?? '', /pseudonymizes/);
  });

  it('reads a topology file, resolves mssql connection settings, and refuses path plus inline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sync-config-'));
    try {
      const doc = structuredClone(DEFAULT_TOPOLOGY) as unknown as { regions: { store: unknown }[] };
      doc.regions[0]!.store = { kind: 'mssql', connectionSetting: 'CN_SQL' };
      const file = join(dir, 'topology.json');
      writeFileSync(file, JSON.stringify(doc));
      const config = loadConfig(
        env({ REGION_SYNC_TOPOLOGY_PATH: file, CN_SQL: 'Server=tcp:cn.example;Database=crm' }),
      );
      assert.deepEqual(config.stores.cn, {
        kind: 'mssql',
        connectionString: 'Server=tcp:cn.example;Database=crm',
      });
      const missing = problemsOf(() => loadConfig(env({ REGION_SYNC_TOPOLOGY_PATH: file })));
      assert.deepEqual(
        missing.map((p) => p.path),
        ['topology.regions[0].store.connectionSetting'],
      );
      const both = problemsOf(() =>
        loadConfig(env({ REGION_SYNC_TOPOLOGY_PATH: file, REGION_SYNC_TOPOLOGY_JSON: '{}' })),
      );
      assert.equal(both.length, 1);
      const unreadable = problemsOf(() =>
        loadConfig(env({ REGION_SYNC_TOPOLOGY_PATH: join(dir, 'nope.json') })),
      );
      assert.match(unreadable[0]?.message ?? '', /cannot read/);
      const notJson = problemsOf(() => loadConfig(env({ REGION_SYNC_TOPOLOGY_JSON: '{regions:' })));
      assert.match(notJson[0]?.message ?? '', /not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('validates NCRONTAB with six fields', () => {
    assert.equal(ncrontabProblem('0 */5 * * * *'), null);
    assert.equal(ncrontabProblem('0 30 9 * Jan-Mar Mon-Fri'), null);
    assert.equal(ncrontabProblem('0 0 3 1 * *'), null);
    assert.match(ncrontabProblem('*/5 * * * *') ?? '', /6 fields/);
    assert.match(ncrontabProblem('0 0 24 * * *') ?? '', /hour/);
    assert.match(ncrontabProblem('0 0 0 0 * *') ?? '', /day/);
    assert.match(ncrontabProblem('0 0 0 * * 7-1') ?? '', /day-of-week|descending/);
    assert.match(ncrontabProblem('0 0/0 * * * *') ?? '', /step/);
  });
});
