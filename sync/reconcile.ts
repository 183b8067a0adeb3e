/**
 * Reconciliation maths for the monthly full compare: per key-range row counts and
 * order-independent checksums (so two sides can be compared without shipping rows), then, for
 * the ranges that differ, the row-level diff (missing, extra, differing).
 *
 * Ranges partition the 32-bit key-hash space (see model.KeyRange for why not raw key ranges).
 * The checksum is the sum modulo 2^64 of 64-bit row fingerprints: independent of scan order,
 * and unlike XOR it does not cancel a duplicated row.
 */
import { keyOf } from './cursor.js';
import { keyHash, rowFingerprint, sortedColumns } from './digest.js';
import type { KeyRange, KeyTuple, RangeSummary, SyncRow } from './model.js';

const SPACE = 2 ** 32;
const MASK64 = (1n << 64n) - 1n;

/** Splits the key-hash space into `n` contiguous ranges of (nearly) equal width. */
export function splitKeySpace(n: number): KeyRange[] {
  if (!Number.isInteger(n) || n < 1 || n > 65536) throw new Error(`range count must be 1..65536, got ${n}`);
  const ranges: KeyRange[] = [];
  for (let i = 0; i < n; i++)
    ranges.push({ lo: Math.floor((i * SPACE) / n), hi: Math.floor(((i + 1) * SPACE) / n) });
  return ranges;
}

export function inRange(hash: number, range: KeyRange): boolean {
  return hash >= range.lo && hash < range.hi;
}

/** Feeds rows one page at a time (memory stays flat on big tables) and yields the summaries. */
export class RangeAccumulator {
  private readonly counts: number[];
  private readonly sums: bigint[];
  private readonly sorted: readonly string[];

  constructor(
    private readonly ranges: readonly KeyRange[],
    private readonly keyColumns: readonly string[],
    columns: readonly string[],
  ) {
    this.counts = ranges.map(() => 0);
    this.sums = ranges.map(() => 0n);
    this.sorted = sortedColumns(columns);
  }

  add(row: SyncRow): void {
    const h = keyHash(keyOf(row.values, this.keyColumns));
    const i = this.indexOf(h);
    if (i < 0) return;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sums[i] = ((this.sums[i] as bigint) + rowFingerprint(row, this.sorted)) & MASK64;
  }

  addAll(rows: Iterable<SyncRow>): void {
    for (const r of rows) this.add(r);
  }

  summaries(): RangeSummary[] {
    return this.ranges.map((range, i) => ({
      range,
      count: this.counts[i] as number,
      checksum: (this.sums[i] as bigint).toString(16).padStart(16, '0'),
    }));
  }

  private indexOf(h: number): number {
    // Ranges are sorted and contiguous when built by splitKeySpace; binary search them.
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.ranges[mid] as KeyRange;
      if (h < r.lo) hi = mid - 1;
      else if (h >= r.hi) lo = mid + 1;
      else return mid;
    }
    return -1;
  }
}

/** Summaries of a whole set of rows (convenience over {@link RangeAccumulator}). */
export function summarize(
  rows: Iterable<SyncRow>,
  keyColumns: readonly string[],
  columns: readonly string[],
  ranges: readonly KeyRange[],
): RangeSummary[] {
  const acc = new RangeAccumulator(ranges, keyColumns, columns);
  acc.addAll(rows);
  return acc.summaries();
}

/** Ranges whose count or checksum differ between the two sides (summaries over the same ranges). */
export function differingRanges(
  source: readonly RangeSummary[],
  target: readonly RangeSummary[],
): KeyRange[] {
  if (source.length !== target.length) throw new Error('summaries cover different ranges');
  const out: KeyRange[] = [];
  source.forEach((s, i) => {
    const t = target[i] as RangeSummary;
    if (s.range.lo !== t.range.lo || s.range.hi !== t.range.hi)
      throw new Error('summaries cover different ranges');
    if (s.count !== t.count || s.checksum !== t.checksum) out.push(s.range);
  });
  return out;
}

export interface RowDiff {
  /** In the source, not in the target: to insert. */
  readonly missing: SyncRow[];
  /** In the target, not in the source: keys to tombstone or investigate. */
  readonly extra: KeyTuple[];
  /** In both with different fingerprints. */
  readonly differing: { readonly source: SyncRow; readonly target: SyncRow }[];
}

/** Row-level diff of two sides over the same key set (typically one differing range). */
export function diffRows(
  source: Iterable<SyncRow>,
  target: Iterable<SyncRow>,
  keyColumns: readonly string[],
  columns: readonly string[],
): RowDiff {
  const sorted = sortedColumns(columns);
  const id = (r: SyncRow) => JSON.stringify(keyOf(r.values, keyColumns));
  const targetByKey = new Map<string, SyncRow>();
  for (const t of target) targetByKey.set(id(t), t);
  const missing: SyncRow[] = [];
  const differing: { source: SyncRow; target: SyncRow }[] = [];
  for (const s of source) {
    const k = id(s);
    const t = targetByKey.get(k);
    if (t === undefined) missing.push(s);
    else {
      targetByKey.delete(k);
      if (rowFingerprint(s, sorted) !== rowFingerprint(t, sorted)) differing.push({ source: s, target: t });
    }
  }
  const extra = [...targetByKey.values()].map((t) => keyOf(t.values, keyColumns));
  return { missing, extra, differing };
}

/** Keeps only rows whose key hashes into `range` (drill-down of one differing range). */
export function rowsInRange<T extends SyncRow>(
  rows: Iterable<T>,
  keyColumns: readonly string[],
  range: KeyRange,
): T[] {
  const out: T[] = [];
  for (const r of rows) if (inRange(keyHash(keyOf(r.values, keyColumns)), range)) out.push(r);
  return out;
}
