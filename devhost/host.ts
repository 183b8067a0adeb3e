import path from 'node:path';
import { addAdminRoutes } from './admin/adminRoutes';
import { BindingSupport, triggerOf } from './bindings';
import { SystemClock, type Clock } from './clock';
import type { HostExtension, HostServices } from './extension';
import { FunctionRouteTable } from './http/functionRoutes';
import { HostRouteTable } from './http/hostRoutes';
import { HostHttpServer } from './http/server';
import { consoleSink, Logger, type LogSink } from './logger';
import { applyLocalSettings, HostConfigError, readHostJson, resolveBindingExpressions } from './settings';
import { validateTimeZone } from './timer/schedule';
import { TimerService } from './timer/timerService';
import type { AppRegistry } from './worker/coreApi';
import { FunctionInvoker } from './worker/invoker';
import { loadApp } from './worker/loader';
import { describeStall, watchStalls } from './stallWatch';

export interface HostOptions {
  appDir: string;
  /** 7071 by default; 0 picks a free port. */
  port?: number;
  /** 127.0.0.1 by default. */
  host?: string;
  /** Let non-loopback callers reach /admin and /runtime routes. */
  exposeAdmin?: boolean;
  clock?: Clock;
  /** Where extensions and timer monitors keep state; ':memory:' keeps nothing. Default <appDir>/.data. */
  dataDir?: string;
  /** How long a stop waits for running invocations. */
  shutdownTimeoutMs?: number;
  extensions?: HostExtension[];
  /** The app's environment; process.env by default (the app reads process.env). */
  env?: NodeJS.ProcessEnv;
  logSink?: LogSink;
}

export interface FunctionUrl {
  name: string;
  trigger: string;
  methods?: string[];
  url?: string;
  disabledReason?: string;
}

/**
 * The local Functions host: loads a v4-model app the way the Node worker does and plays the
 * Functions host around it (HTTP and timer triggers, admin API, host.json, app settings,
 * lifecycle hooks), with extensions adding the other trigger types.
 */
export class Host {
  #stopping: Promise<void> | undefined;
  /** Stops the watch that logs when this thread could not run (started with the host). */
  #unwatchStalls: () => void = () => undefined;

  private constructor(
    readonly origin: string,
    readonly registry: AppRegistry,
    readonly invoker: FunctionInvoker,
    readonly logger: Logger,
    readonly clock: Clock,
    private readonly server: HostHttpServer,
    private readonly timers: TimerService,
    private readonly startedExtensions: HostExtension[],
    readonly functionUrls: FunctionUrl[],
    private readonly shutdownTimeoutMs: number,
    private readonly appLevelHookData: Record<string, unknown>,
  ) {}

  static async start(options: HostOptions): Promise<Host> {
    const prepared: HostExtension[] = [];
    try {
      return await Host.#start(options, prepared);
    } catch (err) {
      // What prepare() started (an emulator, say) must not outlive a host that failed to start.
      for (const extension of prepared.reverse()) await extension.stop().catch(() => undefined);
      throw err;
    }
  }

  static async #start(options: HostOptions, prepared: HostExtension[]): Promise<Host> {
    const appDir = path.resolve(options.appDir);
    const env = options.env ?? process.env;
    const clock = options.clock ?? new SystemClock();
    const extensions = options.extensions ?? [];
    const dataDir = options.dataDir ?? path.join(appDir, '.data');

    const hostJson = readHostJson(appDir);
    const logger = new Logger(hostJson.logLevels, options.logSink ?? consoleSink);
    const settings = applyLocalSettings(appDir, env);
    if (settings.file)
      logger.info('Host.Startup', `App settings from ${settings.file}: ${settings.applied.length} applied.`);
    for (const key of settings.skipped) {
      logger.debug(
        'Host.Startup',
        `Skipping '${key}' from local settings: it is already defined in the environment.`,
      );
    }
    env.FUNCTIONS_WORKER_RUNTIME ??= 'node';

