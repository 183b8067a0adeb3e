import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger';
import type { AppRegistry, RegisteredFunction } from './coreApi';
import type {
  BindingInfo,
  CoreInvocationContext,
  InvocationResponse,
  ParameterBinding,
  TypedData,
} from './coreTypes';

/** What a trigger hands the invoker: the trigger's own value and, for some triggers, metadata. */
export interface InvocationRequest {
  functionName: string;
  /** The trigger binding's data. Always sent, `{}` when empty (A.5: a missing entry shifts arguments). */
  triggerData: TypedData;
  triggerMetadata?: Record<string, TypedData>;
  invocationId?: string;
  retryContext?: { retryCount: number; maxRetryCount: number };
  /**
   * Orchestrators and entities need the handler's raw return value (action objects), not the
   * RPC-converted response (A.5). Everything else goes through getResponse.
   */
  raw?: boolean;
}

export interface InvocationOutcome {
  invocationId: string;
  functionName: string;
  /** The handler's return value as it returned it. */
  result?: unknown;
  /** The RPC response (return value and output bindings), unless `raw` was asked for. */
  response?: InvocationResponse;
  error?: Error;
  durationMs: number;
}

/** Supplies the data of a non-trigger input binding (durableClient, blob input, ...). */
export type InputBindingProvider = (
  binding: BindingInfo,
  fn: RegisteredFunction,
  request: InvocationRequest,
) => TypedData | undefined | Promise<TypedData | undefined>;

/**
 * Consumes an output binding's value after a successful invocation (serviceBus, blob, queue, ...).
 * `request` is the invocation's trigger data, for binding expressions such as `{queueTrigger}`.
 */
export type OutputBindingHandler = (
  binding: BindingInfo,
  value: TypedData,
  fn: RegisteredFunction,
  outcome: InvocationOutcome,
  request: InvocationRequest,
) => void | Promise<void>;

export class FunctionTimeoutError extends Error {
  override readonly name = 'FunctionTimeoutError';
}

export class FunctionNotFoundError extends Error {
  override readonly name = 'FunctionNotFoundError';
}

export class FunctionDisabledError extends Error {
  override readonly name = 'FunctionDisabledError';
}

/** The host is stopping: the invocation did not run (extensions keep such work for the next start). */
export class HostShuttingDownError extends Error {
  override readonly name = 'HostShuttingDownError';
}

export interface InvokerOptions {
  /** host.json functionTimeout; undefined means unbounded. */
  functionTimeoutMs?: number;
  /** appHookData is shared by every hook of the app's lifetime, as in the worker. */
  appHookData?: Record<string, unknown>;
}

/**
 * Invokes functions through the app's captured programming model exactly as the Node worker does
 * (protocol A.5): one fresh core context per invocation, pre/post invocation hooks, and the
 * library's own conversions in both directions.
 */
export class FunctionInvoker {
  readonly #inputProviders = new Map<string, InputBindingProvider>();
  readonly #outputHandlers = new Map<string, OutputBindingHandler>();
  readonly #disabled = new Map<string, string>();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly appHookData: Record<string, unknown>;
  #accepting = true;

  constructor(
    readonly registry: AppRegistry,
    private readonly logger: Logger,
    private readonly options: InvokerOptions = {},
  ) {
    this.appHookData = options.appHookData ?? {};
  }

  /** Input binding types are matched case-insensitively. */
  registerInputProvider(bindingType: string, provider: InputBindingProvider): void {
    this.#inputProviders.set(bindingType.toLowerCase(), provider);
  }

  registerOutputHandler(bindingType: string, handler: OutputBindingHandler): void {
    this.#outputHandlers.set(bindingType.toLowerCase(), handler);
  }

  hasInputProvider(bindingType: string): boolean {
    return this.#inputProviders.has(bindingType.toLowerCase());
  }

  hasOutputHandler(bindingType: string): boolean {
    return this.#outputHandlers.has(bindingType.toLowerCase());
  }

