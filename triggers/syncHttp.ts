import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import type { SyncRuntime } from '../activities/runtime.js';
import { createFlowStatus } from '../activities/flowStatus.js';
import { instanceIdFor, parseSyncBody } from './syncRequest.js';
import { startRun } from './startRun.js';
import type { Telemetry } from '../adapters/telemetry.js';
import { silentTelemetry } from '../adapters/telemetry.js';

/** Callers that say who they are (the CLI, the dashboard) are recorded as such; anyone else is `http`. */
const NAMED_TRIGGERS = new Set(['cli', 'dashboard']);
function triggerOf(request: HttpRequest): string {
  const named = request.headers.get('x-region-sync-trigger')?.trim().toLowerCase() ?? '';
  return NAMED_TRIGGERS.has(named) ? named : 'http';
}

/** 404 naming the flows there are, or null when `flow` is one of them. */
export function unknownFlow(runtime: Pick<SyncRuntime, 'topology'>, flow: string): HttpResponseInit | null {
  return runtime.topology.flows.some((f) => f.name === flow)
    ? null
    : {
        status: 404,
        jsonBody: { error: `unknown flow '${flow}'`, flows: runtime.topology.flows.map((f) => f.name) },
      };
}

/** POST /api/sync/{flow}: validates, starts (or finds) the run, answers 202 with the status URLs. */
export function createStartSync(
  runtime: Pick<SyncRuntime, 'topology'>,
  telemetry: Telemetry = silentTelemetry,
) {
  return async function startSync(
    request: HttpRequest,
    client: DurableClient,
    context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const flow = request.params.flow ?? '';
    const missing = unknownFlow(runtime, flow);
    if (missing !== null) return missing;
    let body: unknown;
    const text = await request.text();
    try {
      body = text.trim() === '' ? {} : (JSON.parse(text) as unknown);
    } catch (e) {
      return {
        status: 400,
        jsonBody: {
          error: 'invalid request',
          problems: [{ path: '(body)', message: `not valid JSON: ${(e as Error).message}` }],
        },
      };
    }
    const parsed = parseSyncBody(flow, body, runtime.topology, triggerOf(request));
    if (!parsed.ok) return { status: 400, jsonBody: { error: 'invalid request', problems: parsed.problems } };
    const { instanceId, started } = await startRun(
      client,
      parsed.request,
      telemetry.forInvocation(context).log,
    );
    context.log(
      started ? `started ${instanceId}` : `${instanceId} is already running; not starting another run`,
    );
    const payload = client.createHttpManagementPayload(instanceId);
    return {
      status: 202,
      headers: {
        Location: payload.statusQueryGetUri,
        'Retry-After': '2',
        'X-Region-Sync-Run': started ? 'started' : 'already-running',
      },
      jsonBody: payload,
    };
  };
}

/** GET /api/sync/{flow}/status: per link checkpoint, lag, and the last runs' rows and errors. */
export function createSyncStatus(
  runtime: Pick<SyncRuntime, 'topology' | 'store' | 'now'> & Partial<Pick<SyncRuntime, 'zone'>>,
) {
  const flowStatus = createFlowStatus(runtime);
  return async function syncStatus(
    request: HttpRequest,
    client: DurableClient,
    _context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const flow = request.params.flow ?? '';
    if (!runtime.topology.flows.some((f) => f.name === flow))
      return { status: 404, jsonBody: { error: `unknown flow '${flow}'` } };
    const runs: Record<string, unknown> = {};
    const lastByLink = new Map<
      string,
      { instanceId: string; runtimeStatus: string; lastUpdatedTime: string; link: unknown }
    >();
    for (const mode of ['incremental', 'full'] as const) {
      const instanceId = instanceIdFor({ flow, mode, dryRun: false });
      try {
        const s = await client.getStatus(instanceId, { showInput: false });
        const custom = (s.customStatus ?? {}) as { runId?: string; perLink?: Record<string, unknown> };
        const updated = new Date(s.lastUpdatedTime).toISOString();
        runs[mode] = {
          instanceId,
          runId: custom.runId ?? null,
          runtimeStatus: s.runtimeStatus,
          createdTime: new Date(s.createdTime).toISOString(),
          lastUpdatedTime: updated,
          output: String(s.runtimeStatus) === 'Failed' ? s.output : undefined,
        };
        for (const [key, link] of Object.entries(custom.perLink ?? {})) {
          const prev = lastByLink.get(key);
          if (prev === undefined || prev.lastUpdatedTime < updated)
            lastByLink.set(key, {
              instanceId,
              runtimeStatus: String(s.runtimeStatus),
              lastUpdatedTime: updated,
              link,
            });
        }
      } catch {
        runs[mode] = null;
      }
    }
    const links = (await flowStatus(flow)).map((l) => {
      const last = lastByLink.get(`${l.source}>${l.target}`);
      const link = (last?.link ?? {}) as { written?: number; rows?: number; lastError?: string | null };
      return {
        ...l,
        lastRun:
          last === undefined
            ? null
            : {
                instanceId: last.instanceId,
                runtimeStatus: last.runtimeStatus,
                at: last.lastUpdatedTime,
                rowsRead: link.rows ?? 0,
                rowsMoved: link.written ?? 0,
                lastError: link.lastError ?? null,
              },
      };
    });
    return { status: 200, jsonBody: { flow, links, runs } };
  };
}
