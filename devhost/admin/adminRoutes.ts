import type { Clock } from '../clock';
import { ManualClock } from '../clock';
import type { HealthCheck, HostExtension, HostHttpRequest, HostHttpResponse, HostRoutes } from '../extension';
import type { Logger } from '../logger';
import type { FunctionRouteTable } from '../http/functionRoutes';
import type { TimerService } from '../timer/timerService';
import type { AppRegistry, RegisteredFunction } from '../worker/coreApi';
import { triggerOf } from '../bindings';
import type { FunctionInvoker } from '../worker/invoker';

export interface AdminContext {
  registry: AppRegistry;
  invoker: FunctionInvoker;
  logger: Logger;
  clock: Clock;
  timers: TimerService;
  httpRoutes: FunctionRouteTable;
  extensions: readonly HostExtension[];
  /** The extension that runs functions of a trigger type (lower-case), if any. */
  extensionFor(triggerType: string): HostExtension | undefined;
  origin(): string;
}

/**
 * The admin API Core Tools offers, plus devhost's clock control:
 * - `GET  /admin/host/status`                       host state and version
 * - `GET  /admin/status`                            health: each extension's checks (200 ok, 503 unhealthy)
 * - `GET  /admin/functions`                         every function with its trigger and settings
 * - `GET  /admin/functions/{name}`                  one of them
 * - `POST /admin/functions/{name}` `{"input": ...}` runs a non-HTTP function now; 202
 * - `GET  /admin/clock`, `POST /admin/clock` `{"advanceMs": n}` or `{"to": ISO}` (manual clock only)
 */
export function addAdminRoutes(routes: HostRoutes, ctx: AdminContext): void {
  routes.add('GET', '/admin/host/status', () => ({
    status: 200,
    body: {
      state: ctx.invoker.accepting ? 'Running' : 'Stopping',
      version: 'devhost',
      processId: process.pid,
    },
  }));

  routes.add('GET', '/admin/status', async () => {
    const checks = (
      await Promise.all(
        ctx.extensions.map(async (e): Promise<HealthCheck[]> => {
          try {
            return (await e.health?.()) ?? [];
          } catch (err) {
            return [{ name: e.name, ok: false, detail: `health check failed: ${(err as Error).message}` }];
          }
        }),
      )
    ).flat();
    const ok = checks.every((c) => c.ok);
    return {
      status: ok ? 200 : 503,
      body: { status: ok ? 'ok' : 'unhealthy', origin: ctx.origin(), processId: process.pid, checks },
    };
  });

  routes.add('GET', '/admin/functions', () => ({
    status: 200,
    body: ctx.registry.list().map((fn) => describeFunction(fn, ctx)),
  }));

  routes.add('GET', '/admin/functions/{name}', (req) => {
    const fn = ctx.registry.get(req.params.name ?? '');
    return fn ? { status: 200, body: describeFunction(fn, ctx) } : notFound(req.params.name);
  });

  routes.add('POST', '/admin/functions/{name}', (req) => invokeFromAdmin(req, ctx));

  routes.add('GET', '/admin/clock', () => ({
    status: 200,
    body: { now: new Date(ctx.clock.now()).toISOString(), manual: ctx.clock instanceof ManualClock },
  }));

  routes.add('POST', '/admin/clock', (req) => {
    if (!(ctx.clock instanceof ManualClock)) {
      return {
        status: 409,
        body: { error: 'devhost runs on the system clock; start it with --clock manual to move time.' },
      };
    }
    const body = parseJson(req.body);
    if (body === PARSE_ERROR || typeof body !== 'object' || body === null) {
      return { status: 400, body: { error: 'Send {"advanceMs": <ms>} or {"to": "<ISO time>"}.' } };
    }
    const { advanceMs, to } = body as { advanceMs?: unknown; to?: unknown };
    try {
      if (typeof advanceMs === 'number' && Number.isFinite(advanceMs) && advanceMs >= 0)
        ctx.clock.advance(advanceMs);
      else if (typeof to === 'string' && !Number.isNaN(Date.parse(to))) ctx.clock.set(Date.parse(to));
      else return { status: 400, body: { error: 'Send {"advanceMs": <ms ≥ 0>} or {"to": "<ISO time>"}.' } };
    } catch (err) {
      return { status: 400, body: { error: (err as Error).message } };
    }
    ctx.logger.info('Host.Clock', `Manual clock moved to ${new Date(ctx.clock.now()).toISOString()}.`);
    return { status: 200, body: { now: new Date(ctx.clock.now()).toISOString(), manual: true } };
  });
}

