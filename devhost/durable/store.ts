import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/**
 * The task hub in SQLite: one file per hub. Everything an orchestration needs to resume after a
 * crash lives here (protocol Part E); the engine keeps only caches in memory.
 *
 * - `instances`: one row per instance id, orchestrations and entities (`@name@key`). An
 *   orchestration row has its status, input/output/custom status as JSON text, the current
 *   execution, counters (next event id, units seen, history length) and `state`, a small JSON
 *   document with the host's bookkeeping (retry chains, armed timers, held locks). An entity row
 *   keeps its scheduler state in `state` (exists, state, lockedBy, the queue of messages that
 *   arrived but wait, protocol C.3) and its last operation time in `updated_at`; the row is
 *   created by the first message addressed to the entity.
 * - `history`: the events of the current execution, append-only, one row per event.
 * - `units`: the signature of every action unit seen so far (B.6b), to detect non-determinism.
 * - `inbox`: messages addressed to an instance id: history events to deliver (completions,
 *   external events, ExecutionStarted) and control requests (terminate, suspend, resume, rewind).
 *   A durable timer is an inbox message whose `visible_at` lies in the future.
 * - `activities`: activity work items; `locked_by` names the devhost process running one.
 * - `owner`: which devhost process holds the hub (pid, and when it took it in `heartbeat`), for
 *   messages; the hub itself is guarded by an OS-released lock on `<hub>.lock` (acquireLock).
 */

export interface InstanceRow {
  instance_id: string;
  name: string;
  version: string | null;
  execution_id: string;
  status: string;
  input: string | null;
  output: string | null;
  custom_status: string | null;
  created_at: number;
  updated_at: number;
  parent_instance_id: string | null;
  parent_execution_id: string | null;
  parent_task_id: number | null;
  next_event_id: number;
  units_seen: number;
  history_count: number;
  last_ts: number;
  state: string;
}

/**
 * `event`/`control` address orchestrations; `op` (operation request), `lock` (lock request) and
 * `release` (lock release) address entities (protocol C.3).
 */
export type MessageKind = 'event' | 'control' | 'op' | 'lock' | 'release';

export interface InboxRow {
  id: number;
  instance_id: string;
  execution_id: string | null;
  kind: MessageKind;
  body: string;
  visible_at: number;
  timer_id: number | null;
}

export interface ActivityRow {
  id: number;
  instance_id: string;
  execution_id: string;
  task_id: number;
  name: string;
  input: string | null;
  locked_by: string | null;
  created_at: number;
}

export interface NewMessage {
  instanceId: string;
  executionId: string | null;
  kind: MessageKind;
  body: string;
  visibleAt: number;
  timerId?: number | null;
}

export interface NewActivity {
  instanceId: string;
  executionId: string;
  taskId: number;
  name: string;
  input: string | null;
  createdAt: number;
}

