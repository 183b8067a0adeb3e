import os from 'node:os';
import type { HealthCheck, HostExtension, HostServices } from '../extension';
import type { RegisteredFunction } from '../worker/coreApi';
import { triggerBinding } from '../worker/invoker';
import { DurableEngine, type EngineOptions } from './engine';
import { addDurableRoutes, clientBindingData } from './httpApi';
import { TaskHubStore } from './store';

/** host.json `extensions.durableTask` as devhost reads it; `%Name%` values come from app settings. */
export function durableSettings(
  hostJson: Record<string, unknown>,
  settings: NodeJS.ProcessEnv,
): EngineOptions {
  const extensions = (hostJson.extensions ?? {}) as Record<string, unknown>;
  const durable = (extensions.durableTask ?? {}) as Record<string, unknown>;
  const resolve = (value: unknown): unknown =>
    typeof value === 'string'
      ? value.replace(/%([^%]+)%/g, (_, name: string) => settings[name] ?? '')
      : value;
  const positive = (value: unknown, fallback: number): number => {
    const n = Number(resolve(value));
    return Number.isInteger(n) && n > 0 ? n : fallback;
  };
  // Azure's defaults: ten per core for both kinds of work.
  const perCore = 10 * os.availableParallelism();
  const hub = resolve(durable.hubName);
  return {
    hubName: typeof hub === 'string' && hub.trim() !== '' ? hub.trim() : 'TestHubName',
    maxConcurrentActivityFunctions: positive(durable.maxConcurrentActivityFunctions, perCore),
    maxConcurrentOrchestratorFunctions: positive(durable.maxConcurrentOrchestratorFunctions, perCore),
    // Azure: 5000 outside the Consumption plan (50 there).
    maxEntityOperationBatchSize: positive(durable.maxEntityOperationBatchSize, 5000),
  };
}

/**
 * The Durable Task backend as a host extension: runs orchestrator, activity and entity functions
 * from a SQLite task hub, supplies the durableClient binding, and serves the Durable HTTP API.
 */
export class DurableExtension implements HostExtension {
  readonly name = 'durable';
  readonly triggerTypes = ['orchestrationTrigger', 'activityTrigger', 'entityTrigger'] as const;
  readonly bindingTypes = ['durableClient', 'orchestrationClient'] as const;
  #engine: DurableEngine | undefined;
  #store: TaskHubStore | undefined;

  /** The running engine (tests reach into it to wait for idleness). */
  get engine(): DurableEngine {
    if (!this.#engine) throw new Error('The durable extension has not started.');
    return this.#engine;
  }

  async start(services: HostServices): Promise<void> {
    const options = durableSettings(services.hostJson, services.settings);
    this.#store = new TaskHubStore(services.dataDir, options.hubName);
    this.#engine = new DurableEngine(
      this.#store,
      services.invoker,
      services.registry,
      services.clock,
      services.logger,
      options,
    );
    const provide = () => {
      const origin = services.routes.origin;
      // Without it the client rewrites every management URL to localhost:7071 (D.2).
      process.env.WEBSITE_HOSTNAME = new URL(origin).host;
      return { string: JSON.stringify(clientBindingData(origin, options.hubName)) };
    };
    for (const type of this.bindingTypes) services.invoker.registerInputProvider(type, provide);
    this.#engine.open();
    addDurableRoutes(services.routes, this.#engine, options.hubName);
    services.logger.info(
      'Host.Durable',
      `Durable Task hub "${options.hubName}" (${services.dataDir === ':memory:' ? 'in memory' : services.dataDir}); ` +
        `activities ≤ ${options.maxConcurrentActivityFunctions}, orchestrators ≤ ${options.maxConcurrentOrchestratorFunctions} at a time.`,
    );
  }

  /** Queued orchestrations, entities and activities run from now on (every binding is there). */
  async listen(): Promise<void> {
    this.engine.start();
  }

  async stop(): Promise<void> {
    await this.#engine?.stop();
    this.#store?.close();
  }

  /** The task hub answers and this process holds it. */
  async health(): Promise<HealthCheck[]> {
    const hub = this.#engine?.options.hubName ?? '?';
    try {
      const owner = this.#store?.readOwner();
      const ours = owner?.pid === process.pid;
      return [
        {
          name: 'durable task hub',
          ok: ours,
          detail: ours
            ? `task hub "${hub}" answers and this devhost holds it`
            : `task hub "${hub}" is held by ${owner ? `pid ${owner.pid}` : 'nobody'}, not by this devhost (pid ${process.pid})`,
        },
      ];
    } catch (err) {
      return [
        { name: 'durable task hub', ok: false, detail: `task hub "${hub}": ${(err as Error).message}` },
      ];
    }
  }

  describe(fn: RegisteredFunction): Record<string, unknown> {
    return { durable: triggerBinding(fn)[1].type, taskHub: this.#engine?.options.hubName };
  }

  /** Like Core Tools: invoking an orchestrator from the admin API starts a new instance. */
  async invokeFromAdmin(fn: RegisteredFunction, input: unknown): Promise<void> {
    const type = triggerBinding(fn)[1].type;
    if (type === 'entityTrigger') {
      throw new Error(
        `Function '${fn.metadata.name}' is an entity; signal it through the Durable HTTP API (POST /runtime/webhooks/durabletask/entities/${fn.metadata.name}/{key}?op=...).`,
      );
    }
    if (type !== 'orchestrationTrigger') {
      throw new Error(
        `Function '${fn.metadata.name}' is an activity; activities run only when an orchestrator calls them.`,
      );
    }
    this.engine.startOrchestration(fn.metadata.name, undefined, input);
  }
}
