/**
 * The function metadata Azure will index. In Azure the Node worker indexes the functions the app
 * passes to `@azure/functions-core` registerFunction while it loads (worker indexing); devhost's
 * loader captures exactly that. This test loads the compiled app through it and checks
 *   (a) the registrations equal the committed manifest test/infra/functionManifest.json, so a
 *       renamed function, route or binding fails here with a diff, and
 *   (b) the rules Azure enforces or the deployment relies on (names, binding types, routes, auth
 *       levels, schedules, %settings%, the order trigger of expectations.ts).
 *
 * Changing the functions deliberately: rebuild and regenerate the manifest, then review its diff
 *   npm run build && UPDATE_MANIFEST=1 node --test dist/test/infra/functionMetadata.test.js
 *   npx prettier --write test/infra/functionManifest.json && git diff test/infra/functionManifest.json
 *
 * The timer functions come from the topology: the manifest is the app under the embedded-default
 * topology (no REGION_SYNC_TOPOLOGY_PATH/_JSON), as the test loads it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ncrontabProblem } from '../../config/ncrontab';
import { SETTING } from '../../config/settings';
import { isProvided, providedSettings } from './appSettings';
import { ORDER_TRIGGER } from './expectations';
import { DIST, REPO_ROOT } from './paths';

type Binding = Record<string, unknown> & { type: string; direction: string; name: string };
interface Registered {
  name: string;
  bindings: Record<string, Binding>;
  [key: string]: unknown;
}

/** One function as the manifest records it: its trigger and its other bindings, without generated names. */
interface ManifestFunction {
  trigger: Record<string, unknown>;
  bindings?: Record<string, unknown>[];
  [key: string]: unknown;
}
interface Manifest {
  $comment: string;
  functions: Record<string, ManifestFunction>;
}

const MANIFEST_FILE = join(REPO_ROOT, 'test', 'infra', 'functionManifest.json');
const LOADER = join(DIST, 'devhost', 'worker', 'loader.js');

/** Azure's function name rule (the host refuses to index any other name). */
const FUNCTION_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,127}$/;

/** Binding types the extension bundle v4 (and the host's built-ins) provide. */
const BUNDLE_TYPES = new Set([
  'httpTrigger',
  'http',
  'timerTrigger',
  'serviceBusTrigger',
  'serviceBus',
  'orchestrationTrigger',
  'activityTrigger',
  'entityTrigger',
  'durableClient',
  'blobTrigger',
  'blob',
  'queueTrigger',
  'queue',
  'table',
]);

/** HTTP functions that are anonymous on purpose; every other one needs a function key in Azure. */
const ANONYMOUS_HTTP = new Set(['health']);

/**
 * Loads the compiled app in a child process: the composition root validates config and, with no
 * pseudonym key outside Azure, writes a development key under REGION_SYNC_DATA_DIR. The child gets
 * a temp working and data directory and none of this machine's settings.
 */
