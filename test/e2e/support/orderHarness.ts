/**
 * End-to-end harness for order sync: the repo's app on devhost (child process) with a temporary
 * data directory, the hub catalog seeded, Azurite on free ports, order events sent through the
 * embedded broker's admin HTTP, and state read over the app's HTTP API and from the region files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { SqliteOrderSagaStore } from '../../../adapters/sqliteOrderSaga';
import type { AppConfig } from '../../../config/loadConfig';
import { loadConfig } from '../../../config/loadConfig';
import { DEMO_CATALOG } from '../../../scripts/orderGenerator';
import type { OrderEvent } from '../../../sync/orderEvent';
import type { Devhost } from '../../support/devhost';
import { startDevhost } from '../../support/devhost';
import { localAppEnv } from '../../support/localApp';

export const APP_DIR = path.resolve(__dirname, '../../../..');

export interface OutgoingOrderMessage {
  body: unknown;
  messageId?: string;
  sessionId?: string;
}

/** An event as the CRM publishes it: session and message ids from the event. */
export function messageOf(e: OrderEvent): OutgoingOrderMessage {
  return {
    body: e,
    messageId: `${e.region}:${e.orderId}:${e.version}`,
    sessionId: `${e.region}:${e.orderId}`,
  };
}

export interface OrderApp {
  readonly config: AppConfig;
  host: Devhost;
  send(messages: readonly OutgoingOrderMessage[]): Promise<{ accepted: number; duplicates: number }>;
  /** GET /api/orders/{region}/{orderId}: status and JSON (null on 404). */
  state(region: string, orderId: string): Promise<Record<string, unknown> | null>;
  /** Polls until `check` returns true (or throws with the last value after `timeoutMs`). */
  waitFor<T>(what: string, read: () => Promise<T>, check: (v: T) => boolean, timeoutMs?: number): Promise<T>;
  http(method: string, route: string, body?: string): Promise<{ status: number; json: unknown }>;
  db(region: string): BetterSqlite3.Database;
  restart(): Promise<void>;
  /** Moves a manual clock forward (POST /admin/clock). */
  advanceClock(ms: number): Promise<void>;
  close(): Promise<void>;
}

export interface OrderAppOptions {
  /** `manual:<ISO>`: durable timers and retries move only with {@link OrderApp.advanceClock}. */
  readonly clock?: string;
  /** App settings added to the local environment (e.g. a short SQLite busy timeout). */
  readonly env?: Readonly<Record<string, string>>;
}

/** The demo product catalog in the hub's database, which the order saga checks lines against. */
export async function seedHubCatalog(config: AppConfig): Promise<void> {
  const hub = config.stores.cn;
  if (hub?.kind !== 'sqlite') throw new Error('the default topology keeps cn in SQLite');
  const catalog = new SqliteOrderSagaStore({ region: 'cn', file: hub.file });
  await catalog.migrate();
  await catalog.upsertProducts(DEMO_CATALOG);
  await catalog.close();
}

export async function startOrderApp(options: OrderAppOptions = {}): Promise<OrderApp> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'region-sync-orders-'));
  const env = await localAppEnv(root, { ...options.env });
  const config = loadConfig(env, { cwd: root });
  await seedHubCatalog(config);
  const start = () =>
    startDevhost({
      appDir: APP_DIR,
      dataDir: path.join(root, 'host'),
      env,
      readyTimeoutMs: 60_000,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
  const dbs = new Map<string, BetterSqlite3.Database>();
  const app: OrderApp = {
    config,
    host: await start(),
    async send(messages) {
      const res = await fetch(`${app.host.origin}/admin/servicebus/entities/order-events/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(messages),
      });
      if (res.status !== 201) throw new Error(`send answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as { accepted: number; duplicates: number };
    },
    async http(method, route, body) {
      const res = await fetch(`${app.host.origin}/api/${route}`, {
        method,
        ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
      });
      const text = await res.text();
      return { status: res.status, json: text === '' ? null : (JSON.parse(text) as unknown) };
    },
    async state(region, orderId) {
      const r = await app.http('GET', `orders/${region}/${orderId}`);
      return r.status === 200 ? (r.json as Record<string, unknown>) : null;
    },
    async waitFor(what, read, check, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = await read();
        if (check(v)) return v;
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v).slice(0, 2000)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    db(region) {
      let db = dbs.get(region);
      if (db === undefined) {
        const store = config.stores[region];
        if (store?.kind !== 'sqlite') throw new Error(`no sqlite store for ${region}`);
        db = new BetterSqlite3(store.file, { fileMustExist: true, readonly: true });
        dbs.set(region, db);
      }
      return db;
    },
    async restart() {
      app.host = await start();
    },
    async advanceClock(ms) {
      const res = await fetch(`${app.host.origin}/admin/clock`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ advanceMs: ms }),
      });
      if (!res.ok) throw new Error(`clock answered ${res.status}: ${await res.text()}`);
    },
    async close() {
      await app.host.stop();
      for (const db of dbs.values()) db.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return app;
}
