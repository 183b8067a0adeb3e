import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../../../devhost/clock';
import { SystemClock } from '../../../devhost/clock';
import type { HostRoutes, HostRouteHandler } from '../../../devhost/extension';
import { Logger } from '../../../devhost/logger';
import type { EmbeddedBroker } from '../../../devhost/servicebus/embedded/broker';
import type { ServiceBusExtensionOptions } from '../../../devhost/servicebus/extension';
import { ServiceBusExtension } from '../../../devhost/servicebus/extension';
import type { AppRegistry } from '../../../devhost/worker/coreApi';
import { FunctionInvoker } from '../../../devhost/worker/invoker';
import { loadApp } from '../../../devhost/worker/loader';

/** Fixture apps are plain JS in the source tree, as users write them. */
export const FIXTURES = path.resolve(__dirname, '../../../../test/fixtures');
export const SERVICEBUS_APP = path.join(FIXTURES, 'servicebus-app');

/** What a fixture handler reported for one invocation. */
export interface InvocationRecord {
  fn: string;
  at: number;
  messages: unknown[];
  triggerMetadata: Record<string, unknown>;
}

export interface ServiceBusHost {
  extension: ServiceBusExtension;
  broker: EmbeddedBroker;
  invoker: FunctionInvoker;
  records: InvocationRecord[];
  logs: string[];
  routes: Map<string, HostRouteHandler>;
  of(fn: string): InvocationRecord[];
  stop(): Promise<void>;
}

let registry: AppRegistry | undefined;

/** The fixture app is loaded once per test process (its modules register once) and hosted afresh per test. */
async function fixtureRegistry(logger: Logger): Promise<AppRegistry> {
  registry ??= await loadApp(SERVICEBUS_APP, (level, message) => logger.log('Host.Worker', level, message));
  return registry;
}

/**
 * Hosts the Service Bus fixture in this process as devhost does — app loaded through the
 * @azure/functions-core shim, invoked through its programming model — with only the Service Bus
 * extension and an in-memory embedded broker.
 */
export async function startServiceBusHost(
  options: {
    hostJson?: Record<string, unknown>;
    clock?: Clock;
    settings?: Record<string, string>;
    extension?: ServiceBusExtensionOptions;
  } = {},
): Promise<ServiceBusHost> {
  const logs: string[] = [];
  const logger = new Logger({ default: 'information' }, { write: (line) => logs.push(line) });
  const reg = await fixtureRegistry(logger);
  const invoker = new FunctionInvoker(reg, logger);
  // What the Durable extension supplies for df.app.client.* functions (protocol D.1).
  invoker.registerInputProvider('durableClient', () => ({
    string: JSON.stringify({
      taskHubName: 'TestHub',
      creationUrls: {},
      managementUrls: {},
      baseUrl: 'http://127.0.0.1:9/runtime/webhooks/durabletask',
      requiredQueryStringParameters: '',
      rpcBaseUrl: 'http://127.0.0.1:9/durabletask/',
    }),
  }));
  const records: InvocationRecord[] = [];
  (globalThis as { __sbFixture?: (r: InvocationRecord) => void }).__sbFixture = (r) => records.push(r);
  const hostJson =
    options.hostJson ??
    (JSON.parse(readFileSync(path.join(SERVICEBUS_APP, 'host.json'), 'utf8')) as Record<string, unknown>);
  const routes = new Map<string, HostRouteHandler>();
  const hostRoutes: HostRoutes = {
    add(method, pattern, handler) {
      for (const m of Array.isArray(method) ? method : [method])
        routes.set(`${m.toUpperCase()} ${pattern}`, handler);
    },
    origin: 'http://127.0.0.1:0',
  };
  const extension = new ServiceBusExtension(options.extension);
  await extension.start({
    appDir: SERVICEBUS_APP,
    registry: reg,
    invoker,
    logger,
    hostJson,
    settings: { ...options.settings },
    dataDir: ':memory:',
    clock: options.clock ?? new SystemClock(),
    routes: hostRoutes,
  });
  await extension.listen();
  const broker = extension.embedded;
  if (!broker) throw new Error('The fixture should use the embedded broker.');
  return {
    extension,
    broker,
    invoker,
    records,
    logs,
    routes,
    of: (fn) => records.filter((r) => r.fn === fn),
    async stop() {
      await extension.stop();
      await invoker.drain(2000);
    },
  };
}

/** Polls `check` every 10 ms until it returns something other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await delay(10);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The ids of the messages a record carries (fixture bodies are `{id, ...}`). */
export function ids(records: InvocationRecord[]): string[] {
  return records.flatMap((r) => r.messages.map((m) => (m as { id?: string }).id ?? String(m)));
}
