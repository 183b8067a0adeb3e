import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../../../devhost/clock';
import { SystemClock } from '../../../devhost/clock';
import { DurableExtension } from '../../../devhost/durable/durableExtension';
import type { DurableEngine } from '../../../devhost/durable/engine';
import { Host } from '../../../devhost/host';
import type { LogSink } from '../../../devhost/logger';

/** Fixture apps live in the source tree; compiled tests run from dist/test/devhost/durable. */
export const FIXTURES = path.resolve(__dirname, '../../../../test/fixtures');
export const SAMPLES_APP = path.join(FIXTURES, 'durable-samples');
export const TS_APP = path.join(FIXTURES, 'durable-ts');

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

export interface DurableTestHost {
  origin: string;
  engine: DurableEngine;
  clock: Clock;
  logs: string[];
  /** A request to the host; a body that is not a string is sent as JSON. */
  request(
    method: string,
    pathOrUrl: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse>;
  /** Polls the Durable HTTP API until the instance leaves Pending/Running (or `timeoutMs`). */
  waitForEnd(instanceId: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Starts an orchestration through the public HTTP API; returns its id. */
  start(name: string, input?: unknown, instanceId?: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Runs devhost in this process (the Functions host with the durable extension) on a free port.
 * An app's modules load once per process, so a test file starts each app once and reuses it.
 */
export async function startDurableHost(
  appDir: string,
  options: { clock?: Clock; dataDir?: string } = {},
): Promise<DurableTestHost> {
  const extension = new DurableExtension();
  const logs: string[] = [];
  const sink: LogSink = { write: (line) => void logs.push(line) };
  const clock = options.clock ?? new SystemClock();
  const host = await Host.start({
    appDir,
    port: 0,
    clock,
    dataDir: options.dataDir ?? ':memory:',
    extensions: [extension],
    logSink: sink,
    shutdownTimeoutMs: 2000,
  });
  const origin = host.origin;
  const request = async (
    method: string,
    pathOrUrl: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse> => {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${origin}${pathOrUrl}`;
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const response = await fetch(url, init);
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      // Not JSON.
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
  };
  const waitForEnd = async (instanceId: string, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await request(
        'GET',
        `/runtime/webhooks/durabletask/instances/${encodeURIComponent(instanceId)}`,
      );
      const body = res.body as Record<string, unknown>;
      if (res.status === 200) return body;
      // 404: not created yet when something else (an entity, a sub-orchestration) starts it.
      if (res.status !== 202 && res.status !== 404)
        throw new Error(`Status of ${instanceId}: HTTP ${res.status} ${res.text}`);
      if (Date.now() > deadline) {
        throw new Error(
          `${instanceId} is still ${res.status === 404 ? 'missing' : String(body.runtimeStatus)} after ${timeoutMs} ms`,
        );
      }
      await sleep(10);
    }
  };
  const start = async (name: string, input?: unknown, instanceId?: string) => {
    const res = await request(
      'POST',
      `/runtime/webhooks/durabletask/orchestrators/${name}${instanceId ? `/${encodeURIComponent(instanceId)}` : ''}`,
      input === undefined ? undefined : input === null ? 'null' : JSON.stringify(input),
    );
    if (res.status !== 202) throw new Error(`Start of ${name}: HTTP ${res.status} ${res.text}`);
    return (res.body as { id: string }).id;
  };
  return {
    origin,
    engine: extension.engine,
    clock,
    logs,
    request,
    waitForEnd,
    start,
    stop: () => host.stop(),
  };
}
