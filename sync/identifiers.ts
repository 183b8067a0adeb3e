/**
 * SQL identifiers that come from configuration (table and column names) are validated against
 * an allow-list pattern before any SQL is built from them, and then quoted as well. A name that
 * does not match is refused; it is never escaped into shape.
 */

/** One identifier part: a letter or underscore, then letters, digits or underscores; at most 128. */
export const IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** A table name: one identifier, or `schema.table`. */
export const TABLE_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}(\.[A-Za-z_][A-Za-z0-9_]{0,127})?$/;

/** Names the adapters reserve for sync columns and tables; config may not map business columns onto them. */
export const RESERVED_COLUMNS: readonly string[] = Object.freeze([
  'modified_at',
  'origin_region',
  'is_deleted',
  'change_seq',
  'row_ver',
]);

export function isIdentifier(name: string): boolean {
  return IDENTIFIER_PATTERN.test(name);
}

export function isTableName(name: string): boolean {
  return TABLE_NAME_PATTERN.test(name);
}
