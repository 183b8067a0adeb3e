/**
 * The one error taxonomy (STYLE §7): adapters translate driver errors into a {@link SyncError}
 * through an allow-list; anything unknown is normalised by {@link toSyncError} and treated as
 * not retryable, so a bug is never retried forever.
 */

/** What went wrong, as far as a caller deciding on a retry cares. */
export type SyncErrorCode =
  /** Deadlock victim, lock timeout, write conflict: retry the whole transaction. */
  | 'conflict'
  /** Connection lost or refused, pool closed, socket reset. */
  | 'connection'
  /** Command or connect timeout. */
  | 'timeout'
  /** Server asked the client to back off (Azure SQL 40501/40613/49918..., HTTP 429/503). */
  | 'throttled'
  /** Login or token failure, permission denied. */
  | 'auth'
  /** Missing table/column, type mismatch: the schema or mapping is wrong. */
  | 'schema'
  /** Constraint violation (PK, FK, NOT NULL, CHECK). */
  | 'constraint'
  /** Invalid configuration or a hostile identifier refused before reaching a driver. */
  | 'invalid-config'
  /** Staged blob missing or unreadable. */
  | 'not-found'
  /** An activity was handed an input its contract does not allow (a caller's bug). */
  | 'invalid-input'
  /** Anything the allow-list does not know. */
  | 'unknown';

const RETRYABLE: ReadonlySet<SyncErrorCode> = new Set<SyncErrorCode>([
  'conflict',
  'connection',
  'timeout',
  'throttled',
]);

/** True for codes where retrying the same operation later can succeed. */
export function isRetryableCode(code: SyncErrorCode): boolean {
  return RETRYABLE.has(code);
}

export class SyncError extends Error {
  override readonly name = 'SyncError';
  readonly code: SyncErrorCode;
  readonly retryable: boolean;

  constructor(code: SyncErrorCode, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options?.retryable ?? isRetryableCode(code);
  }
}

/** Normalises anything thrown into a SyncError (unknown, not retryable) without losing it. */
export function toSyncError(thrown: unknown): SyncError {
  if (thrown instanceof SyncError) return thrown;
  if (thrown instanceof Error) return new SyncError('unknown', thrown.message, { cause: thrown });
  return new SyncError('unknown', `non-error thrown: ${String(thrown)}`, { cause: thrown });
}
