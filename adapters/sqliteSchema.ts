/**
 * SQLite schema: sync tables, and for each synchronised table its sync columns, the `change_seq`
 * machinery (a per-table counter advanced by triggers on every insert and update) and the
 * keyset index. Every step is idempotent; `sync_meta.schema_version` records applied migrations.
 */
import type { Database } from 'better-sqlite3';
import { SyncError } from '../sync/errors.js';
import type { CompiledMapping } from '../sync/mapping.js';
import { derivedName, quoteSqlite as q } from './sqlIdentifiers.js';

/** Ordered migrations of the sync tables; append only. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS sync_change_counter (
     table_name TEXT PRIMARY KEY,
     value INTEGER NOT NULL
   );
   CREATE TABLE IF NOT EXISTS sync_checkpoint (
     flow TEXT NOT NULL,
     source TEXT NOT NULL,
     target TEXT NOT NULL,
     table_name TEXT NOT NULL,
     cursor_change TEXT NOT NULL,
     cursor_key TEXT NOT NULL,
     run_id TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     PRIMARY KEY (flow, source, target, table_name)
   );
   CREATE TABLE IF NOT EXISTS sync_audit (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     run_id TEXT NOT NULL,
     flow TEXT NOT NULL,
     source TEXT NOT NULL,
     target TEXT NOT NULL,
     table_name TEXT NOT NULL,
     rows INTEGER NOT NULL,
     written INTEGER NOT NULL,
     policy TEXT NOT NULL,
     at TEXT NOT NULL
   );
   CREATE INDEX IF NOT EXISTS sync_audit_run ON sync_audit (run_id, id);`,
  // An effect (e.g. one saga step) is audited once however often it is retried: NULL effects
  // (batch pages) are distinct in a SQLite unique index, so only named effects are deduplicated.
  `ALTER TABLE sync_audit ADD COLUMN effect TEXT;
   CREATE UNIQUE INDEX IF NOT EXISTS sync_audit_effect ON sync_audit (run_id, effect);`,
];

export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/** Applies pending sync-table migrations in one transaction. */
export function migrateSyncTables(db: Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS sync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  db.transaction(() => {
    const row = db.prepare("SELECT value FROM sync_meta WHERE key = 'schema_version'").get() as
      { value: string } | undefined;
    const current = row === undefined ? 0 : Number(row.value);
    for (let v = current; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v] as string);
    db.prepare(
      "INSERT INTO sync_meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    ).run(String(Math.max(current, MIGRATIONS.length)));
  })();
}

/** Unique indexes (primary key included) over exactly these columns, in any order, BINARY collation. */
function uniqueKeyIndexes(db: Database, table: string, keyColumns: readonly string[]): string[] {
  const want = keyColumns.map((c) => c.toLowerCase()).sort();
  const indexes = db.prepare('SELECT name, "unique" AS u, partial FROM pragma_index_list(?)').all(table) as {
    name: string;
    u: number;
    partial: number;
  }[];
  return indexes
    .filter((ix) => ix.u === 1 && ix.partial === 0)
    .filter((ix) => {
      // Key parts only, and only with the default collation (an upsert's conflict target names
      // the columns without a collation, so a NOCASE index would not serve it).
      const parts = db.prepare('SELECT name, coll FROM pragma_index_xinfo(?) WHERE key = 1').all(ix.name) as {
        name: string | null;
        coll: string | null;
      }[];
      if (parts.some((p) => p.name === null || (p.coll ?? 'BINARY').toUpperCase() !== 'BINARY')) return false;
      const cols = parts.map((p) => (p.name as string).toLowerCase()).sort();
      return cols.length === want.length && cols.every((c, i) => c === want[i]);
    })
    .map((ix) => ix.name);
}

/** Key columns of an index, lower-cased, in index order. */
function indexColumns(db: Database, index: string): string[] {
  return (
    db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').all(index) as { name: string }[]
  ).map((r) => String(r.name).toLowerCase());
}

/**
 * Key migration: a table whose primary key is a strict part of the mapped key (e.g. `sales_order`
 * keyed by `order_id` before orders were keyed by `(home_region, order_id)`) cannot hold two rows
 * the mapping tells apart. SQLite cannot alter a primary key, so the table is rebuilt with the same
 * columns and the mapped key, every row copied, in the caller's transaction; its indexes and
 * triggers are dropped with it and recreated by {@link prepareTable}. Rows with no value in a
 * column the key gains are refused (nothing is guessed, nothing lost): the error names them.
 */
