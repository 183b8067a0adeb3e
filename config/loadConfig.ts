/**
 * loadConfig: the one place settings and topology are read and validated (STYLE §12). Called once
 * at start-up by the composition root with process.env; throws one {@link ConfigError} listing
 * every problem, so the app does not start half-configured.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { RegionId } from '../sync/model.js';
import type { Topology } from '../sync/topology.js';
import { hubOf, linksOf } from '../sync/topology.js';
import type { ConfigProblem } from './configError.js';
import { ConfigError } from './configError.js';
import { DEFAULT_TOPOLOGY } from './defaultTopology.js';
import { ncrontabProblem } from './ncrontab.js';
import type { Env } from './settings.js';
import { SETTING } from './settings.js';
import { topologyProblems } from './topologySchema.js';

/** How to reach one region's database, resolved from the topology and the settings. */
export type ResolvedStore =
  | {
      readonly kind: 'sqlite';
      readonly file: string;
      /** How long a write waits for another connection's lock (REGION_SYNC_SQLITE_BUSY_TIMEOUT_MS); unset: the adapter's 5 s. */
      readonly busyTimeoutMs?: number;
    }
  | { readonly kind: 'mssql'; readonly connectionString: string };

export interface StagingSettings {
  /** Connection string (or `UseDevelopmentStorage=true`); null when `accountUrl` is used. */
  readonly connectionString: string | null;
  /** Blob endpoint for identity-based access; null when a connection string is used. */
  readonly accountUrl: string | null;
  readonly container: string;
  /** Staged pages last modified more than this many days ago are purged (at least 1). */
  readonly retentionDays: number;
  /** NCRONTAB schedule of the daily purge timer. */
  readonly purgeSchedule: string;
}

export interface AppConfig {
  readonly topology: Topology;
  /** Where the topology came from: `embedded-default`, a file path, or `inline`. */
  readonly topologySource: string;
  readonly dataDir: string;
  /** Base64 HMAC key, or null when no residency rule pseudonymizes. */
  readonly pseudonymKey: string | null;
  readonly staging: StagingSettings;
  /** Run history: its container in the staging account and how long records are kept. */
  readonly runHistory: { readonly container: string; readonly retentionDays: number };
  /**
   * The region whose Function App this is (REGION_SYNC_ZONE), or null (local/devhost: this app
   * runs every link). With a zone, only the links whose source is the zone run here.
   */
  readonly zone: RegionId | null;
  /**
   * Stores of the regions this app may open: every region without a zone; with one, the regions
   * its work touches (plus any other whose connection happens to be set).
   */
  readonly stores: Readonly<Record<RegionId, ResolvedStore>>;
}

export interface LoadConfigOptions {
  /** Working directory for a relative data directory; default process.cwd(). */
  readonly cwd?: string;
  /**
   * Directory a relative REGION_SYNC_TOPOLOGY_PATH resolves against; default the app root (the
   * nearest directory above this module holding package.json), not the working directory, which
   * the Functions host does not promise to be wwwroot.
   */
  readonly appRoot?: string;
  /** File reader (tests inject one); default fs.readFileSync as UTF-8. */
  readonly readFile?: (path: string) => string;
}

const asRecord = (x: unknown): Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
const asArray = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);

const CONTAINER_PATTERN = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** The nearest directory at or above `from` that holds a package.json (the app root); else `from`. */
export function findAppRoot(from: string = __dirname): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return resolve(from);
  }
}

/**
 * The regions a zone's app connects to: its own, the targets of the links whose source it is,
 * and the hub when the zone is a spoke (orders it applies there, receipts it writes back).
 */
export function regionsOfZone(topology: Topology, zone: RegionId): Set<RegionId> {
  const regions = new Set<RegionId>([zone]);
  const hub = hubOf(topology).id;
  // A spoke's order trigger applies its orders into the hub.
  if (zone !== hub && topology.flows.some((f) => f.realtime === true)) regions.add(hub);
  for (const flow of topology.flows)
    for (const link of linksOf(topology, flow)) if (link.source === zone) regions.add(link.target);
  return regions;
}

