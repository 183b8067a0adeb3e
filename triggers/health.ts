import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

/** Liveness probe: answers who is running, so a deploy or a local start can be checked at a glance. */
export async function health(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return { status: 200, jsonBody: { status: 'ok', service: 'region-sync' } };
}
