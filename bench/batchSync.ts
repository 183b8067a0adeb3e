/**
 * Batch sync throughput: a pricing sync of N hub rows to the three spokes through the whole
 * pipeline (HTTP start, flowSync, pairSync, extractPage -> gzip blob in Azurite -> applyPage with
 * the guarded upsert and checkpoint, on devhost with its SQLite task hub), beside a plain keyset
 * copy loop between the same SQLite files in the same run (read a page after the cursor, insert
 * it in one transaction). Prints rows/s of each and the ratio (goal: pipeline >= 50% of the loop).
 *
 * Usage: node dist/bench/batchSync.js [--rows 1000000] [--page-size 5000] [--keep]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { loadConfig } from '../config/loadConfig';
import { seedDemo } from '../scripts/demoSeed';
import { startDevhost } from '../test/support/devhost';
import { localAppEnv } from '../test/support/localApp';

const APP_DIR = path.resolve(__dirname, '../..');
const SPOKES = ['sea', 'eu', 'latam'] as const;

/** The baseline: keyset pages from the hub file into a copy table in each spoke file. */
function plainCopy(hubFile: string, spokeFile: string, pageSize: number): number {
  const hub = new BetterSqlite3(hubFile, { readonly: true });
  const spoke = new BetterSqlite3(spokeFile);
  spoke.pragma('journal_mode = WAL');
  spoke.pragma('synchronous = NORMAL');
  const cols =
    'sku, currency, list_price, min_qty, price_book, valid_from, valid_to, modified_at, origin_region, is_deleted, change_seq';
  spoke.exec(`DROP TABLE IF EXISTS price_list_copy;
    CREATE TABLE price_list_copy (sku, currency, list_price, min_qty, price_book, valid_from, valid_to,
      modified_at TEXT NOT NULL, origin_region TEXT NOT NULL, is_deleted INTEGER NOT NULL, change_seq INTEGER,
      PRIMARY KEY (sku, currency))`);
  const first = hub
    .prepare(`SELECT ${cols} FROM price_list ORDER BY change_seq, sku, currency LIMIT ?`)
    .raw();
  const next = hub
    .prepare(
      `SELECT ${cols} FROM price_list WHERE (change_seq, sku, currency) > (?, ?, ?) ORDER BY change_seq, sku, currency LIMIT ?`,
    )
    .raw();
  const insert = spoke.prepare(
    `INSERT INTO price_list_copy (${cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(sku, currency) DO UPDATE SET
      list_price = excluded.list_price, min_qty = excluded.min_qty, price_book = excluded.price_book, valid_from = excluded.valid_from,
      valid_to = excluded.valid_to, modified_at = excluded.modified_at, origin_region = excluded.origin_region,
      is_deleted = excluded.is_deleted, change_seq = excluded.change_seq`,
  );
  const write = spoke.transaction((rows: unknown[][]) => {
    for (const r of rows) insert.run(...r);
  });
  let copied = 0;
  let rows = first.all(pageSize) as unknown[][];
  while (rows.length > 0) {
    write(rows);
    copied += rows.length;
    const last = rows[rows.length - 1] as unknown[];
    if (rows.length < pageSize) break;
    rows = next.all(last[10], last[0], last[1], pageSize) as unknown[][];
  }
  hub.close();
  spoke.close();
  return copied;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '1000000' },
      'page-size': { type: 'string', default: '5000' },
      keep: { type: 'boolean', default: false },
    },
  });
  const n = Number(values.rows);
  const pageSize = Number(values['page-size']);
  const root = mkdtempSync(path.join(os.tmpdir(), 'batch-bench-'));
  const env = await localAppEnv(root);
  const config = loadConfig(env, { cwd: root });
  const file = (region: string) => (config.stores[region] as { file: string }).file;
  console.log(`seeding ${n} hub prices in ${root} ...`);
  let t = performance.now();
  await seedDemo(config, {
    hubPrices: n,
    spokePrices: 0,
    promotions: 0,
    ordersPerSpoke: 0,
    base: '2026-01-01T00:00:00.000Z',
  });
  console.log(`  seeded in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // The pipeline, driven as a user would: POST, then poll the status URL.
  const host = await startDevhost({
    appDir: APP_DIR,
    dataDir: path.join(root, 'host'),
    env,
    readyTimeoutMs: 60_000,
  });
  let pipelineSeconds: number;
  let report: { totals: { rowsWritten: number; pages: number } };
  try {
    t = performance.now();
    const res = await fetch(`${host.origin}/api/sync/pricing`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'incremental', pageSize }),
    });
    const started = (await res.json()) as { statusQueryGetUri: string };
    if (res.status !== 202) throw new Error(`POST answered ${res.status}: ${JSON.stringify(started)}`);
    for (;;) {
      const s = (await (await fetch(started.statusQueryGetUri)).json()) as {
        runtimeStatus: string;
        output: unknown;
      };
      if (s.runtimeStatus === 'Completed') {
        report = s.output as typeof report;
        break;
      }
      if (s.runtimeStatus === 'Failed' || s.runtimeStatus === 'Terminated')
        throw new Error(`run ${s.runtimeStatus}: ${JSON.stringify(s.output)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    pipelineSeconds = (performance.now() - t) / 1000;
  } finally {
    await host.stop();
  }
  const delivered = SPOKES.reduce(
    (sum, s) =>
      sum +
      (
        new BetterSqlite3(file(s), { readonly: true })
          .prepare('SELECT count(*) AS c FROM price_list')
          .get() as { c: number }
      ).c,
    0,
  );
  if (delivered !== 3 * n || report.totals.rowsWritten !== 3 * n)
    throw new Error(
      `pipeline delivered ${delivered} rows (report: ${report.totals.rowsWritten}), expected ${3 * n}`,
    );

  t = performance.now();
  let copied = 0;
  for (const s of SPOKES) copied += plainCopy(file('cn'), file(s), pageSize);
  const plainSeconds = (performance.now() - t) / 1000;
  if (copied !== 3 * n) throw new Error(`plain loop copied ${copied}, expected ${3 * n}`);

  const pipelineRate = (3 * n) / pipelineSeconds;
  const plainRate = (3 * n) / plainSeconds;
  console.log(
    `rows: ${n} hub prices -> 3 spokes (${3 * n} row deliveries), page size ${pageSize}, ${report.totals.pages} pages`,
  );
  console.log(
    `pipeline (devhost + durable + blob staging + guarded upsert): ${pipelineSeconds.toFixed(1)} s, ${Math.round(pipelineRate)} rows/s`,
  );
  console.log(
    `plain keyset copy loop (same SQLite files):                  ${plainSeconds.toFixed(1)} s, ${Math.round(plainRate)} rows/s`,
  );
  console.log(`ratio pipeline / plain: ${((100 * pipelineRate) / plainRate).toFixed(1)}% (goal >= 50%)`);
  if (!values.keep) rmSync(root, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
