import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import type { SyncRuntime } from '../activities/runtime.js';
import type { InstanceSnapshot, RunRecord, RunView } from '../sync/runHistory.js';
import { runView } from '../sync/runHistory.js';
import { unknownFlow } from './syncHttp.js';

type Deps = Pick<SyncRuntime, 'topology' | 'runs' | 'blobs'>;

async function snapshot(client: DurableClient, instanceId: string): Promise<InstanceSnapshot | null> {
  try {
    const s = await client.getStatus(instanceId, { showInput: false });
    return { runtimeStatus: String(s.runtimeStatus), customStatus: s.customStatus, output: s.output };
  } catch {
    return null; // the client throws when there is no such instance
  }
}

/** Records with their live status; one status read per distinct running instance. */
export async function viewsOf(client: DurableClient, records: readonly RunRecord[]): Promise<RunView[]> {
  const running = [...new Set(records.filter((r) => r.status === 'running').map((r) => r.instanceId))];
  const live = new Map(
    await Promise.all(running.map(async (id) => [id, await snapshot(client, id)] as const)),
  );
  return records.map((r) => runView(r, live.get(r.instanceId) ?? null));
}

/** GET /api/sync/{flow}/runs?max=20&continuation=...: the flow's run history, newest first. */
export function createListRuns(deps: Deps) {
  return async function listRuns(
    request: HttpRequest,
    client: DurableClient,
    _context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const flow = request.params.flow ?? '';
    const missing = unknownFlow(deps, flow);
    if (missing !== null) return missing;
    const maxText = request.query.get('max') ?? '20';
    const max = Number(maxText);
    if (!/^\d+$/.test(maxText) || max < 1 || max > 200)
      return {
        status: 400,
        jsonBody: {
          error: 'invalid request',
          problems: [{ path: 'max', message: `must be a whole number from 1 to 200, got '${maxText}'` }],
        },
      };
    const page = await deps.runs.list(flow, { max, continuation: request.query.get('continuation') });
    return {
      status: 200,
      jsonBody: { flow, runs: await viewsOf(client, page.runs), continuation: page.continuation },
    };
  };
}

/** GET /api/sync/{flow}/runs/{runId}: one run with its per-link results and reconciliation report. */
export function createGetRun(deps: Deps) {
  return async function getRun(
    request: HttpRequest,
    client: DurableClient,
    _context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const flow = request.params.flow ?? '';
    const missing = unknownFlow(deps, flow);
    if (missing !== null) return missing;
    const runId = request.params.runId ?? '';
    const record = await deps.runs.get(flow, runId);
    if (record === null) return { status: 404, jsonBody: { error: `no run '${runId}' of flow '${flow}'` } };
    const [view] = await viewsOf(client, [record]);
    let report: unknown = null;
    if (record.reportBlob !== null) {
      try {
        report = await deps.blobs.readJson(record.reportBlob);
      } catch (e) {
        report = { error: `report ${record.reportBlob} unreadable: ${(e as Error).message}` };
      }
    }
    return { status: 200, jsonBody: { ...view, report } };
  };
}