export interface InstanceQuery {
  createdFrom?: number;
  createdTo?: number;
  statuses?: string[];
  prefix?: string;
  /** Keyset continuation: rows strictly after (created_at, instance_id). */
  after?: { createdAt: number; instanceId: string };
  limit?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS instances (
  instance_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  version TEXT,
  execution_id TEXT NOT NULL,
  status TEXT NOT NULL,
  input TEXT,
  output TEXT,
  custom_status TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  parent_instance_id TEXT,
  parent_execution_id TEXT,
  parent_task_id INTEGER,
  next_event_id INTEGER NOT NULL DEFAULT 0,
  units_seen INTEGER NOT NULL DEFAULT 0,
  history_count INTEGER NOT NULL DEFAULT 0,
  last_ts INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS instances_created ON instances(created_at, instance_id);
CREATE TABLE IF NOT EXISTS history (
  instance_id TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  event TEXT NOT NULL,
  PRIMARY KEY (instance_id, execution_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS units (
  instance_id TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  sig TEXT NOT NULL,
  PRIMARY KEY (instance_id, execution_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL,
  execution_id TEXT,
  kind TEXT NOT NULL,
  body TEXT NOT NULL,
  visible_at INTEGER NOT NULL,
  timer_id INTEGER
);
CREATE INDEX IF NOT EXISTS inbox_instance ON inbox(instance_id, id);
CREATE INDEX IF NOT EXISTS inbox_visible ON inbox(visible_at);
CREATE TABLE IF NOT EXISTS activities (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  task_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  input TEXT,
  locked_by TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS activities_instance ON activities(instance_id);
CREATE TABLE IF NOT EXISTS owner (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  owner TEXT NOT NULL,
  pid INTEGER NOT NULL,
  heartbeat INTEGER NOT NULL
);
`;

/** Characters outside this set are replaced in a hub's file name. */
function fileNameFor(hubName: string): string {
  return `${hubName.replace(/[^A-Za-z0-9_-]/g, '_')}.sqlite`;
}

export class TaskHubStore {
  readonly db: Database.Database;
  /** The hub's file, or ':memory:'. */
  readonly file: string;
  readonly #stmts = new Map<string, Database.Statement>();
  #lock: Database.Database | undefined;

  /** `dataDir` ':memory:' gives a private in-memory hub (tests). */
  constructor(dataDir: string, hubName: string) {
    if (dataDir === ':memory:') {
      this.file = ':memory:';
      this.db = new Database(':memory:');
    } else {
      const dir = path.join(dataDir, 'durable');
      mkdirSync(dir, { recursive: true });
      this.file = path.join(dir, fileNameFor(hubName));
      this.db = new Database(this.file);
      this.db.pragma('journal_mode = WAL');
      // An episode is durable once the WAL is written; a power loss may lose the last few, a
      // process crash loses none (WAL + synchronous NORMAL).
      this.db.pragma('synchronous = NORMAL');
    }
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.releaseLock();
    if (this.db.open) this.db.close();
  }

  /**
   * Takes the hub's process lock: an exclusive SQLite lock on `<hub>.lock`, held for the life of
   * the store. The operating system drops it the moment its process dies (closing its files comes
   * before becoming a zombie), so a dead owner never blocks, whatever its pid now names. Waits up
   * to `waitMs` for an owner that is still exiting. False when another process (or store) holds it.
   */
  acquireLock(waitMs: number): boolean {
    if (this.file === ':memory:' || this.#lock) return true;
    const lock = new Database(`${this.file}.lock`);
    try {
      lock.pragma(`busy_timeout = ${Math.max(0, Math.round(waitMs))}`);
      lock.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      lock.close();
      if ((err as { code?: string }).code === 'SQLITE_BUSY') return false;
      throw err;
    }
    this.#lock = lock;
    return true;
  }

  releaseLock(): void {
    if (!this.#lock) return;
    this.#lock.close(); // closing ends the open transaction and its lock
    this.#lock = undefined;
  }

  #stmt(sql: string): Database.Statement {
    let stmt = this.#stmts.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.#stmts.set(sql, stmt);
    }
    return stmt;
  }

  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  // ---- hub ownership (the process-level lease) ----

  readOwner(): { owner: string; pid: number; heartbeat: number } | undefined {
    return this.#stmt('SELECT owner, pid, heartbeat FROM owner WHERE id = 1').get() as
      { owner: string; pid: number; heartbeat: number } | undefined;
  }

  writeOwner(owner: string, pid: number, heartbeat: number): void {
    this.#stmt(
      'INSERT INTO owner (id, owner, pid, heartbeat) VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, heartbeat = excluded.heartbeat',
    ).run(owner, pid, heartbeat);
  }

  releaseOwner(owner: string): void {
    this.#stmt('DELETE FROM owner WHERE id = 1 AND owner = ?').run(owner);
  }

  // ---- instances ----

  getInstance(instanceId: string): InstanceRow | undefined {
    return this.#stmt('SELECT * FROM instances WHERE instance_id = ?').get(instanceId) as
      InstanceRow | undefined;
  }

  /** Inserts or replaces the instance row (a new execution of a finished id replaces it). */
  putInstance(row: InstanceRow): void {
    this.#stmt(
      `INSERT OR REPLACE INTO instances (instance_id, name, version, execution_id, status, input, output, custom_status,
        created_at, updated_at, parent_instance_id, parent_execution_id, parent_task_id, next_event_id, units_seen,
        history_count, last_ts, state)
       VALUES (@instance_id, @name, @version, @execution_id, @status, @input, @output, @custom_status, @created_at,
        @updated_at, @parent_instance_id, @parent_execution_id, @parent_task_id, @next_event_id, @units_seen,
        @history_count, @last_ts, @state)`,
    ).run(row);
  }

  queryInstances(query: InstanceQuery): InstanceRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.createdFrom !== undefined) {
      where.push('created_at >= ?');
      args.push(query.createdFrom);
    }
    if (query.createdTo !== undefined) {
      where.push('created_at <= ?');
      args.push(query.createdTo);
    }
    if (query.statuses && query.statuses.length > 0) {
      where.push(`status IN (${query.statuses.map(() => '?').join(', ')})`);
      args.push(...query.statuses);
    }
    if (query.prefix) {
      where.push('substr(instance_id, 1, length(?)) = ?');
      args.push(query.prefix, query.prefix);
    }
    if (query.after) {
      where.push('(created_at > ? OR (created_at = ? AND instance_id > ?))');
      args.push(query.after.createdAt, query.after.createdAt, query.after.instanceId);
    }
    // Entities (`@name@key`) are listed by their own API (protocol C), not with orchestrations.
    where.push("substr(instance_id, 1, 1) <> '@'");
    const sql = `SELECT * FROM instances WHERE ${where.join(' AND ')} ORDER BY created_at, instance_id${
      query.limit ? ` LIMIT ${Math.floor(query.limit)}` : ''
    }`;
    return this.db.prepare(sql).all(...args) as InstanceRow[];
  }

  /** Removes an instance and everything addressed to it. */
  deleteInstance(instanceId: string): number {
    this.#stmt('DELETE FROM history WHERE instance_id = ?').run(instanceId);
    this.#stmt('DELETE FROM units WHERE instance_id = ?').run(instanceId);
    this.#stmt('DELETE FROM inbox WHERE instance_id = ?').run(instanceId);
    this.#stmt('DELETE FROM activities WHERE instance_id = ?').run(instanceId);
    return this.#stmt('DELETE FROM instances WHERE instance_id = ?').run(instanceId).changes;
  }

  /** Drops the history and units of every execution of the instance except `keepExecutionId`. */
  deleteOtherExecutions(instanceId: string, keepExecutionId: string): void {
    this.#stmt('DELETE FROM history WHERE instance_id = ? AND execution_id <> ?').run(
      instanceId,
      keepExecutionId,
    );
    this.#stmt('DELETE FROM units WHERE instance_id = ? AND execution_id <> ?').run(
      instanceId,
      keepExecutionId,
    );
  }

  // ---- history and units ----

  loadHistory(instanceId: string, executionId: string): string[] {
    return (
      this.#stmt('SELECT event FROM history WHERE instance_id = ? AND execution_id = ? ORDER BY seq')
        .pluck()
        .all(instanceId, executionId) as string[]
    ).slice();
  }

  appendHistory(instanceId: string, executionId: string, firstSeq: number, events: string[]): void {
    const insert = this.#stmt(
      'INSERT INTO history (instance_id, execution_id, seq, event) VALUES (?, ?, ?, ?)',
    );
    events.forEach((event, i) => insert.run(instanceId, executionId, firstSeq + i, event));
  }

  /** Replaces one history event in place (rewind turns failures into generic events). */
  replaceHistoryEvent(instanceId: string, executionId: string, seq: number, event: string): void {
    this.#stmt('UPDATE history SET event = ? WHERE instance_id = ? AND execution_id = ? AND seq = ?').run(
      event,
      instanceId,
      executionId,
      seq,
    );
  }

  truncateHistory(instanceId: string, executionId: string, fromSeq: number): void {
    this.#stmt('DELETE FROM history WHERE instance_id = ? AND execution_id = ? AND seq >= ?').run(
      instanceId,
      executionId,
      fromSeq,
    );
  }

  loadUnits(instanceId: string, executionId: string): string[] {
    return this.#stmt('SELECT sig FROM units WHERE instance_id = ? AND execution_id = ? ORDER BY idx')
      .pluck()
      .all(instanceId, executionId) as string[];
  }

  appendUnits(instanceId: string, executionId: string, firstIdx: number, sigs: string[]): void {
    const insert = this.#stmt('INSERT INTO units (instance_id, execution_id, idx, sig) VALUES (?, ?, ?, ?)');
    sigs.forEach((sig, i) => insert.run(instanceId, executionId, firstIdx + i, sig));
  }

  // ---- inbox ----

  insertMessage(message: NewMessage): number {
    if (message.instanceId.startsWith('@')) this.#ensureEntity(message.instanceId, message.visibleAt);
    return Number(
      this.#stmt(
        'INSERT INTO inbox (instance_id, execution_id, kind, body, visible_at, timer_id) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(
        message.instanceId,
        message.executionId,
        message.kind,
        message.body,
        message.visibleAt,
        message.timerId ?? null,
      ).lastInsertRowid,
    );
  }

  /** An entity's row exists from its first message on (its scheduler state lives there). */
  #ensureEntity(entityId: string, now: number): void {
    const at = entityId.indexOf('@', 1);
    const name = at > 0 ? entityId.slice(1, at) : entityId.slice(1);
    this.#stmt(
      `INSERT OR IGNORE INTO instances (instance_id, name, version, execution_id, status, created_at, updated_at, state)
       VALUES (?, ?, NULL, '', 'Running', ?, ?, '{}')`,
    ).run(entityId, name, now, now);
  }

  /**
   * Entities of one name that exist (protocol D.4 `entities/{name}`), ordered by id, after the
   * keyset `afterId`, optionally within a last-operation time range.
   */
  queryEntities(query: {
    name: string;
    afterId?: string;
    lastOperationFrom?: number;
    lastOperationTo?: number;
    limit: number;
  }): InstanceRow[] {
    const prefix = `@${query.name}@`;
    const where = ['substr(instance_id, 1, length(?)) = ?', "json_extract(state, '$.exists') = 1"];
    const args: unknown[] = [prefix, prefix];
    if (query.afterId !== undefined) {
      where.push('instance_id > ?');
      args.push(query.afterId);
    }
    if (query.lastOperationFrom !== undefined) {
      where.push('updated_at >= ?');
      args.push(query.lastOperationFrom);
    }
    if (query.lastOperationTo !== undefined) {
      where.push('updated_at <= ?');
      args.push(query.lastOperationTo);
    }
    args.push(Math.max(1, Math.floor(query.limit)));
    return this.db
      .prepare(`SELECT * FROM instances WHERE ${where.join(' AND ')} ORDER BY instance_id LIMIT ?`)
      .all(...args) as InstanceRow[];
  }

  /** Messages an episode may take now, oldest first. */
  visibleMessages(instanceId: string, now: number, limit: number): InboxRow[] {
    return this.#stmt(
      'SELECT * FROM inbox WHERE instance_id = ? AND visible_at <= ? ORDER BY id LIMIT ?',
    ).all(instanceId, now, limit) as InboxRow[];
  }

  hasVisibleMessage(instanceId: string, now: number, kind?: 'control'): boolean {
    const sql = kind
      ? 'SELECT 1 FROM inbox WHERE instance_id = ? AND visible_at <= ? AND kind = ? LIMIT 1'
      : 'SELECT 1 FROM inbox WHERE instance_id = ? AND visible_at <= ? LIMIT 1';
    return (
      (kind ? this.#stmt(sql).get(instanceId, now, kind) : this.#stmt(sql).get(instanceId, now)) !== undefined
    );
  }

  deleteMessage(id: number): void {
    this.#stmt('DELETE FROM inbox WHERE id = ?').run(id);
  }

  /** Disarms a durable timer (cancel, or the instance ended). */
  deleteTimer(instanceId: string, executionId: string, timerId: number): void {
    this.#stmt('DELETE FROM inbox WHERE instance_id = ? AND execution_id = ? AND timer_id = ?').run(
      instanceId,
      executionId,
      timerId,
    );
  }

  /** Drops every event message of an instance (it ended); control messages stay. */
  deleteEventMessages(instanceId: string): void {
    this.#stmt("DELETE FROM inbox WHERE instance_id = ? AND kind = 'event'").run(instanceId);
  }

  instancesWithVisibleMessages(now: number): string[] {
    return this.#stmt('SELECT DISTINCT instance_id FROM inbox WHERE visible_at <= ?')
      .pluck()
      .all(now) as string[];
  }

  nextVisibleAt(after: number): number | undefined {
    return this.#stmt('SELECT MIN(visible_at) FROM inbox WHERE visible_at > ?').pluck().get(after) as
      number | undefined;
  }

  // ---- activities ----

  insertActivity(item: NewActivity): number {
    return Number(
      this.#stmt(
        'INSERT INTO activities (instance_id, execution_id, task_id, name, input, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(item.instanceId, item.executionId, item.taskId, item.name, item.input, item.createdAt)
        .lastInsertRowid,
    );
  }

  getActivity(id: number): ActivityRow | undefined {
    return this.#stmt('SELECT * FROM activities WHERE id = ?').get(id) as ActivityRow | undefined;
  }

  lockActivity(id: number, owner: string): boolean {
    return (
      this.#stmt('UPDATE activities SET locked_by = ? WHERE id = ? AND locked_by IS NULL').run(owner, id)
        .changes === 1
    );
  }

  /** Completing a work item deletes it; false when it was gone (purged, or completed before a crash). */
  deleteActivity(id: number): boolean {
    return this.#stmt('DELETE FROM activities WHERE id = ?').run(id).changes === 1;
  }

  deleteQueuedActivities(instanceId: string): void {
    this.#stmt('DELETE FROM activities WHERE instance_id = ? AND locked_by IS NULL').run(instanceId);
  }

  /** Work items whose lease holder is gone become runnable again (at-least-once, like Azure). */
  releaseActivityLocks(exceptOwner: string): number {
    return this.#stmt(
      'UPDATE activities SET locked_by = NULL WHERE locked_by IS NOT NULL AND locked_by <> ?',
    ).run(exceptOwner).changes;
  }

  unlockedActivityIds(): number[] {
    return this.#stmt('SELECT id FROM activities WHERE locked_by IS NULL ORDER BY id')
      .pluck()
      .all() as number[];
  }
}
