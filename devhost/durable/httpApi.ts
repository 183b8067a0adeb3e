import type { HostHttpRequest, HostHttpResponse, HostRoutes } from '../extension';
import type { DurableEngine } from './engine';
import { DurableApiError } from './engine';
import type { HistoryEvent } from './protocol';
import {
  EventType,
  EventTypeName,
  RUNTIME_STATUSES,
  instanceIdProblem,
  isTerminal,
  statusTime,
} from './protocol';
import { INSTANCE_BROWSER_PATH, instanceBrowserHtml } from './instanceBrowser';
import type { InstanceRow } from './store';

/** The public Durable HTTP API base; the client's rpcBaseUrl points here too (D.1, D.4). */
export const WEBHOOK_BASE = '/runtime/webhooks/durabletask';

/** The durableClient binding data (D.1) for a host listening at `origin`. */
export function clientBindingData(origin: string, hubName: string): Record<string, unknown> {
  const base = `${origin}${WEBHOOK_BASE}`;
  const query = `taskHub=${encodeURIComponent(hubName)}&connection=Storage&code=devhost`;
  return {
    taskHubName: hubName,
    creationUrls: {
      createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?code=devhost`,
      createAndWaitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&code=devhost`,
    },
    managementUrls: managementUrls(base, 'INSTANCEID', query),
    baseUrl: base,
    requiredQueryStringParameters: 'code=devhost',
    rpcBaseUrl: `${base}/`,
  };
}

function managementUrls(base: string, id: string, query: string): Record<string, string> {
  const instance = `${base}/instances/${id}`;
  return {
    id,
    statusQueryGetUri: `${instance}?${query}`,
    sendEventPostUri: `${instance}/raiseEvent/{eventName}?${query}`,
    terminatePostUri: `${instance}/terminate?reason={text}&${query}`,
    rewindPostUri: `${instance}/rewind?reason={text}&${query}`,
    purgeHistoryDeleteUri: `${instance}?${query}`,
    restartPostUri: `${instance}/restart?${query}`,
    suspendPostUri: `${instance}/suspend?reason={text}&${query}`,
    resumePostUri: `${instance}/resume?reason={text}&${query}`,
  };
}

function parseJsonValue(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export interface StatusOptions {
  showInput: boolean;
  showHistory: boolean;
  showHistoryOutput: boolean;
}

/** The status payload in StatusResponsePayload's field order (D.4). */
export function statusPayload(
  row: InstanceRow,
  options: StatusOptions,
  history?: HistoryEvent[],
): Record<string, unknown> {
  const payload: Record<string, unknown> = {
    name: row.name,
    instanceId: row.instance_id,
    runtimeStatus: row.status,
    input: options.showInput ? parseJsonValue(row.input) : null,
    customStatus: parseJsonValue(row.custom_status),
    output: parseJsonValue(row.output),
    createdTime: statusTime(row.created_at),
    lastUpdatedTime: statusTime(row.updated_at),
  };
  if (options.showHistory && history) {
    const events = historyForStatus(history, options.showHistoryOutput);
    payload.historyEvents = events;
    // The JS client reads `history`; Azure sends only `historyEvents` (D.4). Both are harmless.
    payload.history = events;
  }
  return payload;
}

/** History as the extension post-processes it for status queries (D.4). */
function historyForStatus(history: HistoryEvent[], showOutput: boolean): Record<string, unknown>[] {
  const scheduled = new Map<number, HistoryEvent>();
  const completed = new Set<number>();
  for (const e of history) {
    if (
      e.EventType === EventType.TaskScheduled ||
      e.EventType === EventType.SubOrchestrationInstanceCreated
    ) {
      scheduled.set(e.EventId, e);
    }
    if (typeof e.TaskScheduledId === 'number') completed.add(e.TaskScheduledId);
  }
  const out: Record<string, unknown>[] = [];
  for (const e of history) {
    const type = e.EventType;
    if (type === EventType.OrchestratorStarted || type === EventType.OrchestratorCompleted) continue;
    if (
      (type === EventType.TaskScheduled || type === EventType.SubOrchestrationInstanceCreated) &&
      completed.has(e.EventId)
    ) {
      continue;
    }
    const item: Record<string, unknown> = { EventType: EventTypeName[type] ?? String(type) };
    switch (type) {
      case EventType.ExecutionStarted:
        item.FunctionName = e.Name;
        item.Input = parseJsonValue((e.Input as string | null) ?? null);
        break;
      case EventType.TaskScheduled:
      case EventType.SubOrchestrationInstanceCreated:
        item.FunctionName = e.Name;
        if (e.InstanceId) item.InstanceId = e.InstanceId;
        break;
      case EventType.TaskCompleted:
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceCompleted:
      case EventType.SubOrchestrationInstanceFailed: {
        const origin = scheduled.get(Number(e.TaskScheduledId));
        item.FunctionName = origin?.Name;
        if (origin) item.ScheduledTime = origin.Timestamp;
        if (e.Result !== undefined && showOutput) item.Result = parseJsonValue(e.Result as string | null);
        if (e.Reason !== undefined) item.Reason = e.Reason;
        if (e.Details !== undefined) item.Details = e.Details;
        break;
      }
      case EventType.TimerCreated:
      case EventType.TimerFired:
        item.FireAt = e.FireAt;
        break;
      case EventType.EventRaised:
        item.Name = e.Name;
        if (showOutput) item.Input = parseJsonValue((e.Input as string | null) ?? null);
        break;
      case EventType.ExecutionCompleted:
        item.OrchestrationStatus =
          e.OrchestrationStatus === 1 ? 'Completed' : e.OrchestrationStatus === 3 ? 'Failed' : 'Terminated';
        if (showOutput) item.Result = parseJsonValue((e.Result as string | null) ?? null);
        break;
      case EventType.ExecutionTerminated:
        item.Input = e.Input;
        break;
      case EventType.GenericEvent:
        item.Data = e.Data;
        break;
      default:
        break;
    }
    item.Timestamp = e.Timestamp;
    out.push(item);
  }
  return out;
}

/** A boolean query parameter as bool.TryParse reads it: anything but true/false means the default. */
function flag(url: URL, name: string, fallback: boolean): boolean {
  const value = url.searchParams.get(name)?.trim().toLowerCase();
  return value === 'true' ? true : value === 'false' ? false : fallback;
}

/**
 * HttpApiHandler answers "no such instance" (404) and "already ended" (410) with no body
 * (CreateResponse(status)); the durable client builds its own messages from the status.
 */
const NOT_FOUND: HostHttpResponse = { status: 404 };

function json(status: number, body: unknown, headers: Record<string, string> = {}): HostHttpResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body };
}

