import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { HealthCheck, HostExtension, HostServices } from '../extension';
import type { RegisteredFunction } from '../worker/coreApi';
import type { BindingInfo, TypedData } from '../worker/coreTypes';
import { typedDataToValue } from '../worker/typedData';
import { registerServiceBusAdminRoutes } from './admin';
import type { AzureServiceBusBroker } from './azure/broker';
import type { ConnectionTarget } from './connection';
import { connectionKey, resolveConnection } from './connection';
import { EmbeddedBroker } from './embedded/broker';
import { TriggerListener } from './listener';
import type { BrokeredMessage, BrokerPort, OutgoingMessage, ReceiveSource } from './port';
import { sourcePath } from './port';
import type { ServiceBusSettings } from './settings';
import { entityOptionsFor, readServiceBusSettings } from './settings';
import { triggerDataFor, triggerMetadataFor } from './triggerData';

export interface ServiceBusExtensionOptions {
  /** The embedded broker's SQLite file; default `<dataDir>/servicebus.sqlite`, or ':memory:' when dataDir is. */
  embeddedFile?: string;
  /** How long one Azure receive waits before looping (ms). Default 5000. */
  azureReceiveWaitMs?: number;
}

/** A Service Bus trigger as registered, with its settings read and checked. */
export interface ServiceBusTriggerPlan {
  fn: RegisteredFunction;
  source: ReceiveSource;
  sessions: boolean;
  many: boolean;
  autoComplete: boolean;
  binary: boolean;
  target: ConnectionTarget;
}

const BROKER_BINDING = 'serviceBus';

/**
 * Service Bus for devhost: `serviceBusTrigger` functions (queues and topic subscriptions, with
 * or without sessions, cardinality one or many) and `serviceBus` output bindings. Each binding's
 * connection setting picks the broker: the embedded SQLite broker when the setting is absent or
 * `local`, Azure Service Bus when it is a connection string or `<name>__fullyQualifiedNamespace`
 * is set. The embedded broker's admin HTTP lives under `/admin/servicebus/`.
 */
export class ServiceBusExtension implements HostExtension {
  readonly name = 'serviceBus';
  readonly triggerTypes = ['serviceBusTrigger'] as const;
  readonly bindingTypes = [BROKER_BINDING] as const;
  readonly #azure = new Map<string, AzureServiceBusBroker>();
  readonly #listeners: { listener: TriggerListener; plan: ServiceBusTriggerPlan; kind: string }[] = [];
  readonly #plans = new Map<string, ServiceBusTriggerPlan>();
  #embedded: EmbeddedBroker | undefined;
  #services: HostServices | undefined;
  #settings: ServiceBusSettings | undefined;

  constructor(private readonly options: ServiceBusExtensionOptions = {}) {}

  /** The embedded broker, once started (tests and the admin routes use it). */
  get embedded(): EmbeddedBroker | undefined {
    return this.#embedded;
  }

  async start(services: HostServices): Promise<void> {
    this.#services = services;
    const settings = readServiceBusSettings(services.hostJson);
    this.#settings = settings;
    const category = 'Host.ServiceBus';

    for (const fn of services.registry.list()) {
      const [bindingName, trigger] =
        Object.entries(fn.metadata.bindings).find(([, b]) => b.type.toLowerCase() === 'servicebustrigger') ??
        [];
      if (!trigger || bindingName === undefined) continue;
      try {
        const plan = this.#plan(fn, trigger, settings, services.settings);
        this.#plans.set(fn.metadata.name.toLowerCase(), plan);
      } catch (err) {
        const reason = (err as Error).message;
        services.invoker.disable(fn.metadata.name, reason);
        services.logger.error(category, `Function "${fn.metadata.name}" is disabled: ${reason}`);
      }
    }

    // Entities of the embedded broker come from the app's registrations: trigger sources first
    // (they decide sessions), then output targets.
    for (const plan of this.#plans.values()) {
      if (plan.target.mode !== 'embedded') continue;
      try {
        const broker = this.#embeddedBroker();
        const entity = entityOptionsFor(settings, sourcePath(plan.source));
        if ('queue' in plan.source)
          broker.ensureQueue(plan.source.queue, { requiresSession: plan.sessions, entity });
        else
          broker.ensureSubscription(plan.source.topic, plan.source.subscription, {
            requiresSession: plan.sessions,
            entity,
          });
      } catch (err) {
        this.#plans.delete(plan.fn.metadata.name.toLowerCase());
        const reason = (err as Error).message;
        services.invoker.disable(plan.fn.metadata.name, reason);
        services.logger.error(category, `Function "${plan.fn.metadata.name}" is disabled: ${reason}`);
      }
    }
    for (const fn of services.registry.list()) {
      for (const binding of Object.values(fn.metadata.bindings)) {
        if (binding.type.toLowerCase() !== BROKER_BINDING.toLowerCase() || binding.direction !== 'out')
          continue;
        try {
          const target = resolveConnection(binding.connection, services.settings);
          if (target.mode !== 'embedded') continue;
          const broker = this.#embeddedBroker();
          const { queueName, topicName } = outputTarget(binding, services.settings);
          if (queueName) broker.ensureQueue(queueName, { entity: entityOptionsFor(settings, queueName) });
          else if (topicName) broker.ensureTopic(topicName);
        } catch (err) {
          const reason = (err as Error).message;
          services.invoker.disable(fn.metadata.name, reason);
          services.logger.error(category, `Function "${fn.metadata.name}" is disabled: ${reason}`);
        }
      }
    }

    services.invoker.registerOutputHandler(BROKER_BINDING, (binding, value) =>
      this.#deliverOutput(binding, value),
    );
    registerServiceBusAdminRoutes(services.routes, () => this.#embedded);

    for (const plan of this.#plans.values()) {
      const port = this.#portFor(plan.target);
      const embedded = port.kind === 'embedded';
      const listener = new TriggerListener(
        port,
        {
          functionName: plan.fn.metadata.name,
          source: plan.source,
          sessions: plan.sessions,
          many: plan.many,
          autoCompleteMessages: plan.autoComplete,
          binary: plan.binary,
          host: settings.host,
          // Embedded receivers are woken by sends, so a long wait costs nothing.
          receiveWaitMs: embedded ? 60_000 : (this.options.azureReceiveWaitMs ?? 5_000),
          sessionIdleMs: settings.host.sessionIdleTimeoutMs ?? (embedded ? 0 : 1_000),
        },
        (request) => services.invoker.invoke(request),
        services.logger,
        services.clock,
      );
      this.#listeners.push({ listener, plan, kind: port.kind });
    }
  }

  /** Receiving starts once every extension is ready (a trigger may start an orchestration). */
  async listen(): Promise<void> {
    for (const { listener, plan, kind } of this.#listeners) {
      listener.start();
      this.#services?.logger.info(
        'Host.ServiceBus',
        `Listening for "${plan.fn.metadata.name}" on ${sourcePath(plan.source)} (${kind}${plan.sessions ? ', sessions' : ''}${plan.many ? ', cardinality many' : ''}).`,
      );
    }
  }

