/**
 * Named retry profiles (STYLE §9): every activity call names one of these, so backoff numbers live
 * in one place. Activities throw only transient faults (SyncError with retryable = true, see
 * sync/errors.ts); business outcomes come back as values and are never retried.
 */
import * as df from 'durable-functions';

export type RetryProfileName = 'sqlRead' | 'sqlWrite' | 'blobIo' | 'planning' | 'orderStep' | 'compensation';

interface ProfileSpec {
  /** First retry after this many ms. */
  readonly firstMs: number;
  readonly attempts: number;
  readonly backoff: number;
  readonly maxIntervalMs: number;
}

const SPECS: Readonly<Record<RetryProfileName, ProfileSpec>> = {
  /** Source reads: a locked or briefly unreachable database usually answers within seconds. */
  sqlRead: { firstMs: 1_000, attempts: 5, backoff: 2, maxIntervalMs: 30_000 },
  /** Target writes: deadlocks and busy files clear quickly; throttling needs longer. */
  sqlWrite: { firstMs: 1_000, attempts: 6, backoff: 2, maxIntervalMs: 60_000 },
  /** Staging blobs and reports. */
  blobIo: { firstMs: 500, attempts: 5, backoff: 2, maxIntervalMs: 15_000 },
  /** Topology look-ups: only a transient store open failure can make them fail. */
  planning: { firstMs: 1_000, attempts: 3, backoff: 2, maxIntervalMs: 10_000 },
  /**
   * Order saga steps: the latency goal is under a second, so the first retry comes quickly; a hub
   * or region outage of minutes must delay the order, not fail it, so the retries keep coming for
   * more than 15 minutes (250 ms doubling to 2 min, 17 attempts: ~16 min of waiting) before the
   * saga gives up, compensates and writes a failure receipt with the fault.
   */
  orderStep: { firstMs: 250, attempts: 17, backoff: 2, maxIntervalMs: 120_000 },
  /**
   * Saga compensations must not give up early: an undone step left in place is data drift. They
   * outlast a step's budget (~26 min), because they run after a step gave up on the same outage.
   */
  compensation: { firstMs: 500, attempts: 21, backoff: 2, maxIntervalMs: 120_000 },
};

/**
 * The waits between the attempts of a profile, in ms, as Durable Functions computes them (first
 * interval times backoff^(n-1), capped at the maximum): `attempts - 1` entries.
 */
export function retrySchedule(name: RetryProfileName): readonly number[] {
  const spec = SPECS[name];
  return Array.from({ length: spec.attempts - 1 }, (_, i) =>
    Math.min(spec.maxIntervalMs, spec.firstMs * spec.backoff ** i),
  );
}

const built = new Map<RetryProfileName, df.RetryOptions>();

/** The durable-functions RetryOptions of a profile (built once; RetryOptions is plain data). */
export function retryOptions(name: RetryProfileName): df.RetryOptions {
  let options = built.get(name);
  if (options === undefined) {
    const spec = SPECS[name];
    options = new df.RetryOptions(spec.firstMs, spec.attempts);
    options.backoffCoefficient = spec.backoff;
    options.maxRetryIntervalInMilliseconds = spec.maxIntervalMs;
    built.set(name, options);
  }
  return options;
}
