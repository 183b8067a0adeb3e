import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareChange, compareCursor, nextCursor, pageOrderProblem } from '../../sync/cursor.js';
import type { ChangeCursor, ChangeRow } from '../../sync/model.js';

/** A pure keyset reader over an in-memory change stream, as a store runs it (seek, then limit). */
function readPage(
  stream: readonly ChangeRow[],
  after: ChangeCursor | null,
  limit: number,
  sorted = false,
): ChangeRow[] {
  const rows = sorted ? stream : [...stream].sort((a, b) => compareCursor(a.cursor, b.cursor));
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareCursor(after, (rows[mid] as ChangeRow).cursor) < 0) hi = mid;
    else lo = mid + 1;
  }
  return rows.slice(lo, lo + limit);
}

function row(change: number, key: string): ChangeRow {
  return {
    values: { id: key },
    modifiedAt: '2026-01-01T00:00:00.000Z',
    originRegion: 'cn',
    isDeleted: false,
    cursor: { change: String(change), key: [key] },
  };
}

describe('keyset cursor over (change, key)', () => {
  it('compares change values numerically beyond 2^53 (rowversion is 64-bit)', () => {
    assert.ok(compareChange('9007199254740993', '9007199254740992') > 0);
    assert.ok(compareChange('10', '9') > 0);
    assert.equal(compareChange('18446744073709551615', '18446744073709551615'), 0);
  });

  it('reads every row exactly once when thousands share one change value, at any page size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 2000, max: 3000 }), (limit, n) => {
        // Heavy ties: all rows share change 5 except a few.
        const stream = Array.from({ length: n }, (_, i) => row(i % 97 === 0 ? 6 : 5, `k${(i * 7919) % n}`));
        stream.sort((a, b) => compareCursor(a.cursor, b.cursor));
        const seen: string[] = [];
        let after: ChangeCursor | null = null;
        for (;;) {
          const page = readPage(stream, after, limit, true);
          assert.equal(pageOrderProblem(page, after), null);
          seen.push(...page.map((r) => String(r.values.id)));
          after = nextCursor(page, after);
          if (page.length < limit) break;
        }
        assert.equal(seen.length, n);
        assert.equal(new Set(seen).size, n);
      }),
      { numRuns: 15 },
    );
  });

  it('a cursor on the change value alone would lose rows that share it (why the key is in the cursor)', () => {
    const stream = Array.from({ length: 10 }, (_, i) => row(1, `k${i}`));
    const firstPage = readPage(stream, null, 4);
    const changeOnly = stream.filter(
      (r) => compareChange(r.cursor.change, (firstPage[3] as ChangeRow).cursor.change) > 0,
    );
    assert.equal(changeOnly.length, 0, 'change-only paging skips the 6 remaining rows');
    assert.equal(readPage(stream, nextCursor(firstPage, null), 100).length, 6);
  });

  it('delivers the final version of every row when writes interleave with paging', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 199 }), fc.integer({ min: 0, max: 30 })), {
          maxLength: 60,
        }),
        (limit, writes) => {
          const current = new Map<string, ChangeRow>();
          let counter = 0;
          const write = (key: string) => current.set(key, row(++counter, key));
          for (let i = 0; i < 200; i++) write(`k${String(i).padStart(3, '0')}`);
          const delivered = new Map<string, string>();
          let after: ChangeCursor | null = null;
          let pageNo = 0;
          for (;;) {
            const page = readPage([...current.values()], after, limit);
            assert.equal(pageOrderProblem(page, after), null);
            for (const r of page) delivered.set(String(r.values.id), r.cursor.change);
            after = nextCursor(page, after);
            if (page.length < limit) break; // end of this run; later writes belong to the next run
            for (const [key, atPage] of writes)
              if (atPage === pageNo) write(`k${String(key).padStart(3, '0')}`);
            pageNo++;
          }
          for (const [key, r] of current)
            assert.equal(delivered.get(key), r.cursor.change, `final version of ${key}`);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('pageOrderProblem flags repeated, unordered and out-of-window rows', () => {
    const a = row(3, 'a');
    const b = row(3, 'b');
    assert.equal(pageOrderProblem([a, b], null), null);
    assert.match(pageOrderProblem([b, a], null) ?? '', /not after/);
    assert.match(pageOrderProblem([a, a], null) ?? '', /not after/);
    assert.match(pageOrderProblem([a], a.cursor) ?? '', /not after/);
    assert.match(pageOrderProblem([row(9, 'x')], null, '8') ?? '', /above upTo/);
    assert.match(pageOrderProblem([row(-1, 'x')], null) ?? '', /invalid change/);
  });
});
