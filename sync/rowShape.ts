/**
 * A row's `values` object, built from and read into arrays by functions compiled for one list of
 * column names. Every page of the batch pipeline turns arrays into values objects and back (the
 * store's read, the staged page's decode, its encode, the target's upsert parameters). Written
 * generically — `values[columns[i]] = a[i]` — each access goes through V8's megamorphic keyed
 * lookup, because the key changes with `i`; compiled for the list, the builder is one object
 * literal and the reader reads named properties. Measured on 5000-row pages of the pricing table
 * (7 columns): build 281 -> 61 ns a row, read 121 -> 24 ns a row.
 *
 * Only names that are identifiers (config allows nothing else as a column) are compiled, each
 * quoted as a JSON string; any other list falls back to the generic loop with the same result.
 */
import type { SqlValue } from './model.js';
import { isIdentifier } from './identifiers.js';

export type Values = Record<string, SqlValue>;

export interface RowShape {
  readonly columns: readonly string[];
  /** A new values object from `a[0..n)`, in column order. */
  build(a: readonly unknown[]): Values;
  /** The values of `v` in column order into `out[0..n)` (absent columns read as undefined). */
  read(v: Readonly<Values>, out: unknown[]): void;
}

/** Distinct column lists kept compiled (the oldest goes first; config has a handful). */
const CACHE_LIMIT = 64;
const cache = new Map<string, RowShape>();

function compiled(columns: readonly string[]): RowShape {
  const names = columns.map((c) => JSON.stringify(c));
  /* eslint-disable @typescript-eslint/no-implied-eval -- the source holds only quoted identifiers */
  const build = new Function('a', `return { ${names.map((c, i) => `${c}: a[${i}]`).join(', ')} };`) as (
    a: readonly unknown[],
  ) => Values;
  const read = new Function('v', 'out', names.map((c, i) => `out[${i}] = v[${c}];`).join('\n')) as (
    v: Readonly<Values>,
    out: unknown[],
  ) => void;
  /* eslint-enable @typescript-eslint/no-implied-eval */
  return { columns, build, read };
}

function generic(columns: readonly string[]): RowShape {
  const n = columns.length;
  return {
    columns,
    build(a) {
      const v: Values = {};
      for (let i = 0; i < n; i++) v[columns[i] as string] = a[i] as SqlValue;
      return v;
    },
    read(v, out) {
      for (let i = 0; i < n; i++) out[i] = v[columns[i] as string];
    },
  };
}

/** The shape of `columns` (compiled once per distinct list). */
export function rowShape(columns: readonly string[]): RowShape {
  const key = JSON.stringify(columns);
  let shape = cache.get(key);
  if (shape !== undefined) return shape;
  // `__proto__` would set the prototype inside an object literal instead of adding a property.
  const compilable =
    columns.every((c) => isIdentifier(c) && c !== '__proto__') && new Set(columns).size === columns.length;
  shape = compilable ? compiled([...columns]) : generic([...columns]);
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(key, shape);
  return shape;
}
