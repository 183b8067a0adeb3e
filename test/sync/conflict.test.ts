import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareVersions, resolveConflict } from '../../sync/conflict.js';
import { sortedColumns } from '../../sync/digest.js';
import type { ConflictPolicyName, SyncRow } from '../../sync/model.js';
import { isoAt, policy } from '../support/syncFixtures.js';

const COLUMNS = sortedColumns(['id', 'price', 'home_region']);
const REGIONS = ['cn', 'sea', 'eu', 'latam'] as const;
const POLICIES: ConflictPolicyName[] = ['last-writer-wins', 'hub-wins', 'origin-wins'];

const versionArb: fc.Arbitrary<SyncRow> = fc
  .record({
    t: fc.integer({ min: 0, max: 3 }), // few timestamps: many exact ties
    origin: fc.constantFrom(...REGIONS),
    home: fc.constantFrom(...REGIONS),
    price: fc.integer({ min: 0, max: 3 }),
    del: fc.boolean(),
  })
  .map(({ t, origin, home, price, del }) => ({
    values: { id: 'k1', price, home_region: home },
    modifiedAt: isoAt(t),
    originRegion: origin,
    isDeleted: del,
  }));

/** Applies versions in order, as one region's store does, starting from nothing. */
function replay(versions: readonly SyncRow[], name: ConflictPolicyName): SyncRow | null {
  let state: SyncRow | null = null;
  for (const v of versions) {
    const d = resolveConflict(state, v, policy(name), COLUMNS);
    if (d === 'insert' || d === 'update') state = v;
  }
  return state;
}

describe('conflict policies', () => {
  for (const name of POLICIES) {
    it(`${name}: every region converges to the same version whatever the arrival order`, () => {
      fc.assert(
        fc.property(
          fc
            .array(versionArb, { minLength: 1, maxLength: 8 })
            .chain((vs) =>
              fc.tuple(
                fc.constant(vs),
                fc.shuffledSubarray(vs, { minLength: vs.length, maxLength: vs.length }),
                fc.shuffledSubarray(vs, { minLength: vs.length, maxLength: vs.length }),
                fc.array(fc.integer({ min: 0, max: vs.length - 1 }), { maxLength: 4 }),
              ),
            ),
          ([vs, orderB, orderC, redeliveries]) => {
            // Region C also receives some versions twice (retried pages).
            const withDupes = [...orderC, ...redeliveries.map((i) => vs[i] as SyncRow)];
            const a = replay(vs, name);
            assert.deepEqual(replay(orderB, name), a);
            assert.deepEqual(replay(withDupes, name), a);
          },
        ),
        { numRuns: 300 },
      );
    });

    it(`${name}: the order is total and antisymmetric, 0 only for the same version`, () => {
      fc.assert(
        fc.property(versionArb, versionArb, (x, y) => {
          const xy = compareVersions(x, y, policy(name), COLUMNS);
          const yx = compareVersions(y, x, policy(name), COLUMNS);
          assert.equal(Math.sign(xy) + Math.sign(yx), 0);
          assert.equal(xy === 0, JSON.stringify(x) === JSON.stringify(y));
        }),
        { numRuns: 500 },
      );
    });
  }

  const v = (origin: string, t: number, price: number, home = 'sea'): SyncRow => ({
    values: { id: 'k1', price, home_region: home },
    modifiedAt: isoAt(t),
    originRegion: origin,
    isDeleted: false,
  });

  it('last-writer-wins: later wins; same millisecond goes to the higher-priority region', () => {
    assert.equal(
      resolveConflict(v('cn', 5, 1), v('sea', 6, 2), policy('last-writer-wins'), COLUMNS),
      'update',
    );
    assert.equal(resolveConflict(v('sea', 6, 2), v('cn', 5, 1), policy('last-writer-wins'), COLUMNS), 'keep');
    assert.equal(
      resolveConflict(v('sea', 6, 2), v('cn', 6, 1), policy('last-writer-wins'), COLUMNS),
      'update',
    );
    assert.equal(resolveConflict(v('cn', 6, 1), v('sea', 6, 2), policy('last-writer-wins'), COLUMNS), 'keep');
    assert.equal(
      resolveConflict(v('cn', 6, 1), v('cn', 6, 1), policy('last-writer-wins'), COLUMNS),
      'unchanged',
    );
    assert.equal(resolveConflict(null, v('cn', 6, 1), policy('last-writer-wins'), COLUMNS), 'insert');
  });

  it('hub-wins: an older hub version beats a newer spoke version', () => {
    assert.equal(resolveConflict(v('cn', 1, 1), v('sea', 9, 2), policy('hub-wins'), COLUMNS), 'keep');
    assert.equal(resolveConflict(v('sea', 9, 2), v('cn', 1, 1), policy('hub-wins'), COLUMNS), 'update');
  });

  it("origin-wins: the row's home region beats a later edit made elsewhere", () => {
    assert.equal(resolveConflict(v('sea', 1, 1), v('cn', 9, 2), policy('origin-wins'), COLUMNS), 'keep');
    assert.equal(resolveConflict(v('cn', 9, 2), v('sea', 1, 1), policy('origin-wins'), COLUMNS), 'update');
    // Between two non-home writers, the later one wins.
    assert.equal(resolveConflict(v('cn', 1, 1), v('eu', 2, 2), policy('origin-wins'), COLUMNS), 'update');
  });

  it('treats a boolean and its 0/1 storage form as the same content (SQLite has no booleans)', () => {
    const a: SyncRow = {
      values: { id: 'k', price: true },
      modifiedAt: isoAt(1),
      originRegion: 'cn',
      isDeleted: false,
    };
    const b: SyncRow = { ...a, values: { id: 'k', price: 1 } };
    assert.equal(compareVersions(a, b, policy('last-writer-wins'), sortedColumns(['id', 'price'])), 0);
  });
});