function widenPrimaryKey(db: Database, m: CompiledMapping): void {
  const t = m.mapping.table;
  const info = db
    .prepare('SELECT name, type, "notnull" AS nn, dflt_value, pk FROM pragma_table_info(?)')
    .all(t) as {
    name: string;
    type: string;
    nn: number;
    dflt_value: string | null;
    pk: number;
  }[];
  const pk = info.filter((c) => c.pk > 0).map((c) => c.name.toLowerCase());
  const want = m.physicalKeyColumns.map((c) => c.toLowerCase());
  const narrower = pk.length > 0 && pk.length < want.length && pk.every((c) => want.includes(c));
  if (!narrower) return;
  const gained = m.physicalKeyColumns.filter((c) => !pk.includes(c.toLowerCase()));
  const orphans = db
    .prepare(`SELECT count(*) FROM ${q(t)} WHERE ${gained.map((c) => `${q(c)} IS NULL`).join(' OR ')}`)
    .pluck()
    .get() as number;
  if (orphans > 0)
    throw new SyncError(
      'schema',
      `${orphans} rows of ${t} have no ${gained.join('/')}: set it before the key becomes (${m.physicalKeyColumns.join(', ')})`,
    );
  const rebuilt = derivedName('sync_rekey', t);
  const cols = info.map(
    (c) =>
      `${q(c.name)}${c.type ? ` ${c.type}` : ''}${c.nn || want.includes(c.name.toLowerCase()) ? ' NOT NULL' : ''}${
        c.dflt_value === null ? '' : ` DEFAULT ${c.dflt_value}`
      }`,
  );
  const names = info.map((c) => q(c.name)).join(', ');
  db.exec(`DROP TABLE IF EXISTS ${q(rebuilt)}`);
  db.exec(
    `CREATE TABLE ${q(rebuilt)} (${cols.join(', ')}, PRIMARY KEY (${m.physicalKeyColumns.map(q).join(', ')}))`,
  );
  db.exec(`INSERT INTO ${q(rebuilt)} (${names}) SELECT ${names} FROM ${q(t)}`);
  db.exec(`DROP TABLE ${q(t)}`);
  db.exec(`ALTER TABLE ${q(rebuilt)} RENAME TO ${q(t)}`);
}

/** The change-tracking triggers of a table: on insert, on update. */
function trackingTriggers(table: string): { insert: string; update: string } {
  return { insert: derivedName('sync_ins', table), update: derivedName('sync_upd', table) };
}

/**
 * Prepares one business table: creates it if absent (embedded default), else adds missing sync
 * columns and widens a primary key narrower than the mapped key; ensures a unique index on the
 * key, the keyset index on (change_seq, key), the change counter and the triggers; and gives
 * pre-existing rows a change value.
 */
