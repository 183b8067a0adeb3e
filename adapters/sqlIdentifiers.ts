/**
 * Quoting of configured identifiers. Every table and column name from config is matched against
 * the allow-list pattern here, immediately before it is placed in SQL, and then quoted; a name
 * that does not match is refused with a non-retryable `invalid-config` error. Values are never
 * placed in SQL text: they are always bound parameters.
 */
import { IDENTIFIER_PATTERN } from '../sync/identifiers.js';
import { SyncError } from '../sync/errors.js';

function refuse(kind: string, name: string): never {
  throw new SyncError(
    'invalid-config',
    `refused ${kind} name ${JSON.stringify(name)}: not an allowed identifier`,
  );
}

/** `"name"` for SQLite; no schema qualification (one database file per region). */
export function quoteSqlite(name: string): string {
  if (!IDENTIFIER_PATTERN.test(name)) refuse('SQLite', name);
  return `"${name}"`;
}

/** `[name]` or `[schema].[name]` for SQL Server. */
export function quoteMssql(name: string): string {
  const parts = name.split('.');
  if (parts.length > 2) refuse('SQL Server', name);
  for (const p of parts) if (!IDENTIFIER_PATTERN.test(p)) refuse('SQL Server', name);
  return parts.map((p) => `[${p}]`).join('.');
}

/** A derived object name (trigger, index) built from a validated table name. */
export function derivedName(prefix: string, table: string): string {
  const name = `${prefix}_${table.replace('.', '_')}`;
  if (!IDENTIFIER_PATTERN.test(name)) refuse('derived', name);
  return name;
}