    // Before the app loads: the app reads its settings at load time, so they must be final.
    for (const extension of extensions) {
      if (!extension.prepare) continue;
      prepared.push(extension);
      await extension.prepare({ appDir, logger, settings: env, dataDir });
    }

    const registry = await loadApp(appDir, (level, message) => logger.log('Host.Worker', level, message));
    const invoker = new FunctionInvoker(registry, logger, {
      ...(hostJson.functionTimeoutMs !== undefined ? { functionTimeoutMs: hostJson.functionTimeoutMs } : {}),
    });
    // HTTP outputs are written by the HTTP server from the response; nothing to deliver elsewhere.
    invoker.registerOutputHandler('http', () => undefined);

    const disable = (name: string, reason: string) => {
      invoker.disable(name, reason);
      logger.warn('Host.Startup', `Function "${name}" is disabled: ${reason}`);
    };

    // Settings first: a binding's type may be supported while its %Setting% is missing.
    const support = new BindingSupport(extensions);
    for (const fn of registry.list()) {
      const missing = resolveBindingExpressions(fn.metadata, env);
      if (missing.length > 0) {
        disable(
          fn.metadata.name,
          `its bindings use app setting${missing.length > 1 ? 's' : ''} ${missing.map((m) => `%${m}%`).join(', ')} that ${missing.length > 1 ? 'are' : 'is'} not defined (local.settings.json Values or the environment).`,
        );
        continue;
      }
      const unsupported = support.unsupported(fn);
      if (unsupported.length > 0) {
        const types = unsupported.map((b) => `"${b.type}" (${b.direction})`).join(', ');
        disable(
          fn.metadata.name,
          `devhost does not support the binding type${unsupported.length > 1 ? 's' : ''} ${types}; the rest of the app runs.`,
        );
      }
    }

    // HTTP routes and timers are built now so a bad route or schedule disables only its function.
    const functionRoutes = new FunctionRouteTable(hostJson.routePrefix);
    let timeZone: string | undefined;
    let timeZoneProblem: string | undefined;
    if (env.WEBSITE_TIME_ZONE) {
      try {
        timeZone = validateTimeZone(env.WEBSITE_TIME_ZONE);
      } catch (err) {
        timeZoneProblem = (err as Error).message;
      }
    }
    const timers = new TimerService({ invoker, clock, logger, dataDir, timeZone });
    for (const fn of registry.list()) {
      const name = fn.metadata.name;
      const disabled = invoker.disabledReason(name) !== undefined;
      const type = triggerOf(fn)?.type.toLowerCase();
      try {
        // A disabled HTTP function keeps its route, which answers 503 with the reason.
        if (type === 'httptrigger') functionRoutes.add(fn);
        else if (type === 'timertrigger' && !disabled) {
          if (timeZoneProblem) throw new Error(timeZoneProblem);
          timers.add(fn);
        }
      } catch (err) {
        if (!disabled) disable(name, (err as Error).message);
      }
    }

    // As in the worker: app-level hooks share one hookData (appStart -> appTerminate), and
    // appHookData is shared with the invocation hooks too.
    const appLevelHookData: Record<string, unknown> = {};
    for (const hook of registry.hooksFor('appStart')) {
      await hook({
        hookData: appLevelHookData,
        appHookData: invoker.appHookData,
        functionAppDirectory: appDir,
      });
    }

    if (registry.programmingModel?.getCapabilities) {
      const capabilities = await registry.programmingModel.getCapabilities({});
      if (capabilities.HttpUri) {
        throw new HostConfigError(
          'The app called app.setup({ enableHttpStream: true }); devhost does not support HTTP streams yet. Remove that option to run it on devhost.',
        );
      }
    }

