import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HostHttpResponse } from '../extension';
import type { Logger } from '../logger';
import { HostShuttingDownError, type FunctionInvoker, type InvocationOutcome } from '../worker/invoker';
import type { FunctionRouteTable, HttpFunctionRoute } from './functionRoutes';
import type { HostRouteTable } from './hostRoutes';
import { flattenHeaders, toRpcHttpRequest, writeRpcHttpResponse } from './rpcHttp';
import type { RpcHttpData } from '../worker/coreTypes';

/** The Functions host refuses request bodies above 100 MB. */
const MAX_BODY_BYTES = 100 * 1024 * 1024;

export interface HttpServerOptions {
  functions: FunctionRouteTable;
  hostRoutes: HostRouteTable;
  invoker: FunctionInvoker;
  logger: Logger;
  /** Answer admin/runtime routes from any address, not only loopback. */
  exposeAdmin: boolean;
}

/** Serves HTTP triggers and devhost's own routes on one listener, as the Functions host does. */
export class HostHttpServer {
  readonly #server: Server;
  readonly #inflight = new Set<Promise<void>>();
  #state: 'starting' | 'ready' | 'stopping' = 'starting';

  constructor(private readonly options: HttpServerOptions) {
    this.#server = createServer((req, res) => {
      const work = this.#handle(req, res).catch((err: unknown) => {
        this.options.logger.error(
          'Host.Http',
          `Unhandled error serving ${req.method} ${req.url}: ${String(err)}`,
        );
        if (!res.headersSent) {
          res.statusCode = 500;
          res.end();
        } else res.destroy();
      });
      this.#inflight.add(work);
      void work.finally(() => this.#inflight.delete(work));
    });
    // Long-running functions must not be cut by Node's default request timeouts; functionTimeout rules.
    this.#server.requestTimeout = 0;
    this.#server.headersTimeout = 60_000;
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    return this.#server.address() as AddressInfo;
  }

  /** Requests before this answer 503: extensions may still be adding their routes. */
  markReady(): void {
    this.#state = 'ready';
  }

  /** Stops accepting connections; requests in flight get up to `timeoutMs` to finish. */
  async stop(timeoutMs: number): Promise<void> {
    this.#state = 'stopping';
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    const deadline = Date.now() + timeoutMs;
    while (this.#inflight.size > 0 && Date.now() < deadline) {
      await Promise.race([Promise.allSettled([...this.#inflight]), sleep(deadline - Date.now())]);
    }
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { logger } = this.options;
    if (this.#state !== 'ready') {
      res.setHeader('connection', 'close');
      send(res, { status: 503, body: { error: `devhost is ${this.#state}.` } });
      return;
    }
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const body = await readBody(req);
    if (body === 'too-large') {
      send(res, { status: 413, body: { error: 'The request body is larger than 100 MB.' } });
      return;
    }
    logger.debug('Host.Http', `${method} ${url.pathname}${url.search}`);

    const hostMatch = this.options.hostRoutes.match(method, url.pathname);
    if (hostMatch === 'method') {
      send(res, { status: 405, body: { error: `${method} is not allowed on ${url.pathname}.` } });
      return;
    }
    if (hostMatch) {
      const fromLoopback = isLoopback(req.socket.remoteAddress);
      if (!fromLoopback && !this.options.exposeAdmin) {
        send(res, {
          status: 403,
          body: {
            error: 'devhost admin routes answer loopback callers only (start with --expose-admin to change).',
          },
        });
        return;
      }
      const answer = await hostMatch.handler({
        method,
        url,
        headers: flattenHeaders(req),
        body,
        params: hostMatch.params,
        fromLoopback,
      });
      send(res, answer, method === 'HEAD');
      return;
    }

    const lookup = this.options.functions.lookup(method, url.pathname);
    if (lookup.kind === 'none') {
      res.statusCode = 404;
      res.end();
      return;
    }
    if (lookup.kind === 'method') {
      res.statusCode = 405;
      res.setHeader('allow', lookup.allowed.join(', '));
      res.end();
      return;
    }
    await this.#invokeHttpFunction(lookup.entry, lookup.params, req, res, url, body);
  }

  async #invokeHttpFunction(
    entry: HttpFunctionRoute,
    params: Record<string, string>,
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    body: Buffer,
  ): Promise<void> {
    const { invoker } = this.options;
    const name = entry.fn.metadata.name;
    const disabled = invoker.disabledReason(name);
    if (disabled) {
      send(res, { status: 503, body: `Function "${name}" is disabled: ${disabled}` });
      return;
    }
    if (!invoker.accepting) {
      res.setHeader('connection', 'close');
      send(res, { status: 503, body: 'devhost is shutting down.' });
      return;
    }
    let outcome: InvocationOutcome;
    try {
      outcome = await invoker.invoke({
        functionName: name,
        triggerData: { http: toRpcHttpRequest(req, url, body, params) },
      });
    } catch (err) {
      if (!(err instanceof HostShuttingDownError)) throw err;
      res.setHeader('connection', 'close');
      send(res, { status: 503, body: 'devhost is shutting down.' });
      return;
    }
    if (this.#state === 'stopping') res.setHeader('connection', 'close');
    if (outcome.error) {
      // The invoker has logged the failure with its invocation id; the caller sees a bare 500, as on Azure.
      res.statusCode = 500;
      res.end();
      return;
    }
    writeRpcHttpResponse(res, httpOutput(entry, outcome.response), req.method === 'HEAD');
  }
}

/** The function's HTTP output: `$return` or a named http output binding. */
function httpOutput(
  entry: HttpFunctionRoute,
  response:
    | {
        returnValue?: { http?: RpcHttpData | null } | null;
        outputData?: { name: string; data: { http?: RpcHttpData | null } }[];
      }
    | undefined,
): RpcHttpData | undefined {
  const bindings = Object.entries(entry.fn.metadata.bindings);
  const output = bindings.find(([, b]) => b.type.toLowerCase() === 'http' && b.direction === 'out');
  if (!output || output[0] === '$return') return response?.returnValue?.http ?? undefined;
  return response?.outputData?.find((o) => o.name === output[0])?.data.http ?? undefined;
}

function send(res: ServerResponse, answer: HostHttpResponse, headOnly = false): void {
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
  let payload: Buffer | undefined;
  if (answer.body === undefined) payload = undefined;
  else if (Buffer.isBuffer(answer.body)) payload = answer.body;
  else if (typeof answer.body === 'string') {
    payload = Buffer.from(answer.body, 'utf8');
    if (!res.hasHeader('content-type')) res.setHeader('content-type', 'text/plain; charset=utf-8');
  } else {
    payload = Buffer.from(JSON.stringify(answer.body), 'utf8');
    if (!res.hasHeader('content-type')) res.setHeader('content-type', 'application/json; charset=utf-8');
  }
  if (payload) res.setHeader('content-length', payload.length);
  res.end(headOnly ? undefined : payload);
}

async function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return 'too-large';
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(1, ms)).unref());
}
