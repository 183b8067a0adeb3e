/**
 * The ports batch sync needs, built once from the validated config at the composition root
 * (STYLE §4) and closed in app.hook.appTerminate. Region stores open lazily (a region that no
 * flow of this run touches costs nothing) and are migrated for every table of every flow once.
 * Page work (extract, apply, compare, repair) runs on a pool of worker threads, each with its own
 * runtime over the same config (pageWorkers.ts).
 */
import os from 'node:os';
import { BlobRunHistory } from '../adapters/blobRunHistory.js';
import { AzureBlobStaging } from '../adapters/blobStaging.js';
import { openSqliteRegionStore } from '../adapters/sqliteRegionStore.js';
import type { AppConfig } from '../config/loadConfig.js';
import { SyncError } from '../sync/errors.js';
import type { RegionId, TableMapping } from '../sync/model.js';
import type { BlobStaging, RegionStore } from '../sync/ports.js';
import type { RunHistory } from '../sync/runHistory.js';
import type { Flow, Topology } from '../sync/topology.js';
import { flowOf, tableMappingFor } from '../sync/topology.js';
import type { PageWorkers } from './pageWorkers.js';
import { createPageWorkers } from './pageWorkers.js';

/** Where reports and other JSON documents of a run go (beside the staged pages). */
export interface JsonBlobs {
  writeJson(name: string, value: unknown): Promise<string>;
  readJson(name: string): Promise<unknown>;
}

export interface SyncRuntime {
  readonly topology: Topology;
  /** This app's zone (REGION_SYNC_ZONE): only links whose source it is run here; null runs all. */
  readonly zone: RegionId | null;
  readonly pseudonymKey: string | null;
  /** The regions this app has a store for (with a zone, only those its work touches). */
  readonly regions: readonly RegionId[];
  /** The store of a region, opened and migrated on first use. */
  store(region: RegionId): Promise<RegionStore>;
  readonly staging: BlobStaging;
  /** Staged pages last modified more than this many days ago are purged, daily on {@link stagingPurgeSchedule}. */
  readonly stagingRetentionDays: number;
  readonly stagingPurgeSchedule: string;
  readonly blobs: JsonBlobs;
  /** One record per batch run, kept {@link SyncRuntime.runRetentionDays} days. */
  readonly runs: RunHistory;
  readonly runRetentionDays: number;
  /** The wall clock, for checkpoint and audit timestamps (activities only; never orchestrators). */
  now(): Date;
  /** Where page activities run when not on the calling thread; null runs them inline. */
  readonly pageWorkers: PageWorkers | null;
  close(): Promise<void>;
}

const DAY_MS = 86_400_000;

/** The ISO instant `days` whole days before `now`: what a retention of that many days keeps is newer. */
export function retentionCutoff(now: Date, days: number): string {
  return new Date(now.getTime() - days * DAY_MS).toISOString();
}

/** The physical mapping of a flow's canonical table in one region. */
export function mappingOf(flow: Flow, canonical: string, region: RegionId): TableMapping {
  const table = flow.tables.find((t) => t.canonical === canonical);
  if (table === undefined)
    throw new SyncError('invalid-config', `flow '${flow.name}' has no table '${canonical}'`);
  return tableMappingFor(table, region);
}

export { flowOf };

export interface RuntimeOptions {
  /**
   * Worker threads for page work: default one per available core, at most 4; 0 runs page work on
   * the calling thread (inside a page worker, and whenever a store is an in-memory database, which
   * another thread could not see).
   */
  readonly pageWorkers?: number;
}

const MAX_PAGE_WORKERS = 4;

function pageWorkerCount(config: AppConfig, options: RuntimeOptions): number {
  if (Object.values(config.stores).some((s) => s.kind === 'sqlite' && s.file === ':memory:')) return 0;
  return Math.max(
    0,
    Math.floor(options.pageWorkers ?? Math.min(MAX_PAGE_WORKERS, os.availableParallelism())),
  );
}

export function createRuntime(config: AppConfig, options: RuntimeOptions = {}): SyncRuntime {
  const workerCount = pageWorkerCount(config, options);
  const pageWorkers = workerCount > 0 ? createPageWorkers(config, workerCount) : null;
  const opened = new Map<RegionId, Promise<RegionStore>>();
  const staging = new AzureBlobStaging({
    connectionString: config.staging.connectionString,
    accountUrl: config.staging.accountUrl,
    container: config.staging.container,
  });

  const open = async (region: RegionId): Promise<RegionStore> => {
    const resolved = config.stores[region];
    if (resolved === undefined)
      throw new SyncError(
        'invalid-config',
        config.zone !== null && config.topology.regions.some((r) => r.id === region)
          ? `zone '${config.zone}' has no connection to region '${region}'`
          : `unknown region '${region}'`,
      );
    const store: RegionStore =
      resolved.kind === 'mssql'
        ? // Loaded on first use: the SQL Server driver costs every page worker ~30 MB otherwise.
          (await import('../adapters/mssqlRegionStore.js')).openMssqlRegionStore({
            region,
            connectionString: resolved.connectionString,
          })
        : openSqliteRegionStore({
            region,
            file: resolved.file,
            ...(resolved.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: resolved.busyTimeoutMs }),
          });
    const tables: TableMapping[] = [];
    const seen = new Set<string>();
    for (const flow of config.topology.flows) {
      for (const t of flow.tables) {
        const m = tableMappingFor(t, region);
        if (!seen.has(m.table)) {
          seen.add(m.table);
          tables.push(m);
        }
      }
    }
    await store.migrate(tables);
    return store;
  };

  return {
    topology: config.topology,
    zone: config.zone,
    pseudonymKey: config.pseudonymKey,
    regions: Object.keys(config.stores),
    store(region) {
      let p = opened.get(region);
      if (p === undefined) {
        p = open(region);
        opened.set(region, p);
        p.catch(() => opened.delete(region));
      }
      return p;
    },
    staging,
    stagingRetentionDays: config.staging.retentionDays,
    stagingPurgeSchedule: config.staging.purgeSchedule,
    blobs: staging,
    runs: new BlobRunHistory({
      connectionString: config.staging.connectionString,
      accountUrl: config.staging.accountUrl,
      container: config.runHistory.container,
    }),
    runRetentionDays: config.runHistory.retentionDays,
    now: () => new Date(),
    pageWorkers,
    async close() {
      await pageWorkers?.close();
      const stores = await Promise.allSettled([...opened.values()]);
      opened.clear();
      for (const s of stores) if (s.status === 'fulfilled') await s.value.close();
    },
  };
}
