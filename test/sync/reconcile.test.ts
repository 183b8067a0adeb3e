import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compileMapping, toCanonical, toPhysicalArray } from '../../sync/mapping.js';
import type { SyncRow } from '../../sync/model.js';
import { differingRanges, diffRows, rowsInRange, splitKeySpace, summarize } from '../../sync/reconcile.js';
import { priceMapping, priceRow } from '../support/syncFixtures.js';

const KEYS = ['sku', 'currency'];
const COLS = ['sku', 'currency', 'list_price', 'price_book'];

describe('reconciliation maths', () => {
  it('splits the key-hash space into contiguous ranges covering all of it', () => {
    const r = splitKeySpace(7);
    assert.equal(r[0]?.lo, 0);
    assert.equal(r[6]?.hi, 2 ** 32);
    for (let i = 1; i < r.length; i++) assert.equal(r[i]?.lo, r[i - 1]?.hi);
  });

  it('counts and checksums do not depend on row order', () => {
    const rows = Array.from({ length: 300 }, (_, i) => priceRow(i));
    const ranges = splitKeySpace(16);
    fc.assert(
      fc.property(
        fc.shuffledSubarray(rows, { minLength: rows.length, maxLength: rows.length }),
        (shuffled) => {
          assert.deepEqual(summarize(shuffled, KEYS, COLS, ranges), summarize(rows, KEYS, COLS, ranges));
        },
      ),
      { numRuns: 20 },
    );
    assert.equal(
      summarize(rows, KEYS, COLS, ranges).reduce((n, s) => n + s.count, 0),
      300,
    );
  });

  it('one changed, missing or duplicated row shows up in exactly its range, and the diff names it', () => {
    const ranges = splitKeySpace(32);
    const source = Array.from({ length: 500 }, (_, i) => priceRow(i));
    const changed = { ...source[10]!, values: { ...source[10]!.values, list_price: 999 } };
    const target: SyncRow[] = [
      ...source.slice(0, 10),
      changed,
      ...source.slice(11, 400),
      ...source.slice(401),
      priceRow(9000),
    ];
    const diff = differingRanges(
      summarize(source, KEYS, COLS, ranges),
      summarize(target, KEYS, COLS, ranges),
    );
    assert.ok(diff.length >= 1 && diff.length <= 3);
    const inDiff = (rows: SyncRow[]) => diff.flatMap((r) => rowsInRange(rows, KEYS, r));
    const d = diffRows(inDiff(source), inDiff(target), KEYS, COLS);
    assert.deepEqual(
      d.missing.map((r) => r.values.sku),
      ['SKU-000400'],
    );
    assert.deepEqual(d.extra, [['SKU-009000', 'USD']]);
    assert.deepEqual(
      d.differing.map((x) => x.target.values.list_price),
      [999],
    );
    // A duplicated row is not cancelled out (sum, not XOR).
    const dup = differingRanges(
      summarize(source, KEYS, COLS, ranges),
      summarize([...source, source[3]!], KEYS, COLS, ranges),
    );
    assert.equal(dup.length, 1);
  });

  it('a replica that differs only in modifiedAt or origin is reported as differing', () => {
    const a = priceRow(1);
    const d = diffRows([a], [{ ...a, modifiedAt: '2026-02-01T00:00:00.000Z' }], KEYS, COLS);
    assert.equal(d.differing.length, 1);
    assert.equal(diffRows([a], [{ ...a, originRegion: 'sea' }], KEYS, COLS).differing.length, 1);
    assert.equal(diffRows([a], [{ ...a }], KEYS, COLS).differing.length, 0);
  });
});

describe('name mapping', () => {
  it('maps a region naming to canonical and back', () => {
    const m = compileMapping(
      priceMapping('ListaPrecios', {
        sku: 'Codigo',
        currency: 'Moneda',
        list_price: 'Precio',
        price_book: 'Libro',
      }),
    );
    assert.deepEqual(m.physicalKeyColumns, ['Codigo', 'Moneda']);
    const canonical = toCanonical({ Codigo: 'A', Moneda: 'BRL', Precio: 3, Libro: 'std' }, m);
    assert.deepEqual(canonical, { sku: 'A', currency: 'BRL', list_price: 3, price_book: 'std' });
    assert.deepEqual(toPhysicalArray(canonical, m), ['A', 'BRL', 3, 'std']);
  });

  it('refuses hostile or reserved names and double mappings', () => {
    for (const bad of [
      priceMapping('t"; DROP TABLE x; --'),
      priceMapping('a.b.c'),
      priceMapping('t', { sku: 'sku', currency: 'currency', list_price: 'x y', price_book: 'price_book' }),
      priceMapping('t', {
        sku: 'sku',
        currency: 'currency',
        list_price: 'change_seq',
        price_book: 'price_book',
      }),
      priceMapping('t', { sku: 'sku', currency: 'currency', list_price: 'SKU', price_book: 'price_book' }),
    ]) {
      assert.throws(() => compileMapping(bad), /invalid|reserved|twice/);
    }
  });
});