    const hostRoutes = new HostRouteTable();
    const server = new HostHttpServer({
      functions: functionRoutes,
      hostRoutes,
      invoker,
      logger,
      exposeAdmin: options.exposeAdmin ?? false,
    });
    const bindHost = options.host ?? '127.0.0.1';
    const address = await server.listen(options.port ?? 7071, bindHost);
    const displayHost =
      bindHost === '0.0.0.0' || bindHost === '::'
        ? 'localhost'
        : bindHost.includes(':')
          ? `[${bindHost}]`
          : bindHost;
    const origin = `http://${displayHost}:${address.port}`;
    hostRoutes.setOrigin(origin);
    // The durable client rewrites status URLs with it (protocol D.2).
    env.WEBSITE_HOSTNAME = `${displayHost === '127.0.0.1' ? 'localhost' : displayHost}:${address.port}`;

    const extensionFor = (triggerType: string) =>
      extensions.find((e) => e.triggerTypes.some((t) => t.toLowerCase() === triggerType.toLowerCase()));
    addAdminRoutes(hostRoutes, {
      registry,
      invoker,
      logger,
      clock,
      timers,
      httpRoutes: functionRoutes,
      extensions,
      extensionFor,
      origin: () => origin,
    });

    const services: HostServices = {
      appDir,
      registry,
      invoker,
      logger,
      hostJson: hostJson.raw,
      settings: env,
      dataDir,
      clock,
      routes: hostRoutes,
    };
    const started: HostExtension[] = [];
    try {
      for (const extension of extensions) {
        await extension.start(services);
        started.push(extension);
      }
    } catch (err) {
      for (const extension of started.reverse()) await extension.stop().catch(() => undefined);
      await server.stop(0);
      throw err;
    }

    const functionUrls: FunctionUrl[] = registry.list().map((fn) => {
      const trigger = triggerOf(fn)?.type ?? '(no trigger)';
      const route = functionRoutes.entries.find((e) => e.fn === fn);
      const disabledReason = invoker.disabledReason(fn.metadata.name);
      return {
        name: fn.metadata.name,
        trigger,
        ...(route ? { methods: route.methods, url: origin + route.displayPath } : {}),
        ...(disabledReason ? { disabledReason } : {}),
      };
    });

    const host = new Host(
      origin,
      registry,
      invoker,
      logger,
      clock,
      server,
      timers,
      started,
      functionUrls,
      options.shutdownTimeoutMs ?? 30_000,
      appLevelHookData,
    );
    host.#unwatchStalls = watchStalls((stall) => logger.warn('Host.Health', describeStall(stall)));
    // Only now may functions run: every binding is registered and the host answers its own
    // durable client. Trigger listeners and queued work start after that, timers last.
    server.markReady();
    try {
      for (const extension of started) await extension.listen?.();
    } catch (err) {
      await host.stop();
      throw err;
    }
    timers.start();
    return host;
  }

  /**
   * Graceful stop: no new requests or timer runs, running invocations get the shutdown bound to
   * finish, then appTerminate hooks run and extensions stop in reverse order.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#unwatchStalls();
    this.timers.stop();
    const serverStopped = this.server.stop(this.shutdownTimeoutMs);
    // Receive nothing more: a message received now would only be refused by the draining invoker.
    const listenersStopped = Promise.allSettled(
      this.startedExtensions.map((e) => e.stopListening?.() ?? Promise.resolve()),
    );
    const left = await this.invoker.drain(this.shutdownTimeoutMs);
    if (left > 0) {
      this.logger.warn(
        'Host.Shutdown',
        `${left} invocation(s) still running after the shutdown bound; stopping anyway.`,
      );
    }
    await serverStopped;
    await listenersStopped;
    for (const hook of this.registry.hooksFor('appTerminate')) {
      try {
        await hook({ hookData: this.appLevelHookData, appHookData: this.invoker.appHookData });
      } catch (err) {
        this.logger.error('Host.Shutdown', `An appTerminate hook failed: ${String(err)}`);
      }
    }
    for (const extension of [...this.startedExtensions].reverse()) {
      try {
        await extension.stop();
      } catch (err) {
        this.logger.error('Host.Shutdown', `Extension "${extension.name}" failed to stop: ${String(err)}`);
      }
    }
  }
}
