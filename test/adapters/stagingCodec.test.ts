import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { decodePage, encodePage, parsePage, serializePage } from '../../adapters/blobStaging.js';
import { SyncError } from '../../sync/errors.js';
import type { SqlValue, SyncRow } from '../../sync/model.js';
import { priceRow } from '../support/syncFixtures.js';

const sqlValue: fc.Arbitrary<SqlValue> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
);

const row = (columns: readonly string[]): fc.Arbitrary<SyncRow> =>
  fc
    .record({
      values: fc.tuple(...columns.map(() => sqlValue)).map((vs) => {
        const values: Record<string, SqlValue> = {};
        columns.forEach((c, i) => (values[c] = vs[i] as SqlValue));
        return values;
      }),
      modifiedAt: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      originRegion: fc.constantFrom('cn', 'sea', 'eu', 'latam'),
      isDeleted: fc.boolean(),
    })
    .map((r) => ({
      values: r.values,
      modifiedAt: r.modifiedAt,
      originRegion: r.originRegion,
      isDeleted: r.isDeleted,
    }));

describe('staged page codec', () => {
  it('round-trips pages exactly: types, nulls, unicode, tombstones', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/), { minLength: 1, maxLength: 6 }),
        fc.nat({ max: 30 }),
        fc.integer(),
        (columns, n, seed) => {
          const rows = fc.sample(row(columns), { numRuns: n, seed });
          assert.deepStrictEqual(decodePage(encodePage(rows)), rows);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('writes column names once when every row carries the same columns', () => {
    const rows = Array.from({ length: 50 }, (_, i) => priceRow(i));
    const text = serializePage(rows);
    assert.equal(text.split('"price_book"').length - 1, 1);
    assert.equal(text.trimEnd().split('\n').length, 1, 'one JSON line');
    assert.deepStrictEqual(parsePage(text, 'p'), rows);
  });

  it('keeps which columns each row carries when rows differ (a forbidden column stays visible)', () => {
    const a = priceRow(1);
    const b: SyncRow = { ...priceRow(2), values: { ...priceRow(2).values, customer_email: null } };
    const c: SyncRow = { ...priceRow(3), values: { sku: 'SKU-3', currency: 'EUR' } };
    for (const rows of [
      [a, b],
      [b, a],
      [a, c],
      [c, a, b],
    ]) {
      const back = decodePage(encodePage(rows));
      assert.deepStrictEqual(back, rows);
      assert.deepStrictEqual(
        back.map((r) => Object.keys(r.values).sort()),
        rows.map((r) => Object.keys(r.values).sort()),
      );
    }
  });

  it('reads pages staged in the earlier JSON-lines format', () => {
    const rows = [priceRow(1), { ...priceRow(2), isDeleted: true }];
    const legacy = gzipSync(Buffer.from(rows.map((r) => `${JSON.stringify(r)}\n`).join(''), 'utf8'));
    assert.deepStrictEqual(decodePage(legacy), rows);
  });

  it('is gzip on the wire, and refuses malformed rows', () => {
    const body = encodePage([priceRow(1)]);
    assert.deepEqual([...body.subarray(0, 2)], [0x1f, 0x8b]);
    const doc = JSON.parse(gunzipSync(body).toString('utf8')) as { rows: unknown[][] };
    const bad = (mutate: (d: { rows: unknown[][] }) => void) => {
      const copy = structuredClone(doc);
      mutate(copy);
      return () => parsePage(JSON.stringify(copy), 'bad');
    };
    assert.throws(
      bad((d) => d.rows[0]?.pop()),
      SyncError,
    );
    assert.throws(
      bad((d) => (d.rows[0]![0] = { nested: true })),
      SyncError,
    );
    assert.throws(
      bad((d) => (d.rows[0]![d.rows[0]!.length - 1] = 'yes')),
      SyncError,
    );
    assert.throws(() => parsePage('{"values":{},"modifiedAt":1}\n', 'bad'), SyncError);
  });
});
