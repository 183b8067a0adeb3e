/**
 * Figures of the operations dashboard, computed from plain records (pure: the clock and the
 * records are parameters): per-minute counts and enqueue -> applied latency percentiles.
 */
import type { SyncReceipt } from './orderSaga.js';

/** Nearest-rank percentile of ascending values (p in 0..100); null when there are none. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? null;
}

export interface MinuteFigures {
  /** Start of the minute, ISO-8601. */
  readonly minute: string;
  readonly applied: number;
  readonly failed: number;
  readonly stale: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

export interface ReceiptFigures {
  readonly since: string;
  readonly until: string;
  readonly applied: number;
  readonly failed: number;
  readonly stale: number;
  /** Receipts per minute over the window. */
  readonly eventsPerMinute: number;
  /** enqueue -> applied over the window's applied receipts that carry their enqueue time. */
  readonly latency: { readonly count: number; readonly p50Ms: number | null; readonly p99Ms: number | null };
  readonly perMinute: readonly MinuteFigures[];
}

const MINUTE = 60_000;

/** Counts and latency of the receipts written in [now - minutes, now], minute by minute. */
export function receiptFigures(receipts: readonly SyncReceipt[], now: Date, minutes: number): ReceiptFigures {
  const end = Math.floor(now.getTime() / MINUTE) * MINUTE + MINUTE;
  const start = end - minutes * MINUTE;
  const buckets = Array.from({ length: minutes }, () => ({
    applied: 0,
    failed: 0,
    stale: 0,
    ms: [] as number[],
  }));
  const all: number[] = [];
  const totals = { applied: 0, failed: 0, stale: 0 };
  for (const r of receipts) {
    const at = Date.parse(r.at);
    if (Number.isNaN(at) || at < start || at >= end) continue;
    const b = buckets[Math.floor((at - start) / MINUTE)];
    if (b === undefined) continue;
    b[r.status]++;
    totals[r.status]++;
    if (r.status === 'applied' && typeof r.enqueuedAt === 'string') {
      const ms = at - Date.parse(r.enqueuedAt);
      if (Number.isFinite(ms) && ms >= 0) {
        b.ms.push(ms);
        all.push(ms);
      }
    }
  }
  const asc = (a: number, b: number) => a - b;
  all.sort(asc);
  return {
    since: new Date(start).toISOString(),
    until: new Date(end).toISOString(),
    ...totals,
    eventsPerMinute: (totals.applied + totals.failed + totals.stale) / minutes,
    latency: { count: all.length, p50Ms: percentile(all, 50), p99Ms: percentile(all, 99) },
    perMinute: buckets.map((b, i) => {
      b.ms.sort(asc);
      return {
        minute: new Date(start + i * MINUTE).toISOString(),
        applied: b.applied,
        failed: b.failed,
        stale: b.stale,
        p50Ms: percentile(b.ms, 50),
        p99Ms: percentile(b.ms, 99),
      };
    }),
  };
}
