import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { SqlValue } from '../../sync/model.js';
import { rowShape } from '../../sync/rowShape.js';

/** What the pipeline built before row shapes: one keyed store per column. */
function loopBuild(columns: readonly string[], a: readonly SqlValue[]): Record<string, SqlValue> {
  const v: Record<string, SqlValue> = {};
  for (let i = 0; i < columns.length; i++) v[columns[i] as string] = a[i] as SqlValue;
  return v;
}

const sqlValue: fc.Arbitrary<SqlValue> = fc.oneof(
  fc.constant(null),
  fc.string(),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
);
const identifier = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/);

function roundTrips(columns: readonly string[], values: readonly SqlValue[]): void {
  const shape = rowShape(columns);
  const built = shape.build(values);
  const expected = loopBuild(columns, values);
  assert.deepEqual(built, expected);
  assert.deepEqual(Object.keys(built), Object.keys(expected), 'same own properties in the same order');
  const out = new Array<unknown>(columns.length);
  shape.read(built, out);
  assert.deepEqual(
    out,
    columns.map((c) => expected[c]),
  );
}

describe('row shapes', () => {
  it('build and read a row as the per-column loop does, for any identifiers and values', () => {
    fc.assert(
      fc.property(
        fc
          .uniqueArray(identifier, { minLength: 1, maxLength: 12 })
          .chain((columns) =>
            fc.tuple(
              fc.constant(columns),
              fc.array(sqlValue, { minLength: columns.length, maxLength: columns.length }),
            ),
          ),
        ([columns, values]) => roundTrips(columns, values),
      ),
    );
  });

  it('any other column names (from a staged page) give the same result and are never run as code', () => {
    const hostile = ['a"); globalThis.__rowShapeInjected = true; ("', 'b\\', 'c\n', '}', 'd e', '0'];
    roundTrips(hostile, [1, 'two', null, 3.5, true, 'x']);
    assert.equal((globalThis as Record<string, unknown>).__rowShapeInjected, undefined);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string(), { minLength: 1, maxLength: 8 }).filter((c) => !c.includes('__proto__')),
        (columns) =>
          roundTrips(
            columns,
            columns.map((_, i) => i),
          ),
      ),
    );
  });

  it('reads an absent column as undefined (the store binds it as NULL)', () => {
    const out = new Array<unknown>(2);
    rowShape(['sku', 'price']).read({ sku: 'A' }, out);
    assert.deepEqual(out, ['A', undefined]);
  });

  it('compiles each distinct column list once', () => {
    assert.equal(rowShape(['sku', 'currency']), rowShape(['sku', 'currency']));
    assert.notEqual(rowShape(['sku', 'currency']), rowShape(['sku,currency']));
  });
});
