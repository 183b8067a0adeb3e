/**
 * End-to-end harness for batch sync: the repo's app on devhost (child process), the embedded
 * default topology seeded small into a temporary data directory, Azurite in-process on free ports,
 * driven over HTTP as a user would, and the regional SQLite files read directly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { loadConfig } from '../../../config/loadConfig';
import type { AppConfig } from '../../../config/loadConfig';
import type { SeedOptions } from '../../../scripts/demoSeed';
import { seedDemo } from '../../../scripts/demoSeed';
import type { Devhost } from '../../support/devhost';
import { startDevhost } from '../../support/devhost';
import { localAppEnv } from '../../support/localApp';

/** The repo root: the app (package.json main = dist/index.js). dist/test/e2e/support -> root. */
export const APP_DIR = path.resolve(__dirname, '../../../..');

export const SMALL_SEED: SeedOptions = {
  hubPrices: 60,
  spokePrices: 6,
  promotions: 12,
  ordersPerSpoke: 5,
  base: '2026-01-01T00:00:00.000Z',
};

export interface SyncApp {
  readonly root: string;
  readonly config: AppConfig;
  readonly env: Record<string, string>;
  host: Devhost;
  /** Starts devhost again on the same data (after stop or kill). */
  restart(): Promise<void>;
  close(): Promise<void>;
  post(
    flow: string,
    body: unknown,
  ): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }>;
  /** Polls statusQueryGetUri until the run ends; returns the final status payload. */
  waitForRun(statusUri: string, timeoutMs?: number): Promise<RunStatus>;
  /** Runs a flow to its end over HTTP (POST, then poll). */
  run(flow: string, body: unknown): Promise<RunStatus>;
  /** Live rows of a region's table keyed by JSON of the key, including sync columns. */
  rows(region: string, table: string): Map<string, Record<string, unknown>>;
  db(region: string): BetterSqlite3.Database;
}

export interface RunStatus {
  runtimeStatus: string;
  output: unknown;
  customStatus: unknown;
  instanceId: string;
}

const KEYS: Record<string, string[]> = {
  price_list: ['sku', 'currency'],
  promotion: ['promotion_id'],
  sales_order: ['home_region', 'order_id'],
  sales_order_line: ['home_region', 'order_id', 'line_no'],
};

export async function startSyncApp(
  options: { seed?: SeedOptions; persistentHost?: boolean } = {},
): Promise<SyncApp> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'region-sync-e2e-'));
  const env = await localAppEnv(root);
  const config = loadConfig(env, { cwd: root });
  await seedDemo(config, options.seed ?? SMALL_SEED);
  const hostDir = path.join(root, 'host');
  const start = () =>
    startDevhost({
      appDir: APP_DIR,
      dataDir: options.persistentHost === true ? hostDir : ':memory:',
      env,
      readyTimeoutMs: 60_000,
    });
  const dbs = new Map<string, BetterSqlite3.Database>();
  const app: SyncApp = {
    root,
    config,
    env,
    host: await start(),
    async restart() {
      app.host = await start();
    },
    async close() {
      await app.host.stop();
      for (const db of dbs.values()) db.close();
      rmSync(root, { recursive: true, force: true });
    },
    async post(flow, body) {
      const res = await fetch(`${app.host.origin}/api/sync/${flow}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return {
        status: res.status,
        headers: res.headers,
        json: (await res.json()) as Record<string, unknown>,
      };
    },
    async waitForRun(statusUri, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        // The status URI names the origin of the host that answered; follow the current host.
        const url = new URL(statusUri);
        const res = await fetch(`${app.host.origin}${url.pathname}${url.search}`);
        const status = (await res.json()) as RunStatus;
        if (['Completed', 'Failed', 'Terminated'].includes(status.runtimeStatus)) return status;
        if (Date.now() > deadline)
          throw new Error(
            `run still ${status.runtimeStatus} after ${timeoutMs} ms: ${JSON.stringify(status)}`,
          );
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async run(flow, body) {
      const started = await app.post(flow, body);
      if (started.status !== 202)
        throw new Error(`POST /api/sync/${flow} answered ${started.status}: ${JSON.stringify(started.json)}`);
      return app.waitForRun(String(started.json.statusQueryGetUri));
    },
    db(region) {
      let db = dbs.get(region);
      if (db === undefined) {
        const store = config.stores[region];
        if (store?.kind !== 'sqlite') throw new Error(`no sqlite store for ${region}`);
        db = new BetterSqlite3(store.file, { fileMustExist: true });
        dbs.set(region, db);
      }
      return db;
    },
    rows(region, table) {
      const keys = KEYS[table] ?? [];
      const out = new Map<string, Record<string, unknown>>();
      for (const r of app.db(region).prepare(`SELECT * FROM "${table}"`).all() as Record<string, unknown>[])
        out.set(JSON.stringify(keys.map((k) => r[k])), r);
      return out;
    },
  };
  return app;
}