function loadRegistrations(workDir: string): Registered[] {
  const script = `
    const { loadApp } = require(${JSON.stringify(LOADER)});
    const out = process.stdout.write.bind(process.stdout);
    console.log = console.info = console.warn = console.debug = () => {};
    loadApp(${JSON.stringify(REPO_ROOT)}, () => {}).then(
      (registry) => { out(JSON.stringify(registry.list().map((f) => f.metadata)), () => process.exit(0)); },
      (err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); },
    );
  `;
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, [SETTING.dataDir]: join(workDir, 'data') };
  if (process.env.SystemRoot !== undefined) env.SystemRoot = process.env.SystemRoot;
  const out = execFileSync(process.execPath, ['-e', script], {
    cwd: workDir,
    env,
    encoding: 'utf8',
    timeout: 30_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(out) as Registered[];
}

/** Binding names the library generates (`httpTrigger1a2b3c4d5e`): not part of what the host keys on. */
const GENERATED_NAME = /^[A-Za-z]+[0-9a-f]{10}$/;

function manifestBinding(key: string, binding: Binding): Record<string, unknown> {
  const { name, type, direction, properties, ...rest } = binding;
  const entry: Record<string, unknown> = { type, direction, ...rest };
  // The key is what the host sees ('$return' for a return-value output); keep it unless generated.
  if (key !== name || !GENERATED_NAME.test(name)) entry.name = key;
  // supportsDeferredBinding 'false' is the library's default on every binding; record anything else.
  const props = { ...(properties as Record<string, unknown> | undefined) };
  if (props.supportsDeferredBinding === 'false') delete props.supportsDeferredBinding;
  if (Object.keys(props).length > 0) entry.properties = props;
  return entry;
}

function toManifest(registered: readonly Registered[]): Manifest {
  const functions: Record<string, ManifestFunction> = {};
  for (const fn of [...registered].sort((a, b) => a.name.localeCompare(b.name))) {
    const { name, bindings, ...rest } = fn;
    const entries = Object.entries(bindings);
    const triggers = entries.filter(([, b]) => isTrigger(b));
    assert.equal(triggers.length, 1, `${name} has exactly one trigger, found ${triggers.length}`);
    const [[triggerKey, trigger]] = triggers as [[string, Binding]];
    const others = entries.filter(([key]) => key !== triggerKey).map(([key, b]) => manifestBinding(key, b));
    const { direction, ...triggerEntry } = manifestBinding(triggerKey, trigger);
    assert.equal(direction, 'in', `${name}: the trigger binding is an input`);
    functions[name] = {
      trigger: triggerEntry,
      ...(others.length > 0 ? { bindings: others } : {}),
      ...rest,
    };
  }
  return {
    $comment:
      'What the app registers, as Azure indexes it. Generated by test/infra/functionMetadata.test.ts (UPDATE_MANIFEST=1); see there.',
    functions,
  };
}

function isTrigger(b: Binding): boolean {
  return b.type.endsWith('Trigger');
}

function allBindings(registered: readonly Registered[]): { fn: string; binding: Binding }[] {
  return registered.flatMap((f) => Object.values(f.bindings).map((binding) => ({ fn: f.name, binding })));
}

/** Every `%Name%` in a binding's string values (the host resolves these from app settings). */
function settingReferences(value: unknown): string[] {
  if (typeof value === 'string') return [...value.matchAll(/%([^%]+)%/g)].map((m) => m[1] as string);
  if (Array.isArray(value)) return value.flatMap(settingReferences);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(settingReferences);
  return [];
}

describe('function metadata Azure indexes', () => {
  let workDir = '';
  let registered: Registered[] = [];
  let loadError: string | undefined;

  before(() => {
    if (!existsSync(join(DIST, 'index.js')) || !existsSync(LOADER)) {
      loadError = 'dist/ is not built (npm run build)';
      return;
    }
    workDir = mkdtempSync(join(tmpdir(), 'region-sync-metadata-'));
    try {
      registered = loadRegistrations(workDir);
    } catch (e) {
      const err = e as Error & { stderr?: string };
      loadError = `${err.message.split('\n')[0] ?? ''}\n${err.stderr ?? ''}`;
    }
  });

  after(() => {
    if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
  });

  function loaded(): Registered[] {
    assert.equal(loadError, undefined, `the compiled app loads: ${loadError ?? ''}`);
    assert.ok(registered.length > 0, 'the app registers functions');
    return registered;
  }

  it('equals the committed manifest (test/infra/functionManifest.json)', () => {
    const actual = toManifest(loaded());
    if (process.env.UPDATE_MANIFEST === '1') {
      writeFileSync(MANIFEST_FILE, JSON.stringify(actual, null, 2) + '\n');
      return;
    }
    assert.ok(existsSync(MANIFEST_FILE), `${MANIFEST_FILE} exists (generate it with UPDATE_MANIFEST=1)`);
    const expected = JSON.parse(readFileSync(MANIFEST_FILE, 'utf8')) as Manifest;
    assert.deepEqual(
      Object.keys(actual.functions),
      Object.keys(expected.functions),
      'the function names (manifest: test/infra/functionManifest.json; UPDATE_MANIFEST=1 to regenerate)',
    );
    for (const [name, fn] of Object.entries(actual.functions)) {
      assert.deepEqual(
        fn,
        expected.functions[name],
        `function ${name} differs from the manifest (UPDATE_MANIFEST=1 regenerates it after a deliberate change)`,
      );
    }
  });

  it('has names Azure accepts, unique case-insensitively', () => {
    const seen = new Map<string, string>();
    for (const { name } of loaded()) {
      assert.match(name, FUNCTION_NAME, `function name '${name}'`);
      const key = name.toLowerCase();
      assert.ok(!seen.has(key), `'${name}' and '${seen.get(key) ?? ''}' are the same name to the host`);
      seen.set(key, name);
    }
  });

  it('uses only binding types the extension bundle v4 provides', () => {
    for (const { fn, binding } of allBindings(loaded())) {
      assert.ok(BUNDLE_TYPES.has(binding.type), `${fn}: binding type '${binding.type}'`);
      assert.ok(
        ['in', 'out', 'inout'].includes(binding.direction),
        `${fn}: direction '${binding.direction}'`,
      );
    }
  });

  it('gives every HTTP function a unique route per method, no leading slash, and a function key', () => {
    const routes = new Map<string, string>();
    for (const { fn, binding } of allBindings(loaded())) {
      if (binding.type !== 'httpTrigger') continue;
      const route = binding.route;
      assert.equal(typeof route, 'string', `${fn}: an explicit route (else the function name is the route)`);
      assert.ok(!(route as string).startsWith('/'), `${fn}: route '${String(route)}' has a leading slash`);
      // Routes that differ only in parameter names or case are the same route to the host.
      const shape = (route as string).replace(/\{[^}]*\}/g, '{}').toLowerCase();
      const methods = (binding.methods as string[] | undefined) ?? ['*'];
      assert.ok(methods.length > 0, `${fn}: methods`);
      for (const method of methods) {
        const key = `${method.toUpperCase()} ${shape}`;
        assert.ok(!routes.has(key), `${fn}: ${key} is also ${routes.get(key) ?? ''}'s route`);
        routes.set(key, fn);
      }
      const expected = ANONYMOUS_HTTP.has(fn) ? 'anonymous' : 'function';
      assert.equal(binding.authLevel, expected, `${fn}: authLevel`);
    }
  });

  it('has six-field NCRONTAB or %Setting% schedules and never runs timers on start-up', () => {
    for (const { fn, binding } of allBindings(loaded())) {
      if (binding.type !== 'timerTrigger') continue;
      const schedule = String(binding.schedule);
      if (!/^%[^%]+%$/.test(schedule)) {
        assert.equal(ncrontabProblem(schedule), null, `${fn}: schedule '${schedule}'`);
      }
      // runOnStartup also fires on every scale-out and restart in Azure.
      assert.notEqual(binding.runOnStartup, true, `${fn}: runOnStartup`);
    }
  });

  it('reads only settings the app declares or the Function App provides', () => {
    const declared = new Set<string>(Object.values(SETTING));
    const provided = providedSettings();
    for (const { fn, binding } of allBindings(loaded())) {
      for (const name of settingReferences(binding)) {
        assert.ok(
          declared.has(name) || isProvided(provided, name),
          `${fn}: %${name}% is neither in config/settings.ts nor set by functionApp.bicep`,
        );
      }
      // `connection` names a setting, or the prefix of identity-based settings (<name>__fullyQualifiedNamespace ...).
      if (typeof binding.connection === 'string') {
        const prefix = `${binding.connection}__`;
        const found =
          isProvided(provided, binding.connection) ||
          [...provided.names.keys()].some((n) => n.startsWith(prefix));
        assert.ok(found, `${fn}: connection '${binding.connection}' is not set by functionApp.bicep`);
      }
    }
  });

  it('binds the order trigger as expectations.ts and the Bicep assume', () => {
    const triggers = allBindings(loaded()).filter(({ binding }) => binding.type === 'serviceBusTrigger');
    assert.equal(triggers.length, 1, `one Service Bus trigger, found: ${JSON.stringify(triggers)}`);
    const [{ fn, binding }] = triggers as [{ fn: string; binding: Binding }];
    assert.equal(fn, ORDER_TRIGGER.functionName);
    assert.ok(
      (ORDER_TRIGGER.queueNames as readonly string[]).includes(String(binding.queueName)),
      `queueName '${String(binding.queueName)}'`,
    );
    assert.equal(binding.topicName, undefined, 'a queue, not a topic subscription');
    assert.equal(binding.connection, ORDER_TRIGGER.connection);
    assert.equal(binding.isSessionsEnabled, true, 'order-events requires sessions');
    // The handler takes one message per invocation (cardinality 'many' would hand it an array).
    assert.ok(binding.cardinality === undefined || binding.cardinality === 'one', 'cardinality one');
  });
});