  async stopListening(): Promise<void> {
    await Promise.allSettled(this.#listeners.map(({ listener }) => listener.stop()));
  }

  async stop(): Promise<void> {
    await this.stopListening();
    this.#listeners.length = 0;
    for (const broker of this.#azure.values()) await broker.close().catch(() => undefined);
    this.#azure.clear();
    await this.#embedded?.close();
    this.#embedded = undefined;
  }

  /** The embedded broker answers (its depths per entity, dead letters named); Azure namespaces are not probed. */
  async health(): Promise<HealthCheck[]> {
    const checks: HealthCheck[] = [];
    if (this.#embedded) {
      try {
        const depths = this.#embedded.depth();
        const dead = depths.filter((d) => d.deadLettered > 0);
        checks.push({
          name: 'service bus broker',
          ok: true,
          detail:
            `embedded broker answers: ${depths.length} queue(s)/subscription(s), ${depths.reduce((n, d) => n + d.active, 0)} active message(s)` +
            (dead.length > 0
              ? `; dead-lettered: ${dead.map((d) => `${d.path} ${d.deadLettered}`).join(', ')} (devhost sb dlq <entity>)`
              : ''),
        });
      } catch (err) {
        checks.push({
          name: 'service bus broker',
          ok: false,
          detail: `embedded broker: ${(err as Error).message}`,
        });
      }
    }
    if (this.#azure.size > 0) {
      checks.push({
        name: 'service bus (Azure)',
        ok: true,
        detail: `${this.#azure.size} namespace connection(s); not probed by devhost`,
      });
    }
    return checks;
  }

  describe(fn: RegisteredFunction): Record<string, unknown> {
    const plan = this.#plans.get(fn.metadata.name.toLowerCase());
    if (!plan) return {};
    return {
      serviceBus: {
        source: sourcePath(plan.source),
        broker: plan.target.mode,
        connection: plan.target.settingName,
        isSessionsEnabled: plan.sessions,
        cardinality: plan.many ? 'many' : 'one',
        autoCompleteMessages: plan.autoComplete,
      },
    };
  }

  /** As Core Tools does for non-HTTP functions: invoke directly with the input as the message body. */
  async invokeFromAdmin(fn: RegisteredFunction, input: unknown): Promise<void> {
    const plan = this.#plans.get(fn.metadata.name.toLowerCase());
    const services = this.#services;
    if (!plan || !services)
      throw new Error(`"${fn.metadata.name}" is not a Service Bus function devhost runs.`);
    const now = services.clock.now();
    const body = typeof input === 'string' ? input : JSON.stringify(input ?? null);
    const message: BrokeredMessage = {
      body: Buffer.from(body, 'utf8'),
      messageId: randomUUID().replace(/-/g, ''),
      applicationProperties: {},
      deliveryCount: 1,
      sequenceNumber: 0,
      enqueuedTimeUtc: now,
    };
    const outcome = await services.invoker.invoke({
      functionName: fn.metadata.name,
      triggerData: triggerDataFor([message], plan.many, plan.binary),
      triggerMetadata: triggerMetadataFor([message], plan.many),
    });
    if (outcome.error) throw outcome.error;
  }

  #plan(
    fn: RegisteredFunction,
    trigger: BindingInfo,
    settings: ServiceBusSettings,
    appSettings: NodeJS.ProcessEnv,
  ): ServiceBusTriggerPlan {
    if (trigger.properties?.supportsDeferredBinding === 'true') {
      throw new Error(
        'SDK-type bindings (sdkBinding: true) settle messages through the Functions host settlement service, which devhost does not provide. ' +
          'Use the plain trigger (autoCompleteMessages on; throw to abandon) or send failures to a dead-letter destination yourself.',
      );
    }
    const queueName = stringSetting(trigger.queueName, appSettings);
    const topicName = stringSetting(trigger.topicName, appSettings);
    const subscriptionName = stringSetting(trigger.subscriptionName, appSettings);
    let source: ReceiveSource;
    if (queueName) source = { queue: queueName };
    else if (topicName && subscriptionName) source = { topic: topicName, subscription: subscriptionName };
    else throw new Error('A Service Bus trigger needs queueName, or topicName and subscriptionName.');
    const cardinality = typeof trigger.cardinality === 'string' ? trigger.cardinality.toLowerCase() : 'one';
    if (cardinality !== 'one' && cardinality !== 'many')
      throw new Error(`cardinality "${cardinality}" is not one or many.`);
    return {
      fn,
      source,
      sessions: trigger.isSessionsEnabled === true || trigger.isSessionsEnabled === 'true',
      many: cardinality === 'many',
      autoComplete:
        typeof trigger.autoCompleteMessages === 'boolean'
          ? trigger.autoCompleteMessages
          : trigger.autoCompleteMessages === 'false'
            ? false
            : settings.host.autoCompleteMessages,
      binary: typeof trigger.dataType === 'string' && trigger.dataType.toLowerCase() === 'binary',
      target: resolveConnection(trigger.connection, appSettings),
    };
  }

  #embeddedBroker(): EmbeddedBroker {
    if (this.#embedded) return this.#embedded;
    const services = this.#services;
    if (!services) throw new Error('The Service Bus extension has not started.');
    const file =
      this.options.embeddedFile ??
      (services.dataDir === ':memory:' ? ':memory:' : path.join(services.dataDir, 'servicebus.sqlite'));
    this.#embedded = new EmbeddedBroker({
      file,
      clock: services.clock,
      defaults: this.#settings?.entityDefaults ?? {},
    });
    return this.#embedded;
  }

  #portFor(target: ConnectionTarget): BrokerPort {
    if (target.mode === 'embedded') return this.#embeddedBroker();
    const key = connectionKey(target);
    let broker = this.#azure.get(key);
    if (!broker) {
      // Loaded on first use: @azure/service-bus costs hundreds of ms at start-up and most runs
      // use only the embedded broker.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { AzureServiceBusBroker: Broker } = require('./azure/broker') as {
        AzureServiceBusBroker: typeof AzureServiceBusBroker;
      };
      broker = new Broker(
        'connectionString' in target
          ? { connectionString: target.connectionString }
          : { fullyQualifiedNamespace: target.fullyQualifiedNamespace },
      );
      this.#azure.set(key, broker);
    }
    return broker;
  }

  async #deliverOutput(binding: BindingInfo, value: TypedData): Promise<void> {
    const services = this.#services;
    if (!services) throw new Error('The Service Bus extension has not started.');
    const plain = typedDataToValue(value);
    if (plain === undefined || plain === null) return;
    const items = Array.isArray(plain) ? (plain as unknown[]) : [plain];
    const { queueName, topicName } = outputTarget(binding, services.settings);
    const entity = queueName ?? topicName;
    if (!entity) throw new Error('A serviceBus output binding needs queueName or topicName.');
    const target = resolveConnection(binding.connection, services.settings);
    const messages: OutgoingMessage[] = items.map((item) => ({ body: outputBody(item) }));
    await this.#portFor(target).send(entity, messages);
  }
}

/** The body the Functions host makes of an output value: bytes as they are, strings as UTF-8, anything else as JSON. */
function outputBody(item: unknown): Buffer | string {
  if (Buffer.isBuffer(item)) return item;
  if (item instanceof Uint8Array) return Buffer.from(item);
  if (typeof item === 'string') return item;
  return JSON.stringify(item);
}

function outputTarget(
  binding: BindingInfo,
  appSettings: NodeJS.ProcessEnv,
): { queueName?: string; topicName?: string } {
  const queueName = stringSetting(binding.queueName, appSettings);
  const topicName = stringSetting(binding.topicName, appSettings);
  return queueName ? { queueName } : topicName ? { topicName } : {};
}

/** `%Setting%` placeholders are resolved from app settings, as the host's name resolver does. */
function stringSetting(value: unknown, appSettings: NodeJS.ProcessEnv): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  return value.replace(/%([^%]+)%/g, (_, name: string) => {
    const resolved = appSettings[name];
    if (resolved === undefined) throw new Error(`App setting "${name}" (used in "${value}") is not set.`);
    return resolved;
  });
}
