import type { Clock } from './clock';
import type { Logger } from './logger';
import type { AppRegistry, RegisteredFunction } from './worker/coreApi';
import type { FunctionInvoker } from './worker/invoker';

/** A request as devhost's own routes (admin, Durable HTTP API, broker admin) see it. */
export interface HostHttpRequest {
  method: string;
  url: URL;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: Buffer;
  /** Values of `{name}` segments in the route pattern. */
  params: Record<string, string>;
  /** True when the caller connected from a loopback address. */
  fromLoopback: boolean;
}

export interface HostHttpResponse {
  status: number;
  headers?: Record<string, string>;
  /** A string or Buffer is sent as is; anything else as JSON. */
  body?: unknown;
}

export type HostRouteHandler = (request: HostHttpRequest) => Promise<HostHttpResponse> | HostHttpResponse;

export interface HostRoutes {
  /**
   * Serves `handler` for `method` at `pattern` (no route prefix; e.g.
   * `/runtime/webhooks/durabletask/instances/{id}`). `{name}` matches one segment,
   * `{*name}` the rest of the path. Host routes are admin routes: loopback only unless the host
   * was started with admin exposure.
   */
  add(method: string | string[], pattern: string, handler: HostRouteHandler): void;
  /** The origin clients should use, e.g. `http://localhost:7071`. Known once the host listens. */
  readonly origin: string;
}

/** Everything an extension may use. Built once by the host before any extension starts. */
export interface HostServices {
  appDir: string;
  registry: AppRegistry;
  invoker: FunctionInvoker;
  logger: Logger;
  /** host.json as parsed (never undefined; `{}` when the file is absent). */
  hostJson: Record<string, unknown>;
  /** App settings (process.env after local.settings.json). */
  settings: NodeJS.ProcessEnv;
  /** Where durable state lives: a directory, or ':memory:' for tests. */
  dataDir: string;
  clock: Clock;
  routes: HostRoutes;
}

/** What an extension needs before the app loads. */
export interface PrepareServices {
  appDir: string;
  logger: Logger;
  /** App settings (process.env after local.settings.json); prepare may rewrite them for the app. */
  settings: NodeJS.ProcessEnv;
  dataDir: string;
}

/** One line of `devhost status` / `GET /admin/status`: what was checked, and what is wrong if anything. */
export interface HealthCheck {
  name: string;
  ok: boolean;
  detail: string;
  /** Machine-readable facts for scripts and tests (e.g. the storage emulator's endpoints). */
  data?: Record<string, unknown>;
}

/**
 * A part of the host that drives some trigger types (Durable, Service Bus, storage, ...).
 *
 * Lifecycle, in the order the host runs it:
 * 0. `prepare()` runs before the app loads, so the settings the app reads at load time are final
 *    (e.g. `UseDevelopmentStorage=true` rewritten to the emulator devhost started);
 * 1. the app loads; every binding's `%Setting%` expressions are resolved in place (extensions read
 *    resolved values from `fn.metadata.bindings`);
 * 2. functions whose bindings no extension declares (`triggerTypes`, `bindingTypes`) are disabled
 *    (`invoker.disabledReason(name)` says why): extensions must skip disabled functions;
 * 3. appStart hooks run, then the host listens (so `routes.origin` is known), then `start()` runs
 *    for each extension in order: it registers bindings and routes and opens its stores, but runs
 *    no function. Requests answer 503 until every extension has started;
 * 4. the host answers requests, then `listen()` runs for each extension in order: only now do
 *    trigger listeners receive and queued work (durable work items, messages) run, so no function
 *    runs while a binding another extension supplies (blob output, durable client) is missing.
 *    Timer triggers start last;
 * 5. on SIGINT/SIGTERM: the HTTP listener and timers stop, `stopListening()` runs for every
 *    extension (no new messages are received), `invoker.drain()` waits for running invocations and
 *    refuses new ones (`HostShuttingDownError`: a host-side refusal; give the work back without
 *    counting it against the message, to run after restart), appTerminate hooks run, then `stop()`
 *    runs for each extension in reverse order.
 *
 * Time: use `services.clock` for every due time (durable timers, lock renewals, visibility
 * timeouts), so `--clock manual` and `POST /admin/clock` drive extensions and timer triggers alike.
 */
export interface HostExtension {
  readonly name: string;
  /** Trigger binding types (e.g. 'orchestrationTrigger') whose functions this extension runs. */
  readonly triggerTypes: readonly string[];
  /** Input/output binding types it supplies (e.g. 'durableClient'); registered on the invoker in start(). */
  readonly bindingTypes?: readonly string[];
  /** Before the app loads (see the lifecycle above): may rewrite settings the app reads at load time. */
  prepare?(services: PrepareServices): Promise<void>;
  /** Prepares: bindings, routes, stores. Runs no function (see the lifecycle above). */
  start(services: HostServices): Promise<void>;
  /** Begins taking work: trigger listeners, queued work items. Called once every extension has started. */
  listen?(): Promise<void>;
  /** Stops receiving new work; what is running goes on (stop() waits for it). */
  stopListening?(): Promise<void>;
  /**
   * Stop taking new work and release or finish what is in flight; persistent state stays consistent.
   * Also called, without start(), when the host fails to start after prepare().
   */
  stop(): Promise<void>;
  /** What `devhost status` reports for this extension; checks answer within a few seconds. */
  health?(): Promise<HealthCheck[]>;
  /** Extra settings shown for a function in `GET /admin/functions`. */
  describe?(fn: RegisteredFunction): Record<string, unknown>;
  /** `POST /admin/functions/{name}` with `{"input": ...}` for a function this extension triggers. */
  invokeFromAdmin?(fn: RegisteredFunction, input: unknown): Promise<void>;
}
