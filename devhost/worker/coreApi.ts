import Module from 'node:module';
import type {
  FunctionCallback,
  FunctionMetadata,
  HookCallback,
  HookName,
  LogCategory,
  LogLevel,
  ProgrammingModel,
} from './coreTypes';

/** What an app handed to the host while it loaded: its functions, its programming model, its hooks. */
export interface RegisteredFunction {
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

class Disposable {
  #dispose: (() => void) | undefined;
  constructor(dispose: () => void) {
    this.#dispose = dispose;
  }
  static from(...items: { dispose(): void }[]): Disposable {
    return new Disposable(() => items.forEach((item) => item.dispose()));
  }
  dispose(): void {
    this.#dispose?.();
    this.#dispose = undefined;
  }
}

/**
 * One app's registrations. Registration is open only while the app loads (the worker rejects
 * late registrations too), so the set of functions is fixed once the host starts serving.
 */
export class AppRegistry {
  readonly functions = new Map<string, RegisteredFunction>();
  readonly hooks = new Map<HookName, HookCallback[]>();
  programmingModel: ProgrammingModel | undefined;
  #sealed = false;

  constructor(private readonly systemLog: (level: LogLevel, message: string) => void) {}

  seal(): void {
    this.#sealed = true;
  }

  /** Case-insensitive lookup, as the Functions host resolves function names. */
  get(name: string): RegisteredFunction | undefined {
    return this.functions.get(name.toLowerCase());
  }

  list(): RegisteredFunction[] {
    return [...this.functions.values()];
  }

  hooksFor(name: HookName): HookCallback[] {
    return this.hooks.get(name) ?? [];
  }

  registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
    if (this.#sealed) {
      throw new Error(
        `A function can only be registered while the app is loading ("${metadata.name}" came later).`,
      );
    }
    const key = metadata.name.toLowerCase();
    if (this.functions.has(key)) {
      throw new Error(`A function named "${metadata.name}" is already registered.`);
    }
    this.functions.set(key, { metadata, callback });
    return new Disposable(() => this.functions.delete(key));
  }

  registerHook(name: HookName, callback: HookCallback): Disposable {
    const list = this.hooks.get(name) ?? [];
    list.push(callback);
    this.hooks.set(name, list);
    return new Disposable(() => list.splice(list.indexOf(callback) >>> 0, 1));
  }

  log(level: LogLevel, category: LogCategory, message: string): void {
    this.systemLog(level, `[${category}] ${message}`);
  }
}

/**
 * The module object `require('@azure/functions-core')` returns. `@azure/functions` caches it on
 * first use, so it is one object per process that forwards to the registry of the app now
 * loading (tests may host several apps, one after another, in one process).
 */
let current: AppRegistry | undefined;
// A copy of @azure/functions calls setProgrammingModel only once per process; remember it for later apps.
let lastProgrammingModel: ProgrammingModel | undefined;

const coreModule = {
  version: '3.10.1-devhost',
  hostVersion: '4.1037.0.0',
  Disposable,
  registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
    return requireCurrent().registerFunction(metadata, callback);
  },
  setProgrammingModel(model: ProgrammingModel): void {
    const registry = requireCurrent();
    if (registry.programmingModel && registry.programmingModel !== model) {
      registry.log(
        'warning',
        'system',
        'More than one copy of @azure/functions set a programming model; the last one wins.',
      );
    }
    registry.programmingModel = model;
    lastProgrammingModel = model;
  },
  getProgrammingModel(): ProgrammingModel | undefined {
    return current?.programmingModel;
  },
  registerHook(name: HookName, callback: HookCallback): Disposable {
    return requireCurrent().registerHook(name, callback);
  },
  log(level: LogLevel, category: LogCategory, message: string): void {
    current?.log(level, category, message);
  },
};

function requireCurrent(): AppRegistry {
  if (!current) throw new Error('@azure/functions-core was used outside of a devhost app load.');
  return current;
}

let installed = false;

/** Makes `require('@azure/functions-core')` answer with devhost's module, as the Node worker does. */
export function installCoreModule(): void {
  if (installed) return;
  installed = true;
  const proto = Module.prototype as unknown as { require: (id: string) => unknown };
  proto.require = new Proxy(proto.require, {
    apply(target, thisArg, args: unknown[]) {
      if (args[0] === '@azure/functions-core') return coreModule;
      return Reflect.apply(target, thisArg, args) as unknown;
    },
  });
}

/** Routes registrations to `registry` until the returned function is called. */
export function beginRegistration(registry: AppRegistry): () => void {
  installCoreModule();
  current = registry;
  if (!registry.programmingModel && lastProgrammingModel) registry.programmingModel = lastProgrammingModel;
  return () => {
    registry.seal();
  };
}

/** The registry whose app is being hosted now; hooks and logs that arrive late go there. */
export function activeRegistry(): AppRegistry | undefined {
  return current;
}
