/**
 * "The infra declares what the app needs": every setting config/ declares is set by the Function
 * App module (or listed in expectations.ts with the reason it is not), connections are
 * identity-based, and the Durable backend switch sets the host.json-equivalent settings.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { isProvided, providedSettings } from './appSettings';
import { readBicep } from './bicepScan';
import { FLEX_REJECTED_SETTINGS, NOT_SET_IN_AZURE, ORDER_TRIGGER } from './expectations';
import { DIST, MAIN_BICEP, REPO_ROOT } from './paths';

const settings = providedSettings();

/** The compiled config/settings module, if the app has one: its `SETTING` map of names. */
async function declaredSettingNames(): Promise<string[] | null> {
  const file = join(DIST, 'config', 'settings.js');
  if (!existsSync(file)) return null;
  const mod = (await import(pathToFileURL(file).href)) as {
    SETTING?: unknown;
    default?: { SETTING?: unknown };
  };
  const table = mod.SETTING ?? mod.default?.SETTING;
  if (typeof table !== 'object' || table === null) return null;
  return Object.values(table as Record<string, unknown>).filter((v): v is string => typeof v === 'string');
}

/** Topology documents shipped with the app: JSON files under config/ with a `regions` array. */
function topologyDocuments(): { file: string; regions: unknown[] }[] {
  const dir = join(REPO_ROOT, 'config');
  if (!existsSync(dir)) return [];
  const docs: { file: string; regions: unknown[] }[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.json')) continue;
    try {
      const doc = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { regions?: unknown };
      if (Array.isArray(doc.regions)) docs.push({ file: name, regions: doc.regions });
    } catch {
      // not a topology document
    }
  }
  return docs;
}

describe('app settings the infra provides', () => {
  it('sets every setting config/settings.ts declares, except the ones listed with a reason', async (t) => {
    const declared = await declaredSettingNames();
    if (declared === null) {
      t.skip('dist/config/settings.js with an exported SETTING map not found (run npm run build)');
      return;
    }
    const missing = declared.filter((name) => !isProvided(settings, name) && !(name in NOT_SET_IN_AZURE));
    assert.deepEqual(
      missing,
      [],
      `settings the app reads that functionApp.bicep does not set: ${missing.join(', ')}`,
    );
    const stale = Object.keys(NOT_SET_IN_AZURE).filter((name) => !declared.includes(name));
    assert.deepEqual(
      stale,
      [],
      `NOT_SET_IN_AZURE lists settings config/ no longer declares: ${stale.join(', ')}`,
    );
  });

  it('sets the SQL connection setting of every mssql region in the topology documents', (t) => {
    const docs = topologyDocuments();
    if (docs.length === 0) {
      t.skip('no topology JSON under config/ yet');
      return;
    }
    for (const doc of docs) {
      for (const region of doc.regions) {
        const store = (region as { store?: { kind?: string; connectionSetting?: string } }).store;
        if (store?.kind !== 'mssql' || store.connectionSetting === undefined) continue;
        assert.ok(
          isProvided(settings, store.connectionSetting),
          `${doc.file}: ${store.connectionSetting} is not a setting name functionApp.bicep produces (SQL_CONNECTION_<REGION>)`,
        );
      }
    }
  });

  it('names SQL connection settings SQL_CONNECTION_<REGION> from Key Vault references', () => {
    const sql = settings.file.vars.get('sqlSettings') ?? '';
    assert.match(sql, /'SQL_CONNECTION_\$\{toUpper\(replace\(region, '-', '_'\)\)\}'/);
    assert.match(sql, /'@Microsoft\.KeyVault\(SecretUri=\$\{secretUriBase\}sql-\$\{region\}\)'/);
    assert.ok(settings.patterns.some((p) => p.test('SQL_CONNECTION_SEA')));
  });

  it('connects to storage and Service Bus by managed identity, with no keys anywhere', () => {
    for (const prefix of ['AzureWebJobsStorage', ORDER_TRIGGER.connection]) {
      assert.ok(settings.names.has(`${prefix}__credential`), `${prefix}__credential`);
      assert.ok(settings.names.has(`${prefix}__clientId`), `${prefix}__clientId`);
    }
    assert.ok(settings.names.has(`${ORDER_TRIGGER.connection}__fullyQualifiedNamespace`));
    for (const service of ['blob', 'queue', 'table']) {
      assert.ok(
        settings.names.has(`AzureWebJobsStorage__${service}ServiceUri`),
        `Durable needs the ${service} endpoint`,
      );
    }
    assert.match(settings.file.code, /__credential: 'managedidentity'/);
    assert.doesNotMatch(settings.file.code, /AccountKey=|SharedAccessKey|listKeys\(/);
    assert.ok(
      settings.names.has('AZURE_CLIENT_ID'),
      'DefaultAzureCredential needs AZURE_CLIENT_ID for a user-assigned identity',
    );
    assert.match(settings.file.code, /keyVaultReferenceIdentity: identityId/);
  });

  it('keeps settings that Flex Consumption rejects to the Elastic Premium settings', () => {
    for (const name of FLEX_REJECTED_SETTINGS) {
      const owner = settings.names.get(name);
      assert.ok(
        owner === undefined || owner === 'elasticPremiumSettings',
        `${name} is set in ${owner ?? ''}`,
      );
    }
    assert.match(settings.file.vars.get('elasticPremiumSettings') ?? '', /^isFlex \? \{\} :/);
  });

  it('gives every Durable backend of main.bicep its storage provider settings', () => {
    const main = readBicep(MAIN_BICEP);
    const allowed = /@allowed\(\[([^\]]*)\]\)\s*param durableBackend/.exec(main.code)?.[1] ?? '';
    const backends = [...allowed.matchAll(/'(\w+)'/g)].map((m) => m[1] ?? '');
    assert.deepEqual(backends, ['AzureStorage', 'DurableTaskScheduler', 'MSSQL']);
    const table = settings.file.vars.get('durableBackendSettings') ?? '';
    for (const backend of backends) {
      assert.match(
        table,
        new RegExp(
          `\\b${backend}: \\{\\s*\\n\\s*AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: '`,
        ),
      );
    }
    assert.ok(settings.names.has('AzureFunctionsJobHost__extensions__durableTask__hubName'));
    assert.ok(settings.names.has('DURABLE_TASK_SCHEDULER_CONNECTION_STRING'));
    assert.ok(settings.names.has('DURABLE_SQL_CONNECTION'));
    assert.match(
      main.code,
      /effectiveHostingPlan = durableBackend == 'MSSQL' \? 'ElasticPremium' : hostingPlan/,
    );
  });

  it('lists every settings var in the union that becomes the app settings', () => {
    const union = settings.file.vars.get('allAppSettings') ?? '';
    for (const name of [
      'hostStorageSettings',
      'serviceBusSettings',
      'appSettingsBase',
      'sqlSettings',
      'durableSettings',
      'elasticPremiumSettings',
    ]) {
      assert.match(union, new RegExp(`\\b${name}\\b`), `${name} is not in allAppSettings`);
    }
    assert.match(settings.file.code, /properties: allAppSettings/);
  });
});
