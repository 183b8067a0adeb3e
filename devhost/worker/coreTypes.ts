/**
 * The slice of the `@azure/functions-core` contract devhost speaks. The real module ships inside
 * the Azure Functions Node worker; these types mirror what `@azure/functions` 4.x passes and reads
 * (see durable-host-protocol.md Part A).
 */

/** RPC TypedData: exactly one member is set; `{}` means "no value". */
export interface TypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  stream?: Uint8Array | null;
  http?: RpcHttpData | null;
  int?: number | null;
  double?: number | null;
  collectionBytes?: { bytes: Uint8Array[] } | null;
  collectionString?: { string: string[] } | null;
  collectionDouble?: { double: number[] } | null;
  collectionSint64?: { sint64: number[] } | null;
}

export interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  body?: TypedData | null;
  params?: Record<string, string> | null;
  statusCode?: string | null;
  query?: Record<string, string> | null;
  enableContentNegotiation?: boolean | null;
  cookies?: RpcHttpCookie[] | null;
}

export interface RpcHttpCookie {
  name?: string | null;
  value?: string | null;
  domain?: { value?: string } | null;
  path?: { value?: string } | null;
  expires?: { value?: { seconds?: number; nanos?: number } } | null;
  secure?: { value?: boolean } | null;
  httpOnly?: { value?: boolean } | null;
  sameSite?: string | number | null;
  maxAge?: { value?: number } | null;
}

/** One binding as `registerFunction` receives it (A.2). Extra keys are binding-specific settings. */
export interface BindingInfo {
  type: string;
  direction: 'in' | 'out' | 'inout';
  name?: string;
  dataType?: string;
  properties?: Record<string, string>;
  [setting: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  bindings: Record<string, BindingInfo>;
  retryOptions?: unknown;
  [key: string]: unknown;
}

export interface ParameterBinding {
  name: string;
  data: TypedData;
}

export interface InvocationResponse {
  invocationId: string;
  outputData?: ParameterBinding[];
  returnValue?: TypedData | null;
}

export type LogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';
export type LogCategory = 'user' | 'system' | 'customMetric';

export interface CoreInvocationContext {
  invocationId: string;
  request: {
    invocationId: string;
    functionId?: string;
    inputData: ParameterBinding[];
    triggerMetadata: Record<string, TypedData>;
    traceContext?: { traceParent?: string; traceState?: string; attributes?: Record<string, string> };
    retryContext?: { retryCount: number; maxRetryCount: number } | null;
  };
  metadata: FunctionMetadata;
  state: 'preInvocationHooks' | 'invocation' | 'postInvocationHooks' | undefined;
  log(level: LogLevel, category: LogCategory, message: string): void;
}

export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<InvocationResponse>;
}

export interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreCtx: CoreInvocationContext): InvocationModel | Promise<InvocationModel>;
  getCapabilities?(capabilities: Record<string, string>): Promise<Record<string, string>>;
}

export type FunctionCallback = (...args: unknown[]) => unknown;
export type HookCallback = (context: Record<string, unknown>) => void | Promise<void>;
export type HookName = 'appStart' | 'appTerminate' | 'preInvocation' | 'postInvocation' | 'log';