  /** Marks a function as not runnable here; invoking it fails with the reason. */
  disable(functionName: string, reason: string): void {
    this.#disabled.set(functionName.toLowerCase(), reason);
  }

  disabledReason(functionName: string): string | undefined {
    return this.#disabled.get(functionName.toLowerCase());
  }

  get inflightCount(): number {
    return this.#inflight.size;
  }

  /** Stop taking new invocations; wait up to `timeoutMs` for running ones. Returns how many were left. */
  async drain(timeoutMs: number): Promise<number> {
    this.#accepting = false;
    const deadline = Date.now() + timeoutMs;
    while (this.#inflight.size > 0 && Date.now() < deadline) {
      await Promise.race([
        Promise.allSettled([...this.#inflight]),
        delay(Math.max(1, deadline - Date.now())),
      ]);
    }
    return this.#inflight.size;
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  async invoke(request: InvocationRequest): Promise<InvocationOutcome> {
    const fn = this.registry.get(request.functionName);
    if (!fn) throw new FunctionNotFoundError(`No function named "${request.functionName}" is registered.`);
    const disabledReason = this.disabledReason(fn.metadata.name);
    if (disabledReason)
      throw new FunctionDisabledError(`Function "${fn.metadata.name}" is disabled: ${disabledReason}`);
    if (!this.#accepting)
      throw new HostShuttingDownError('The host is shutting down and takes no new invocations.');
    const run = this.#run(fn, request);
    this.#inflight.add(run);
    try {
      return await run;
    } finally {
      this.#inflight.delete(run);
    }
  }

  async #run(fn: RegisteredFunction, request: InvocationRequest): Promise<InvocationOutcome> {
    const invocationId = request.invocationId ?? randomUUID();
    const name = fn.metadata.name;
    const started = performance.now();
    const category = `Function.${name}`;
    const outcome: InvocationOutcome = { invocationId, functionName: name, durationMs: 0 };
    try {
      const inputData = await this.#inputData(fn, request);
      const coreCtx: CoreInvocationContext = {
        invocationId,
        request: {
          invocationId,
          functionId: name,
          inputData,
          triggerMetadata: request.triggerMetadata ?? {},
          traceContext: { traceParent: undefined, traceState: undefined, attributes: {} },
          retryContext: request.retryContext ?? null,
        },
        metadata: { name, bindings: fn.metadata.bindings },
        state: undefined,
        log: (level, logCategory, message) => {
          const cat = logCategory === 'user' ? `${category}.User` : category;
          this.logger.log(cat, level, message);
        },
      };
      const model = await this.registry.programmingModel!.getInvocationModel(coreCtx);
      const args = await model.getArguments();
      const hookData: Record<string, unknown> = {};
      const preCtx: Record<string, unknown> = {
        hookData,
        appHookData: this.appHookData,
        invocationContext: args.context,
        inputs: args.inputs,
        functionCallback: fn.callback,
      };
      coreCtx.state = 'preInvocationHooks';
      await this.#runHooks('preInvocation', preCtx);
      const inputs = preCtx.inputs as unknown[];
      const callback = preCtx.functionCallback as RegisteredFunction['callback'];

      coreCtx.state = 'invocation';
      let error: unknown;
      try {
        outcome.result = await this.#withTimeout(
          model.invokeFunction(args.context, inputs, callback),
          name,
          invocationId,
        );
      } catch (err) {
        error = err;
      }
      coreCtx.state = 'postInvocationHooks';
      const postCtx: Record<string, unknown> = {
        hookData,
        appHookData: this.appHookData,
        invocationContext: args.context,
        inputs,
        result: outcome.result,
        error,
      };
      await this.#runHooks('postInvocation', postCtx);
      coreCtx.state = undefined;
      // Hooks may replace the result or clear the error, as in the worker.
      if (postCtx.error) throw toError(postCtx.error);
      outcome.result = postCtx.result;

      if (!request.raw) {
        outcome.response = await model.getResponse(args.context, outcome.result);
        await this.#deliverOutputs(fn, outcome, request);
      }
      outcome.durationMs = performance.now() - started;
      this.logger.info(
        category,
        `Executed 'Functions.${name}' (Succeeded, Id=${invocationId}, Duration=${Math.round(outcome.durationMs)}ms)`,
      );
    } catch (err) {
      outcome.error = toError(err);
      outcome.durationMs = performance.now() - started;
      this.logger.error(
        category,
        `Executed 'Functions.${name}' (Failed, Id=${invocationId}, Duration=${Math.round(outcome.durationMs)}ms): ${outcome.error.message}`,
      );
    }
    return outcome;
  }

  async #inputData(fn: RegisteredFunction, request: InvocationRequest): Promise<ParameterBinding[]> {
    const inputData: ParameterBinding[] = [];
    for (const [bindingName, binding] of Object.entries(fn.metadata.bindings)) {
      if (binding.direction !== 'in' && binding.direction !== 'inout') continue;
      if (isTrigger(binding.type)) {
        inputData.push({ name: bindingName, data: request.triggerData });
        continue;
      }
      const provider = this.#inputProviders.get(binding.type.toLowerCase());
      if (!provider) throw new Error(`devhost has no provider for input binding type "${binding.type}".`);
      const data = await provider(binding, fn, request);
      if (data !== undefined) inputData.push({ name: bindingName, data });
    }
    return inputData;
  }

  async #deliverOutputs(
    fn: RegisteredFunction,
    outcome: InvocationOutcome,
    request: InvocationRequest,
  ): Promise<void> {
    const outputs = [...(outcome.response?.outputData ?? [])];
    // `return: output.storageQueue(...)` and friends: the library puts the value in returnValue.
    const returnBinding = fn.metadata.bindings.$return;
    const returnValue = outcome.response?.returnValue;
    if (returnBinding && returnBinding.type.toLowerCase() !== 'http' && returnValue != null) {
      outputs.push({ name: '$return', data: returnValue });
    }
    for (const output of outputs) {
      const binding = fn.metadata.bindings[output.name];
      if (!binding) continue;
      const handler = this.#outputHandlers.get(binding.type.toLowerCase());
      if (!handler) throw new Error(`devhost has no handler for output binding type "${binding.type}".`);
      await handler(binding, output.data, fn, outcome, request);
    }
  }