function nonEmpty(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function readTopologyDocument(
  env: Env,
  appRoot: string,
  readFile: (path: string) => string,
  problems: ConfigProblem[],
): { doc: unknown; source: string } | null {
  const path = nonEmpty(env, SETTING.topologyPath);
  const json = nonEmpty(env, SETTING.topologyJson);
  if (path !== undefined && json !== undefined) {
    problems.push({
      path: `settings.${SETTING.topologyJson}`,
      message: `set either ${SETTING.topologyPath} or ${SETTING.topologyJson}, not both`,
    });
    return null;
  }
  let text: string;
  let source: string;
  let settingName: string;
  if (path !== undefined) {
    source = isAbsolute(path) ? path : resolve(appRoot, path);
    settingName = SETTING.topologyPath;
    try {
      text = readFile(source);
    } catch (e) {
      problems.push({
        path: `settings.${settingName}`,
        message: `cannot read '${source}': ${(e as Error).message}`,
      });
      return null;
    }
  } else if (json !== undefined) {
    text = json;
    source = 'inline';
    settingName = SETTING.topologyJson;
  } else {
    return { doc: structuredClone(DEFAULT_TOPOLOGY), source: 'embedded-default' };
  }
  try {
    return { doc: JSON.parse(text) as unknown, source };
  } catch (e) {
    problems.push({ path: `settings.${settingName}`, message: `not valid JSON: ${(e as Error).message}` });
    return null;
  }
}

/** Validates settings and topology; returns a deeply frozen config or throws one ConfigError. */
export function loadConfig(env: Env, options: LoadConfigOptions = {}): AppConfig {
  const cwd = options.cwd ?? process.cwd();
  const readFile = options.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const problems: ConfigProblem[] = [];

  const dataDirSetting = nonEmpty(env, SETTING.dataDir) ?? '.data';
  const dataDir = isAbsolute(dataDirSetting) ? dataDirSetting : resolve(cwd, dataDirSetting);

  const container = nonEmpty(env, SETTING.stagingContainer) ?? 'sync-staging';
  if (!CONTAINER_PATTERN.test(container)) {
    problems.push({
      path: `settings.${SETTING.stagingContainer}`,
      message: `'${container}' is not a valid blob container name (3-63 lower-case letters, digits, single dashes)`,
    });
  }
  const retentionText = nonEmpty(env, SETTING.stagingRetentionDays) ?? '7';
  const retentionDays = Number(retentionText);
  if (!/^\d+$/.test(retentionText) || retentionDays < 1 || retentionDays > 365) {
    problems.push({
      path: `settings.${SETTING.stagingRetentionDays}`,
      // 1 is the floor: a shorter retention could purge the pages of a run still going.
      message: `must be a whole number of days from 1 to 365, got '${retentionText}'`,
    });
  }
  const purgeSchedule = nonEmpty(env, SETTING.stagingPurgeSchedule) ?? '0 30 4 * * *';
  const scheduleProblem = ncrontabProblem(purgeSchedule);
  if (scheduleProblem !== null)
    problems.push({ path: `settings.${SETTING.stagingPurgeSchedule}`, message: scheduleProblem });
  const runHistoryContainer = nonEmpty(env, SETTING.runHistoryContainer) ?? 'sync-runs';
  if (!CONTAINER_PATTERN.test(runHistoryContainer) || runHistoryContainer === container) {
    problems.push({
      path: `settings.${SETTING.runHistoryContainer}`,
      message: `'${runHistoryContainer}' is not a valid blob container name distinct from the staging container`,
    });
  }
  const runRetentionText = nonEmpty(env, SETTING.runRetentionDays) ?? '45';
  const runRetentionDays = Number(runRetentionText);
  if (!/^\d+$/.test(runRetentionText) || runRetentionDays < 1 || runRetentionDays > 3650) {
    problems.push({
      path: `settings.${SETTING.runRetentionDays}`,
      message: `must be a whole number of days from 1 to 3650, got '${runRetentionText}'`,
    });
  }
  const accountUrl = nonEmpty(env, SETTING.stagingAccountUrl) ?? null;
  if (accountUrl !== null && !/^https?:\/\/[^\s/]+/.test(accountUrl)) {
    problems.push({ path: `settings.${SETTING.stagingAccountUrl}`, message: 'must be an http(s) URL' });
  }
  const connectionString =
    accountUrl !== null
      ? null
      : (nonEmpty(env, SETTING.stagingConnection) ??
        nonEmpty(env, SETTING.webJobsStorage) ??
        'UseDevelopmentStorage=true');

  let topology: Topology | null = null;
  let topologySource = 'unknown';
  const read = readTopologyDocument(env, options.appRoot ?? findAppRoot(), readFile, problems);
  if (read !== null) {
    topologySource = read.source;
    const result = topologyProblems(read.doc);
    problems.push(...result.problems.map((p) => ({ ...p, path: `topology.${p.path}` })));
    topology = result.topology;
  }

  // The zone this app is: only the connections its own work touches are required.
  const zone = nonEmpty(env, SETTING.zone) ?? null;
  let needed: Set<RegionId> | null = null;
  if (zone !== null && topology !== null) {
    if (topology.regions.some((r) => r.id === zone)) needed = regionsOfZone(topology, zone);
    else
      problems.push({
        path: `settings.${SETTING.zone}`,
        message: `'${zone}' is not a region of the topology (${topology.regions.map((r) => r.id).join(', ')})`,
      });
  } else if (zone !== null) needed = new Set([zone]);

  // Settings the topology refers to are checked against the raw document, so that they are
  // reported in the same error as shape problems of the document itself.
  const rawRegions = read === null ? [] : asArray(asRecord(read.doc).regions).map(asRecord);
  rawRegions.forEach((region, i) => {
    const store = asRecord(region.store);
    const setting = store.connectionSetting;
    if (
      store.kind === 'mssql' &&
      typeof setting === 'string' &&
      nonEmpty(env, setting) === undefined &&
      (needed === null || needed.has(String(region.id)))
    ) {
      problems.push({
        path: `topology.regions[${i}].store.connectionSetting`,
        message:
          `app setting '${setting}' (connection of region '${String(region.id)}') is not set` +
          (zone === null ? '' : `; zone '${zone}' needs it`),
      });
    }
  });
  const pseudonymizes =
    read !== null &&
    asArray(asRecord(read.doc).flows).some((f) =>
      asArray(asRecord(f).residency).some((r) => asArray(asRecord(r).pseudonymize).length > 0),
    );
  let pseudonymKey: string | null = null;
  const key = nonEmpty(env, SETTING.pseudonymKey);
  if (key !== undefined) {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || Buffer.from(key, 'base64').length < 32) {
      problems.push({
        path: `settings.${SETTING.pseudonymKey}`,
        message: 'must be base64 of at least 32 random bytes (e.g. `openssl rand -base64 32`)',
      });
    } else pseudonymKey = key;
  } else if (pseudonymizes) {
    problems.push({
      path: `settings.${SETTING.pseudonymKey}`,
      message:
        'required: the topology pseudonymizes columns; set base64 of at least 32 random bytes (e.g. `openssl rand -base64 32`)',
    });
  }

  const busyText = nonEmpty(env, SETTING.sqliteBusyTimeoutMs);
  const busyTimeoutMs = busyText === undefined ? undefined : Number(busyText);
  if (busyText !== undefined && (!/^\d+$/.test(busyText) || (busyTimeoutMs as number) > 600_000))
    problems.push({
      path: `settings.${SETTING.sqliteBusyTimeoutMs}`,
      message: `must be whole milliseconds from 0 to 600000, got '${busyText}'`,
    });
  const stores: Record<RegionId, ResolvedStore> = {};
  for (const region of topology?.regions ?? []) {
    if (region.store.kind === 'sqlite') {
      const p = region.store.path;
      stores[region.id] = {
        kind: 'sqlite',
        file: p === ':memory:' || isAbsolute(p) ? p : resolve(dataDir, p),
        ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }),
      };
    } else {
      const connectionString = nonEmpty(env, region.store.connectionSetting);
      // A zone's app leaves out the regions it never connects to (their settings are not set).
      if (connectionString === undefined && needed !== null && !needed.has(region.id)) continue;
      stores[region.id] = { kind: 'mssql', connectionString: connectionString ?? '' };
    }
  }

  if (problems.length > 0 || topology === null) throw new ConfigError(problems);
  return deepFreeze({
    topology,
    topologySource,
    dataDir,
    pseudonymKey,
    staging: { connectionString, accountUrl, container, retentionDays, purgeSchedule },
    runHistory: { container: runHistoryContainer, retentionDays: runRetentionDays },
    zone,
    stores,
  });
}
