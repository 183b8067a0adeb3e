/**
 * Mapping between a region's own table/column names and the canonical ones. Adapters call these
 * at the edge so everything above them speaks canonical names only.
 */
import { isIdentifier, isTableName, RESERVED_COLUMNS } from './identifiers.js';
import { SyncError } from './errors.js';
import type { RowValues, SqlValue, TableMapping } from './model.js';

const invalid = (message: string) => new SyncError('invalid-config', message);

/** A mapping with its lookups precomputed; build once per table and region. */
export interface CompiledMapping {
  readonly mapping: TableMapping;
  /** Canonical column names in a fixed order (mapping order). */
  readonly canonicalColumns: readonly string[];
  /** Physical names, same order. */
  readonly physicalColumns: readonly string[];
  /** Physical names of the key columns, in key order. */
  readonly physicalKeyColumns: readonly string[];
  /** Canonical columns sorted, for digests. */
  readonly sortedCanonical: readonly string[];
}

/**
 * Validates every name (allow-list pattern, no reserved sync columns, no two canonical columns on
 * one physical column) and precomputes lookups. Throws on any violation: names reaching an
 * adapter are validated here again even though config validated them, as defence in depth.
 */
export function compileMapping(mapping: TableMapping): CompiledMapping {
  if (!isTableName(mapping.table)) throw invalid(`invalid table name ${JSON.stringify(mapping.table)}`);
  const canonicalColumns = Object.keys(mapping.columns);
  const physicalColumns = canonicalColumns.map((c) => mapping.columns[c] as string);
  const seen = new Set<string>();
  canonicalColumns.forEach((c, i) => {
    const p = physicalColumns[i] as string;
    if (!isIdentifier(c)) throw invalid(`invalid column name ${JSON.stringify(c)}`);
    if (!isIdentifier(p)) throw invalid(`invalid column name ${JSON.stringify(p)}`);
    if (RESERVED_COLUMNS.includes(p.toLowerCase())) throw invalid(`column '${p}' is reserved for sync`);
    if (seen.has(p.toLowerCase())) throw invalid(`physical column '${p}' mapped twice`);
    seen.add(p.toLowerCase());
  });
  if (mapping.keyColumns.length === 0) throw invalid(`table '${mapping.canonical}' has no key columns`);
  const physicalKeyColumns = mapping.keyColumns.map((k) => {
    const p = mapping.columns[k];
    if (p === undefined) throw invalid(`key column '${k}' is not mapped`);
    return p;
  });
  return {
    mapping,
    canonicalColumns,
    physicalColumns,
    physicalKeyColumns,
    sortedCanonical: [...canonicalColumns].sort(),
  };
}

/** Canonical values -> physical values array in `physicalColumns` order (missing -> null). */
export function toPhysicalArray(values: RowValues, compiled: CompiledMapping): SqlValue[] {
  return compiled.canonicalColumns.map((c) => values[c] ?? null);
}

/** Physical row (by physical column name) -> canonical values. */
export function toCanonical(
  physical: Readonly<Record<string, unknown>>,
  compiled: CompiledMapping,
): RowValues {
  const out: Record<string, SqlValue> = {};
  compiled.canonicalColumns.forEach((c, i) => {
    out[c] = (physical[compiled.physicalColumns[i] as string] ?? null) as SqlValue;
  });
  return out;
}