export function prepareTable(db: Database, m: CompiledMapping, region: string): void {
  const t = m.mapping.table;
  const table = q(t);
  const keys = m.physicalKeyColumns.map(q).join(', ');
  // The region id passed the config pattern (lower-case letters, digits, -), safe in a literal.
  if (!/^[a-z][a-z0-9-]*$/.test(region)) throw new Error(`invalid region id ${JSON.stringify(region)}`);
  db.transaction(() => {
    const exists =
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t) !== undefined;
    if (!exists) {
      // No declared types: values keep the type they were written with (BLOB affinity).
      const cols = m.physicalColumns.map((c) => `${q(c)}`).join(', ');
      db.exec(
        `CREATE TABLE ${table} (${cols},
           modified_at TEXT NOT NULL, origin_region TEXT NOT NULL, is_deleted INTEGER NOT NULL DEFAULT 0,
           change_seq INTEGER, PRIMARY KEY (${keys}))`,
      );
    } else {
      const present = new Set(
        (db.prepare(`SELECT name FROM pragma_table_info(?)`).all(t) as { name: string }[]).map((r) =>
          r.name.toLowerCase(),
        ),
      );
      const missingBusiness = m.physicalColumns.filter((c) => !present.has(c.toLowerCase()));
      if (missingBusiness.length > 0) {
        throw new Error(`table ${t} lacks mapped columns: ${missingBusiness.join(', ')}`);
      }
      const add: [string, string][] = [
        ['modified_at', "TEXT NOT NULL DEFAULT '1970-01-01T00:00:00.000Z'"],
        ['origin_region', `TEXT NOT NULL DEFAULT '${region}'`],
        ['is_deleted', 'INTEGER NOT NULL DEFAULT 0'],
        ['change_seq', 'INTEGER'],
      ];
      for (const [name, type] of add)
        if (!present.has(name)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${type}`);
      widenPrimaryKey(db, m);
    }
    // Upserts need a unique index on exactly the key. A table we created has it as its primary
    // key; a second identical index only slows every write (measured: an insert into the
    // embedded-default price_list took about twice as long with it, triggers included), so it
    // is created only when missing and dropped where an earlier version added it redundantly.
    const uk = derivedName('sync_uk', t);
    const cs = derivedName('sync_cs', t);
    // Indexes an earlier version built over an older key are rebuilt over the mapped one.
    const want = m.physicalKeyColumns.map((c) => c.toLowerCase());
    if (indexColumns(db, uk).length > 0 && indexColumns(db, uk).join() !== want.join())
      db.exec(`DROP INDEX ${q(uk)}`);
    if (indexColumns(db, cs).length > 0 && indexColumns(db, cs).join() !== ['change_seq', ...want].join())
      db.exec(`DROP INDEX ${q(cs)}`);
    const otherKeyIndex = uniqueKeyIndexes(db, t, m.physicalKeyColumns).some((name) => name !== uk);
    if (otherKeyIndex) db.exec(`DROP INDEX IF EXISTS ${q(uk)}`);
    else db.exec(`CREATE UNIQUE INDEX IF NOT EXISTS ${q(uk)} ON ${table} (${keys})`);
    db.exec(`CREATE INDEX IF NOT EXISTS ${q(cs)} ON ${table} (change_seq, ${keys})`);
    db.prepare(
      'INSERT INTO sync_change_counter (table_name, value) VALUES (?, 0) ON CONFLICT(table_name) DO NOTHING',
    ).run(t);
    // The table name in the counter lookups is a validated identifier, written as a string literal.
    const counter = `(SELECT value FROM sync_change_counter WHERE table_name = '${t}')`;
    const tracking = trackingTriggers(t);
    // Next change value: above both the counter and the highest value present, so a value is
    // never reused (hard deletes) nor placed below one a reader may already have passed.
    const next = `(SELECT max(${counter}, coalesce((SELECT max(change_seq) FROM ${table}), 0)) + 1)`;
    const bump = `UPDATE ${table} SET change_seq = ${next} WHERE rowid = NEW.rowid;
       UPDATE sync_change_counter SET value = (SELECT change_seq FROM ${table} WHERE rowid = NEW.rowid)
        WHERE table_name = '${t}';`;
    // The store assigns change values itself (faster: no second write of each row) and always
    // above the counter, which it advances at commit. The triggers catch every other writer: a
    // CRM insert or update that leaves change_seq alone or sets a value at or below the counter.
    // Their own update sets a value above the counter, so they never fire themselves.
    db.exec(
      `CREATE TRIGGER IF NOT EXISTS ${q(tracking.insert)} AFTER INSERT ON ${table}
         WHEN NEW.change_seq IS NULL OR NEW.change_seq <= ${counter} BEGIN ${bump} END`,
    );
    db.exec(
      `CREATE TRIGGER IF NOT EXISTS ${q(tracking.update)} AFTER UPDATE ON ${table}
         WHEN NEW.change_seq IS OLD.change_seq OR NEW.change_seq <= ${counter} BEGIN ${bump} END`,
    );
    // Rows that predate the triggers get a change value now, so the first run sees them.
    db.exec(`UPDATE ${table} SET is_deleted = is_deleted WHERE change_seq IS NULL`);
  })();
}

/**
 * Suspends a table's change-tracking triggers for the rest of the caller's write transaction:
 * drops them and returns the function that recreates them from their stored definitions, to be
 * called before commit. The store gives every row it writes a change value above the counter, so
 * the triggers would stay quiet anyway, yet invoking them still cost each row about 1.3 us (a
 * trigger sub-program per insert; interleaved A/B of the store's applyPage with 5000-row pages:
 * 6.2-7.1 us/row with them, 4.8-5.9 suspended). Postgres replication suspends triggers the same
 * way for its apply sessions (`session_replication_role = replica`). Atomic: no other connection
 * can write while the transaction holds the write lock, readers see only committed schema, and a
 * rollback or crash restores the triggers with everything else. The price: each suspension
 * changes the schema, so every other connection to the database re-reads it on its next
 * statement (~0.3-0.5 ms; devhost's status reads during a 1M-row run spent 0.9 s instead of
 * 0.15 s on checkpoints), which is why callers suspend for large pages only. Recreated, the
 * triggers move to the end of the schema, so their order among a CRM's own triggers on the table
 * may change (SQLite promises no order between triggers).
 */
export function suspendTracking(db: Database, table: string): () => void {
  if (!db.inTransaction) throw new Error('tracking triggers are suspended only inside a write transaction');
  const { insert, update } = trackingTriggers(table);
  const triggers = db
    .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND name IN (?, ?)")
    .all(table, insert, update) as { name: string; sql: string }[];
  for (const t of triggers) db.exec(`DROP TRIGGER ${q(t.name)}`);
  return () => {
    for (const t of triggers) db.exec(t.sql);
  };
}
