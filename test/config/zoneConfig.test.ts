/**
 * The production topology document (config/topology.json, what the infra's
 * REGION_SYNC_TOPOLOGY_PATH names) and zone-aware config: a zone's app needs only the
 * connections of the regions its own work touches.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../config/configError.js';
import { DEFAULT_TOPOLOGY } from '../../config/defaultTopology.js';
import { findAppRoot, loadConfig } from '../../config/loadConfig.js';
import { topologyProblems } from '../../config/topologySchema.js';

const KEY = Buffer.alloc(32, 9).toString('base64');
const APP_ROOT = findAppRoot();
const PRODUCTION = 'config/topology.json';
const CONNECTIONS = {
  SQL_CONNECTION_CN: 'Server=tcp:cn.example;Database=crm',
  SQL_CONNECTION_SEA: 'Server=tcp:sea.example;Database=crm',
  SQL_CONNECTION_EU: 'Server=tcp:eu.example;Database=crm',
  SQL_CONNECTION_LATAM: 'Server=tcp:latam.example;Database=crm',
};
type Region = keyof typeof CONNECTIONS extends `SQL_CONNECTION_${infer R}` ? R : never;

/** The production document's settings, a zone and the connections of the given regions. */
function env(zone: string | null, regions: readonly Region[]): Record<string, string> {
  const e: Record<string, string> = { REGION_SYNC_PSEUDONYM_KEY: KEY, REGION_SYNC_TOPOLOGY_PATH: PRODUCTION };
  if (zone !== null) e.REGION_SYNC_ZONE = zone;
  for (const r of regions) e[`SQL_CONNECTION_${r}`] = CONNECTIONS[`SQL_CONNECTION_${r}`];
  return e;
}

function problemsOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return [...e.problems];
  }
  assert.fail('expected loadConfig to throw');
}

describe('production topology document', () => {
  it('validates, has mssql stores named SQL_CONNECTION_<REGION>, and the embedded default flows', () => {
    assert.ok(APP_ROOT.length > 0);
    const doc = JSON.parse(readFileSync(join(APP_ROOT, PRODUCTION), 'utf8')) as typeof DEFAULT_TOPOLOGY;
    const { topology, problems } = topologyProblems(doc);
    assert.deepEqual(problems, []);
    assert.ok(topology !== null);
    assert.deepEqual(
      doc.regions.map((r) => [r.id, r.role, r.store]),
      [
        ['cn', 'hub', { kind: 'mssql', connectionSetting: 'SQL_CONNECTION_CN' }],
        ['sea', 'spoke', { kind: 'mssql', connectionSetting: 'SQL_CONNECTION_SEA' }],
        ['eu', 'spoke', { kind: 'mssql', connectionSetting: 'SQL_CONNECTION_EU' }],
        ['latam', 'spoke', { kind: 'mssql', connectionSetting: 'SQL_CONNECTION_LATAM' }],
      ],
    );
    const withoutStores = (regions: readonly { store: unknown }[]) =>
      regions.map(({ store: _store, ...rest }) => rest);
    assert.deepEqual(withoutStores(doc.regions), withoutStores(DEFAULT_TOPOLOGY.regions));
    assert.deepEqual(doc.flows, JSON.parse(JSON.stringify(DEFAULT_TOPOLOGY.flows)));
  });

  it('resolves a relative topology path against the app root (package.json), not the working directory', () => {
    const config = loadConfig(env(null, ['CN', 'SEA', 'EU', 'LATAM']), { cwd: '/' });
    assert.equal(config.topologySource, join(APP_ROOT, PRODUCTION));
    assert.equal(config.zone, null);
    assert.deepEqual(config.stores.eu, { kind: 'mssql', connectionString: CONNECTIONS.SQL_CONNECTION_EU });
    const elsewhere = problemsOf(() => loadConfig(env(null, ['CN']), { appRoot: '/nonexistent-root' }));
    assert.match(elsewhere[0]?.message ?? '', /cannot read '\/nonexistent-root\/config\/topology\.json'/);
  });
});

describe('zone-aware config', () => {
  it('without a zone, every region connection is required (local behaviour)', () => {
    const problems = problemsOf(() => loadConfig(env(null, ['CN'])));
    assert.deepEqual(
      problems.map((p) => p.path),
      [1, 2, 3].map((i) => `topology.regions[${i}].store.connectionSetting`),
    );
  });

  it('a spoke needs only its own connection and the hub; the others may be missing', () => {
    const config = loadConfig(env('sea', ['SEA', 'CN']));
    assert.equal(config.zone, 'sea');
    assert.deepEqual(Object.keys(config.stores).sort(), ['cn', 'sea']);
    assert.equal(
      config.stores.sea?.kind === 'mssql' && config.stores.sea.connectionString,
      CONNECTIONS.SQL_CONNECTION_SEA,
    );
  });

  it('the hub needs every spoke it writes into', () => {
    assert.deepEqual(Object.keys(loadConfig(env('cn', ['CN', 'SEA', 'EU', 'LATAM'])).stores).sort(), [
      'cn',
      'eu',
      'latam',
      'sea',
    ]);
    const problems = problemsOf(() => loadConfig(env('cn', ['CN', 'SEA', 'LATAM'])));
    assert.deepEqual(
      problems.map((p) => p.path),
      ['topology.regions[2].store.connectionSetting'],
    );
  });

  it('a zone missing its own connection is one clear error with the path and the setting', () => {
    const problems = problemsOf(() => loadConfig(env('eu', ['CN'])));
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.path, 'topology.regions[2].store.connectionSetting');
    assert.match(problems[0]?.message ?? '', /'SQL_CONNECTION_EU'.*region 'eu'.*zone 'eu'/);
  });

  it('refuses a zone that is not a region of the topology', () => {
    const problems = problemsOf(() => loadConfig(env('mars', ['CN', 'SEA', 'EU', 'LATAM'])));
    assert.deepEqual(
      problems.map((p) => p.path),
      ['settings.REGION_SYNC_ZONE'],
    );
    assert.match(problems[0]?.message ?? '', /cn, sea, eu, latam/);
  });
});
