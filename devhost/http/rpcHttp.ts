import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RpcHttpCookie, RpcHttpData, TypedData } from '../worker/coreTypes';

/** Request headers as the host hands them over: lower-case names, repeated headers joined. */
export function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(name === 'cookie' ? '; ' : ', ') : value;
  }
  return headers;
}

/** Query values by name; a repeated key keeps every value, comma-joined as the host does. */
export function flattenQuery(url: URL): Record<string, string> {
  const query: Record<string, string> = {};
  for (const key of new Set(url.searchParams.keys())) query[key] = url.searchParams.getAll(key).join(',');
  return query;
}

/** The RpcHttpData a trigger receives (protocol A.6). GET and HEAD carry no body. */
export function toRpcHttpRequest(
  req: IncomingMessage,
  url: URL,
  body: Buffer,
  params: Record<string, string>,
): RpcHttpData {
  const method = (req.method ?? 'GET').toUpperCase();
  const data: RpcHttpData = {
    method,
    url: url.href,
    headers: flattenHeaders(req),
    query: flattenQuery(url),
    params,
  };
  if (method !== 'GET' && method !== 'HEAD' && body.length > 0) data.body = { bytes: body };
  return data;
}

function bodyBytes(body: TypedData | null | undefined): Buffer {
  if (!body) return Buffer.alloc(0);
  if (body.bytes != null) return Buffer.from(body.bytes);
  if (body.stream != null) return Buffer.from(body.stream);
  if (body.string != null) return Buffer.from(body.string, 'utf8');
  if (body.json != null) return Buffer.from(body.json, 'utf8');
  if (body.int != null) return Buffer.from(String(body.int));
  if (body.double != null) return Buffer.from(String(body.double));
  return Buffer.alloc(0);
}

/** One `Set-Cookie` value for an RPC cookie (RFC 6265 attribute names). */
export function formatCookie(cookie: RpcHttpCookie): string {
  const parts = [`${cookie.name ?? ''}=${cookie.value ?? ''}`];
  if (cookie.domain?.value) parts.push(`Domain=${cookie.domain.value}`);
  if (cookie.path?.value) parts.push(`Path=${cookie.path.value}`);
  const seconds = cookie.expires?.value?.seconds;
  if (seconds !== undefined && seconds !== null) {
    parts.push(`Expires=${new Date(Number(seconds) * 1000).toUTCString()}`);
  }
  if (cookie.maxAge?.value !== undefined && cookie.maxAge.value !== null) {
    parts.push(`Max-Age=${Math.trunc(Number(cookie.maxAge.value))}`);
  }
  if (cookie.secure?.value) parts.push('Secure');
  if (cookie.httpOnly?.value) parts.push('HttpOnly');
  const sameSite = String(cookie.sameSite ?? '').toLowerCase();
  // The library sends 'explicitNone' (or 3) for SameSite=None; plain 'none' (0) means "not set".
  if (sameSite === 'lax' || sameSite === '1') parts.push('SameSite=Lax');
  else if (sameSite === 'strict' || sameSite === '2') parts.push('SameSite=Strict');
  else if (sameSite === 'explicitnone' || sameSite === '3') parts.push('SameSite=None');
  return parts.join('; ');
}

/**
 * Writes a function's HTTP output. `undefined` (the handler returned nothing) answers 204, as the
 * Functions host does for an empty HTTP result.
 */
export function writeRpcHttpResponse(
  res: ServerResponse,
  http: RpcHttpData | undefined,
  headOnly: boolean,
): void {
  if (!http) {
    res.statusCode = 204;
    res.end();
    return;
  }
  const status = http.statusCode ? Number.parseInt(http.statusCode, 10) : 200;
  res.statusCode = Number.isInteger(status) && status >= 100 && status <= 999 ? status : 200;
  for (const [name, value] of Object.entries(http.headers ?? {})) {
    if (value === undefined || value === null) continue;
    try {
      res.setHeader(name, value);
    } catch {
      // An invalid header name or value from the app is dropped, as ASP.NET refuses it too.
    }
  }
  const cookies = (http.cookies ?? []).map(formatCookie);
  if (cookies.length > 0) {
    const existing = res.getHeader('set-cookie');
    const earlier = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
    res.setHeader('set-cookie', [...earlier, ...cookies]);
  }
  const body = bodyBytes(http.body);
  if (body.length > 0 && !res.hasHeader('content-type')) {
    res.setHeader('content-type', 'text/plain; charset=utf-8');
  }
  res.setHeader('content-length', body.length);
  res.end(headOnly ? undefined : body);
}
