/**
 * Translation of `mssql` / tedious errors into the one taxonomy (STYLE §7). Only what is listed
 * here is classified; everything else becomes `unknown` and is not retried, so a bug or an
 * unexpected server state never loops in a retry policy.
 *
 * The driver reports two kinds of facts: SQL Server error numbers (`number` on a RequestError, on
 * its `originalError` and on each of its `precedingErrors`; a failed statement often ends with
 * 3621 "statement terminated" after the real cause) and driver codes (`ETIMEOUT`, `ESOCKET`,
 * `ELOGIN`, ... on the mssql error, Node socket codes such as `ECONNRESET` underneath). Numbers
 * are more specific, so they are looked at first.
 */
import { SyncError } from '../sync/errors.js';
import type { SyncErrorCode } from '../sync/errors.js';

/** SQL Server / Azure SQL error numbers the store knows how to classify. */
export const MSSQL_ERROR_NUMBERS: Readonly<Record<number, SyncErrorCode>> = Object.freeze({
  // Concurrency: the transaction lost a race; retrying the whole transaction is the fix.
  1205: 'conflict', // chosen as deadlock victim
  1222: 'conflict', // lock request time-out period exceeded
  3960: 'conflict', // snapshot isolation update conflict
  41302: 'conflict', // memory-optimized table update conflict
  41305: 'conflict', // repeatable read validation failure (memory-optimized)
  41325: 'conflict', // serializable validation failure (memory-optimized)
  41301: 'conflict', // commit dependency failure (memory-optimized)
  // Azure SQL transient faults (documented list of errors a client should retry).
  40501: 'throttled', // service is currently busy
  40613: 'throttled', // database not currently available (failover, reconfiguration)
  49918: 'throttled', // not enough resources to process request
  49919: 'throttled', // too many create/update operations in progress
  49920: 'throttled', // too many operations in progress
  10928: 'throttled', // resource limit reached (workers / sessions)
  10929: 'throttled', // minimum guarantee not available
  40197: 'throttled', // service encountered an error processing the request (upgrade, failover)
  40540: 'throttled', // service has encountered an error processing your request
  4221: 'throttled', // login to read-secondary failed due to long wait on HADR_DATABASE_WAIT_FOR_TRANSITION_TO_VERSIONING
  // Connection-level faults reported as server errors.
  4060: 'connection', // cannot open database (transient in Azure SQL while a database moves)
  233: 'connection', // no process on the other end of the pipe
  64: 'connection', // specified network name no longer available
  10053: 'connection', // transport-level error (connection aborted)
  10054: 'connection', // transport-level error (connection reset by peer)
  10060: 'connection', // network or instance-specific error (timed out)
  // Authentication and authorization: retrying the same credentials will not help.
  18456: 'auth', // login failed
  18452: 'auth', // login from an untrusted domain
  18488: 'auth', // password must be changed
  916: 'auth', // principal cannot access the database under the current security context
  229: 'auth', // permission denied on object
  230: 'auth', // permission denied on column
  262: 'auth', // permission denied in database (e.g. CREATE TABLE)
  300: 'auth', // permission denied (VIEW SERVER STATE and similar)
  33155: 'auth', // Microsoft Entra ID: user or token not mapped (login failed)
  // Schema / mapping problems: the configuration or the database must change first.
  208: 'schema', // invalid object name
  207: 'schema', // invalid column name
  213: 'schema', // column name or number of supplied values does not match
  2714: 'schema', // object already exists
  1913: 'schema', // index already exists
  4902: 'schema', // cannot find the object (ALTER TABLE)
  245: 'schema', // conversion failed (value vs column type)
  8114: 'schema', // error converting data type
  8115: 'schema', // arithmetic overflow converting to the column's type
  8152: 'schema', // string or binary data would be truncated
  2628: 'schema', // string or binary data would be truncated in table/column
  206: 'schema', // operand type clash
  // Constraint violations.
  2627: 'constraint', // violation of PRIMARY KEY / UNIQUE constraint
  2601: 'constraint', // duplicate key row in unique index
  547: 'constraint', // FOREIGN KEY / CHECK constraint conflict
  515: 'constraint', // cannot insert NULL
  8672: 'constraint', // MERGE attempted to update or delete the same row more than once
});

/** Driver / socket codes the store knows how to classify. */
export const MSSQL_DRIVER_CODES: Readonly<Record<string, SyncErrorCode>> = Object.freeze({
  ETIMEOUT: 'timeout', // mssql/tedious connect or request timeout
  ETIMEDOUT: 'timeout', // socket timeout
  ESOCKET: 'connection',
  ECONNRESET: 'connection',
  ECONNREFUSED: 'connection',
  ECONNCLOSED: 'connection', // mssql: connection is closed
  ENOTOPEN: 'connection', // mssql: connection not yet open
  ENOCONN: 'connection', // mssql: no connection is specified for the request
  EPIPE: 'connection',
  EHOSTUNREACH: 'connection',
  ENETUNREACH: 'connection',
  EAI_AGAIN: 'connection', // DNS temporarily unavailable
  EINSTLOOKUP: 'connection', // SQL Browser lookup of a named instance failed
  ELOGIN: 'auth', // login failed (when no more specific server number came with it)
  EFEDAUTH: 'auth', // Entra ID token could not be obtained or was refused
  EINJECT: 'invalid-config', // mssql refused an unsafe identifier
  EARGS: 'invalid-config', // invalid arguments to the driver
});

interface DriverFacts {
  readonly numbers: number[];
  readonly codes: string[];
}

/** Collects numbers and codes from the error, its causes, preceding and aggregated errors. */
export function driverFacts(thrown: unknown): DriverFacts {
  const numbers: number[] = [];
  const codes: string[] = [];
  const seen = new Set<unknown>();
  const visit = (e: unknown, depth: number): void => {
    if (e === null || typeof e !== 'object' || seen.has(e) || depth > 6) return;
    seen.add(e);
    const o = e as Record<string, unknown>;
    if (typeof o.number === 'number') numbers.push(o.number);
    const info = o.info as Record<string, unknown> | undefined;
    if (info !== undefined && info !== null && typeof info.number === 'number') numbers.push(info.number);
    if (typeof o.code === 'string') codes.push(o.code);
    visit(o.originalError, depth + 1);
    visit(o.cause, depth + 1);
    for (const key of ['precedingErrors', 'errors'] as const) {
      const list = o[key];
      if (Array.isArray(list)) for (const inner of list) visit(inner, depth + 1);
    }
  };
  visit(thrown, 0);
  return { numbers, codes };
}

/** The taxonomy code for a driver error, through the allow-lists; `unknown` otherwise. */
export function classifyMssqlError(thrown: unknown): SyncErrorCode {
  const { numbers, codes } = driverFacts(thrown);
  for (const n of numbers) {
    const code = MSSQL_ERROR_NUMBERS[n];
    if (code !== undefined) return code;
  }
  for (const c of codes) {
    const code = MSSQL_DRIVER_CODES[c];
    if (code !== undefined) return code;
  }
  return 'unknown';
}

/** Translates anything the driver threw into a SyncError; SyncErrors pass through unchanged. */
export function translateMssqlError(thrown: unknown, what: string): SyncError {
  if (thrown instanceof SyncError) return thrown;
  const code = classifyMssqlError(thrown);
  const { numbers, codes } = driverFacts(thrown);
  const tag = [...numbers.map((n) => `#${n}`), ...codes].join(' ');
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return new SyncError(code, `${what}: ${message}${tag === '' ? '' : ` [${tag}]`}`, { cause: thrown });
}