async function invokeFromAdmin(req: HostHttpRequest, ctx: AdminContext): Promise<HostHttpResponse> {
  const fn = ctx.registry.get(req.params.name ?? '');
  if (!fn) return notFound(req.params.name);
  const name = fn.metadata.name;
  const disabled = ctx.invoker.disabledReason(name);
  if (disabled) return { status: 409, body: { error: `Function "${name}" is disabled: ${disabled}` } };
  const body = req.body.length === 0 ? {} : parseJson(req.body);
  if (body === PARSE_ERROR || typeof body !== 'object' || body === null) {
    return { status: 400, body: { error: 'The body must be JSON: {"input": ...}.' } };
  }
  const input = (body as { input?: unknown }).input;
  const trigger = triggerOf(fn);
  if (!trigger) return { status: 400, body: { error: `"${name}" has no trigger.` } };
  const type = trigger.type.toLowerCase();
  if (type === 'httptrigger') {
    return { status: 400, body: { error: `"${name}" is an HTTP function; call its route instead.` } };
  }
  if (!ctx.invoker.accepting) return { status: 503, body: { error: 'devhost is shutting down.' } };

  let run: Promise<void>;
  if (type === 'timertrigger') {
    run = ctx.timers.invokeNow(name);
  } else {
    const extension = ctx.extensionFor(type);
    if (!extension?.invokeFromAdmin) {
      return {
        status: 400,
        body: { error: `devhost cannot invoke a ${trigger.type} function from the admin API.` },
      };
    }
    run = extension.invokeFromAdmin(fn, input);
  }
  // Core Tools answers 202 at once and runs the function in the background.
  void run.catch((err: unknown) =>
    ctx.logger.error(
      'Host.Admin',
      `Admin invocation of "${name}" failed: ${err instanceof Error ? err.message : String(err)}`,
    ),
  );
  return { status: 202 };
}

export function describeFunction(fn: RegisteredFunction, ctx: AdminContext): Record<string, unknown> {
  const name = fn.metadata.name;
  const type = triggerOf(fn)?.type ?? '(no trigger)';
  const disabled = ctx.invoker.disabledReason(name);
  const info: Record<string, unknown> = {
    name,
    trigger: type,
    isDisabled: disabled !== undefined,
    ...(disabled ? { disabledReason: disabled } : {}),
    bindings: Object.values(fn.metadata.bindings).map(({ properties: _properties, ...binding }) => binding),
  };
  const lower = type.toLowerCase();
  if (lower === 'httptrigger') {
    const route = ctx.httpRoutes.entries.find((e) => e.fn === fn);
    if (route) {
      info.methods = route.methods;
      info.url = ctx.origin() + route.displayPath;
    }
  } else if (lower === 'timertrigger') {
    Object.assign(info, ctx.timers.describe(name));
    info.invokeUrl = `${ctx.origin()}/admin/functions/${name}`;
  } else {
    const extension = ctx.extensionFor(lower);
    if (extension) {
      info.extension = extension.name;
      Object.assign(info, extension.describe?.(fn));
      if (extension.invokeFromAdmin) info.invokeUrl = `${ctx.origin()}/admin/functions/${name}`;
    }
  }
  return info;
}

function notFound(name: string | undefined): HostHttpResponse {
  return { status: 404, body: { error: `No function named "${name ?? ''}".` } };
}

const PARSE_ERROR = Symbol('parse error');

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return PARSE_ERROR;
  }
}
