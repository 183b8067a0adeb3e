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
  /** Order saga steps: the latency goal is under a second, so the first retry comes quickly. */
  orderStep: { firstMs: 200, attempts: 6, backoff: 2, maxIntervalMs: 10_000 },
  /** Saga compensations must not give up early: an undone step left in place is data drift. */
  compensation: { firstMs: 500, attempts: 10, backoff: 2, maxIntervalMs: 60_000 },
};

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
