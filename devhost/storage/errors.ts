import { STATUS_CODES } from 'node:http';

/**
 * The storage SDKs build a `RestError` whose message is the service's `<Message>` element, so a
 * response without an error body (a 500 or 503 from a broken emulator, any failed HEAD) throws
 * an error whose message is empty. This says what happened instead: status, reason, the
 * service's error code, the request, and the service's text when it sent one.
 */
export function describeStorageError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & {
    statusCode?: number;
    code?: string;
    request?: { method?: string; url?: string };
    response?: { headers?: { get?(name: string): string | undefined } };
  };
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  // x-ms-error-code names the service's reason (BlobNotFound, ServerBusy...); the SDK copies it to code.
  const errorCode =
    status !== undefined ? (e.response?.headers?.get?.('x-ms-error-code') ?? e.code) : undefined;
  const parts: string[] = [];
  if (status !== undefined) parts.push(`${status} ${STATUS_CODES[status] ?? ''}`.trim());
  else if (e.code) parts.push(e.code); // a socket error: ECONNREFUSED, ECONNRESET, ...
  if (errorCode) parts.push(errorCode);
  const text = e.message.trim();
  const target = e.request?.url ? `${e.request.method ?? ''} ${stripQuery(e.request.url)}`.trim() : undefined;
  const head = parts.join(' ');
  const body = text !== '' ? text : status !== undefined ? 'the response has no error body' : 'no message';
  return [head, body].filter((s) => s !== '').join(': ') + (target ? ` (${target})` : '');
}

/** SAS tokens and other secrets travel in the query string: never print it. */
function stripQuery(url: string): string {
  const at = url.indexOf('?');
  return at < 0 ? url : url.slice(0, at);
}

/** A failed storage request, with a message that is never empty (see {@link describeStorageError}). */
export class StorageRequestError extends Error {
  override readonly name = 'StorageRequestError';
  readonly statusCode: number | undefined;

  constructor(what: string, cause: unknown) {
    super(`${what} failed: ${describeStorageError(cause)}`, { cause });
    const status = (cause as { statusCode?: unknown } | undefined)?.statusCode;
    this.statusCode = typeof status === 'number' ? status : undefined;
  }
}