  async #runHooks(name: 'preInvocation' | 'postInvocation', context: Record<string, unknown>): Promise<void> {
    for (const hook of this.registry.hooksFor(name)) await hook(context);
  }

  async #withTimeout<T>(work: Promise<T>, name: string, invocationId: string): Promise<T> {
    const limit = this.options.functionTimeoutMs;
    if (limit === undefined || !Number.isFinite(limit)) return work;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new FunctionTimeoutError(
              `Timeout value of ${formatTimeSpan(limit)} exceeded by function 'Functions.${name}' (Id: '${invocationId}'). Initiating cancellation.`,
            ),
          ),
        limit,
      );
      timer.unref();
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A binding is a trigger when its type ends in "Trigger", the same test the library uses. */
export function isTrigger(bindingType: string): boolean {
  return bindingType.toLowerCase().endsWith('trigger');
}

export function triggerBinding(fn: RegisteredFunction): [string, BindingInfo] {
  const entry = Object.entries(fn.metadata.bindings).find(([, b]) => isTrigger(b.type));
  if (!entry) throw new Error(`Function "${fn.metadata.name}" has no trigger binding.`);
  return entry;
}

function toError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (typeof err === 'string') return new Error(err);
  try {
    return new Error(JSON.stringify(err));
  } catch {
    return new Error(String(err));
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function formatTimeSpan(ms: number): string {
  const total = Math.floor(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(total / 3600))}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
}