function errorResponse(err: unknown): HostHttpResponse {
  if (err instanceof DurableApiError)
    return err.status === 404 || err.status === 410
      ? { status: err.status }
      : json(err.status, { message: err.message });
  throw err;
}

function parseTime(value: string | null, name: string): number | undefined {
  if (value === null || value === '') return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new DurableApiError(400, `The '${name}' parameter is not a valid date: ${value}`);
  return ms;
}

function parseStatuses(value: string | null): string[] | undefined {
  if (!value) return undefined;
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of list) {
    if (!RUNTIME_STATUSES.some((r) => r.toLowerCase() === s.toLowerCase())) {
      throw new DurableApiError(400, `'${s}' is not a valid runtimeStatus.`);
    }
  }
  return list.map((s) => RUNTIME_STATUSES.find((r) => r.toLowerCase() === s.toLowerCase())!);
}

/** Body of a start or raiseEvent request as JSON text; empty → null (D.4). */
function bodyJson(request: HostHttpRequest): string | null {
  const text = request.body.toString('utf8');
  if (text.trim() === '') return null;
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    throw new DurableApiError(400, 'Invalid JSON content');
  }
}

/** Serves the Durable HTTP API (D.4). The client's RPC calls use the same routes (D.3). */
export function addDurableRoutes(routes: HostRoutes, engine: DurableEngine, hubName: string): void {
  const base = WEBHOOK_BASE;
  const origin = (request: HostHttpRequest) => `${request.url.protocol}//${request.url.host}`;
  const query = () => `taskHub=${encodeURIComponent(hubName)}&connection=Storage&code=devhost`;
  const checkStatus = (request: HostHttpRequest, id: string) => {
    const urls = managementUrls(`${origin(request)}${base}`, encodeURIComponent(id), query());
    const { rewindPostUri: _rewind, ...body } = urls;
    return json(202, { ...body, id }, { location: urls.statusQueryGetUri!, 'retry-after': '10' });
  };
  const handle =
    (fn: (request: HostHttpRequest) => Promise<HostHttpResponse> | HostHttpResponse) =>
    async (request: HostHttpRequest): Promise<HostHttpResponse> => {
      try {
        return await fn(request);
      } catch (err) {
        return errorResponse(err);
      }
    };

  routes.add(
    'POST',
    `${base}/orchestrators/{functionName}/{instanceId?}`,
    handle(async (request) => {
      const name = request.params.functionName!;
      const explicitId = request.params.instanceId;
      if (explicitId !== undefined) {
        const problem = instanceIdProblem(explicitId);
        if (problem) throw new DurableApiError(400, problem);
      }
      const input = bodyJson(request);
      const version = request.url.searchParams.get('version') ?? undefined;
      const id = engine.startOrchestration(
        name,
        explicitId,
        input === null ? undefined : JSON.parse(input),
        version,
      );
      const timeout = request.url.searchParams.get('timeout');
      if (timeout !== null) {
        const row = await engine.waitForEnd(id, Number(timeout) * 1000);
        if (row && isTerminal(row.status)) {
          return row.status === 'Completed'
            ? json(200, parseJsonValue(row.output))
            : json(
                row.status === 'Failed' ? 500 : 200,
                statusPayload(row, { showInput: true, showHistory: false, showHistoryOutput: false }),
              );
        }
      }
      return checkStatus(request, id);
    }),
  );

  routes.add(
    'GET',
    `${base}/instances/{instanceId}`,
    handle((request) => {
      const id = request.params.instanceId!;
      const row = engine.store.getInstance(id);
      if (!row || id.startsWith('@')) return NOT_FOUND;
      const options = {
        showInput: flag(request.url, 'showInput', true),
        showHistory: flag(request.url, 'showHistory', false),
        showHistoryOutput: flag(request.url, 'showHistoryOutput', false),
      };
      const payload = statusPayload(row, options, options.showHistory ? engine.historyOf(row) : undefined);
      switch (row.status) {
        case 'Pending':
        case 'Running':
        case 'ContinuedAsNew':
        case 'Suspended':
          return json(202, payload, { location: request.url.href, 'retry-after': '5' });
        case 'Failed':
          return json(flag(request.url, 'returnInternalServerErrorOnFailure', false) ? 500 : 200, payload);
        default:
          return json(200, payload);
      }
    }),
  );

  routes.add(
    'GET',
    `${base}/instances`,
    handle((request) => {
      const url = request.url;
      const top = Number(url.searchParams.get('top') ?? '0');
      const token = request.headers['x-ms-continuation-token'];
      let after: { createdAt: number; instanceId: string } | undefined;
      if (token) {
        try {
          const [createdAt, instanceId] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as [
            number,
            string,
          ];
          after = { createdAt, instanceId };
        } catch {
          throw new DurableApiError(400, 'Invalid continuation token.');
        }
      }
      const limit = Number.isFinite(top) && top > 0 ? top : 100;
      const rows = engine.store.queryInstances({
        createdFrom: parseTime(url.searchParams.get('createdTimeFrom'), 'createdTimeFrom'),
        createdTo: parseTime(url.searchParams.get('createdTimeTo'), 'createdTimeTo'),
        statuses: parseStatuses(url.searchParams.get('runtimeStatus')),
        prefix: url.searchParams.get('instanceIdPrefix') ?? undefined,
        after,
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      const headers: Record<string, string> = {};
      if (rows.length > limit) {
        const lastRow = page[page.length - 1]!;
        headers['x-ms-continuation-token'] = Buffer.from(
          JSON.stringify([lastRow.created_at, lastRow.instance_id]),
        ).toString('base64url');
      }
      const showInput = flag(url, 'showInput', true);
      return json(
        200,
        page.map((row) => statusPayload(row, { showInput, showHistory: false, showHistoryOutput: false })),
        headers,
      );
    }),
  );

  routes.add(
    'DELETE',
    `${base}/instances/{instanceId}`,
    handle((request) => {
      const id = request.params.instanceId!;
      if (id.startsWith('@') || !engine.store.getInstance(id)) return NOT_FOUND;
      return json(200, { instancesDeleted: engine.purge(id, { evenIfRunning: true }) });
    }),
  );

  routes.add(
    'DELETE',
    `${base}/instances`,
    handle((request) => {
      const url = request.url;
      const from = parseTime(url.searchParams.get('createdTimeFrom'), 'createdTimeFrom');
      if (from === undefined)
        throw new DurableApiError(400, "Please provide value for 'createdTimeFrom' parameter.");
      const statuses = parseStatuses(url.searchParams.get('runtimeStatus'));
      const rows = engine.store.queryInstances({
        createdFrom: from,
        createdTo: parseTime(url.searchParams.get('createdTimeTo'), 'createdTimeTo'),
        statuses,
      });
      let deleted = 0;
      for (const row of rows) deleted += engine.purge(row.instance_id);
      return deleted > 0 ? json(200, { instancesDeleted: deleted }) : NOT_FOUND;
    }),
  );

  routes.add(
    'POST',
    `${base}/instances/{instanceId}/raiseEvent/{eventName}`,
    handle((request) => {
      const contentType = request.headers['content-type'] ?? '';
      if (request.body.length > 0 && !contentType.toLowerCase().includes('application/json')) {
        throw new DurableApiError(400, "The 'Content-Type' header must be 'application/json'.");
      }
      engine.raiseEvent(request.params.instanceId!, request.params.eventName!, bodyJson(request));
      return { status: 202 };
    }),
  );

  for (const op of ['terminate', 'suspend', 'resume', 'rewind'] as const) {
    routes.add(
      'POST',
      `${base}/instances/{instanceId}/${op}`,
      handle((request) => {
        engine.control(request.params.instanceId!, op, request.url.searchParams.get('reason') ?? '');
        return { status: 202 };
      }),
    );
  }

  // The instance browser: a page over the routes above (devhost only; Azure has its own tools).
  const browser = instanceBrowserHtml();
  routes.add('GET', `${base}/${INSTANCE_BROWSER_PATH}`, () => ({
    status: 200,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
    body: browser,
  }));

  routes.add(
    'POST',
    `${base}/instances/{instanceId}/restart`,
    handle((request) => {
      const id = request.params.instanceId!;
      const row = engine.store.getInstance(id);
      if (!row) throw new DurableApiError(400, `No instance with ID '${id}' found.`);
      const newId = flag(request.url, 'restartWithNewInstanceId', true) ? undefined : id;
      const started = engine.startOrchestration(
        row.name,
        newId,
        row.input === null ? undefined : JSON.parse(row.input),
        row.version ?? undefined,
      );
      return checkStatus(request, started);
    }),
  );

  // ---- entities (D.4): read, signal (POST ?op=, DELETE = operation "delete"), list by name.
  /** `$` is how the API spells an empty key. */
  const entityKey = (key: string) => (key === '$' ? '' : key);

  routes.add(
    'GET',
    `${base}/entities/{entityName}/{entityKey}`,
    handle((request) => {
      const found = engine.readEntity(request.params.entityName!, entityKey(request.params.entityKey!));
      if (!found) return { status: 404 };
      return {
        status: 200,
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: Buffer.from(found.stateJson ?? 'null'),
      };
    }),
  );

  routes.add(
    ['POST', 'DELETE'],
    `${base}/entities/{entityName}/{entityKey}`,
    handle((request) => {
      const operation =
        request.method.toUpperCase() === 'DELETE' ? 'delete' : (request.url.searchParams.get('op') ?? '');
      let inputJson: string | null = null;
      if (request.body.length > 0) {
        const text = request.body.toString('utf8');
        const contentType = (request.headers['content-type'] ?? '').toLowerCase();
        if (contentType.includes('application/json')) {
          try {
            inputJson = JSON.stringify(JSON.parse(text));
          } catch (err) {
            throw new DurableApiError(400, `Could not parse JSON content: ${(err as Error).message}`);
          }
        } else {
          inputJson = JSON.stringify(text); // any other content type arrives as a string
        }
      }
      engine.signalEntity(
        request.params.entityName!,
        entityKey(request.params.entityKey!),
        operation,
        inputJson,
      );
      return { status: 202 };
    }),
  );

  routes.add(
    'GET',
    `${base}/entities/{entityName}`,
    handle((request) => {
      const url = request.url;
      const name = request.params.entityName!.toLowerCase();
      const top = Number(url.searchParams.get('top') ?? '0');
      const limit = Number.isInteger(top) && top > 0 ? top : 100;
      const token = request.headers['x-ms-continuation-token'];
      let afterId: string | undefined;
      if (token) {
        try {
          afterId = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as string;
          if (typeof afterId !== 'string' || !afterId.startsWith(`@${name}@`)) throw new Error();
        } catch {
          throw new DurableApiError(400, 'Invalid continuation token.');
        }
      }
      const rows = engine.store.queryEntities({
        name,
        afterId,
        lastOperationFrom: parseTime(url.searchParams.get('lastOperationTimeFrom'), 'lastOperationTimeFrom'),
        lastOperationTo: parseTime(url.searchParams.get('lastOperationTimeTo'), 'lastOperationTimeTo'),
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      const headers: Record<string, string> = {};
      if (rows.length > limit) {
        headers['x-ms-continuation-token'] = Buffer.from(
          JSON.stringify(page[page.length - 1]!.instance_id),
        ).toString('base64url');
      }
      const fetchState = flag(url, 'fetchState', false);
      return json(
        200,
        page.map((row) => entityStatus(row, fetchState)),
        headers,
      );
    }),
  );
}

/** An entry of the entity listing, as DurableEntityStatus serializes (D.4). */
function entityStatus(row: InstanceRow, fetchState: boolean): Record<string, unknown> {
  const at = row.instance_id.indexOf('@', 1);
  const status: Record<string, unknown> = {
    entityId: { name: row.instance_id.slice(1, at), key: row.instance_id.slice(at + 1) },
    lastOperationTime: statusTime(row.updated_at),
  };
  if (fetchState) {
    const scheduler = JSON.parse(row.state) as { state?: string | null };
    status.state = parseJsonValue(scheduler.state ?? null);
  }
  return status;
}
