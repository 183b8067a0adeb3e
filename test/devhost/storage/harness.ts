import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { SystemClock } from '../../../devhost/clock';
import type { HostRoutes } from '../../../devhost/extension';
import { Logger } from '../../../devhost/logger';
import { StorageExtension, type StorageExtensionOptions } from '../../../devhost/storage/storageExtension';
import type { AppRegistry } from '../../../devhost/worker/coreApi';
import { FunctionInvoker } from '../../../devhost/worker/invoker';
import { loadApp } from '../../../devhost/worker/loader';

/** The fixture apps live in the source tree (plain JS, as users write them), next to the compiled tests' sources. */
export const FIXTURES = path.resolve(__dirname, '../../../../test/fixtures');
export const STORAGE_APP = path.join(FIXTURES, 'storage-app');

export interface StorageHost {
  extension: StorageExtension;
  invoker: FunctionInvoker;
  registry: AppRegistry;
  logs: string[];
  blob: BlobServiceClient;
  queues: QueueServiceClient;
  stop(): Promise<void>;
}

/**
 * Hosts `appDir` in this process the way devhost does (app loaded through the
 * @azure/functions-core shim, invoked through the programming model) with only the storage
 * extension, so a test can drive it through Azure Storage exactly as a user would.
 */
export async function startStorageHost(options: {
  appDir?: string;
  settings?: Record<string, string>;
  hostJson?: Record<string, unknown>;
  extension?: StorageExtensionOptions;
}): Promise<StorageHost> {
  const appDir = options.appDir ?? STORAGE_APP;
  // A fixture may be hosted more than once per test file: load its modules afresh each time.
  for (const key of Object.keys(require.cache)) {
    if (key.startsWith(appDir + path.sep) && !key.includes(`${path.sep}node_modules${path.sep}`)) {
      delete require.cache[key];
    }
  }
  const logs: string[] = [];
  const logger = new Logger({ default: 'information' }, { write: (line) => logs.push(line) });
  const registry = await loadApp(appDir, (level, message) => logger.log('Host.Worker', level, message));
  const invoker = new FunctionInvoker(registry, logger);
  invoker.registerOutputHandler('http', () => undefined);
  const hostJson =
    options.hostJson ??
    (JSON.parse(readFileSync(path.join(appDir, 'host.json'), 'utf8')) as Record<string, unknown>);
  const extension = new StorageExtension({ blobScanIntervalMs: 100, ...options.extension });
  const routes: HostRoutes = {
    add: () => undefined,
    origin: 'http://127.0.0.1:0',
  };
  await extension.start({
    appDir,
    registry,
    invoker,
    logger,
    hostJson,
    settings: {
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      ORDERS_QUEUE: 'orders',
      ...options.settings,
    },
    dataDir: ':memory:',
    clock: new SystemClock(),
    routes,
  });
  await extension.listen();
  const settings = extension.azurite ? undefined : options.settings?.AzureWebJobsStorage;
  const connectionString = extension.azurite?.connectionString ?? settings;
  if (!connectionString) throw new Error('The storage extension did not set up development storage.');
  return {
    extension,
    invoker,
    registry,
    logs,
    blob: BlobServiceClient.fromConnectionString(connectionString),
    queues: QueueServiceClient.fromConnectionString(connectionString),
    async stop() {
      await invoker.drain(5000);
      await extension.stop();
    },
  };
}

/** Polls `check` every 50 ms until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `Timed out after ${timeoutMs} ms waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ''}`,
  );
}

/** Every message on a queue right now, without taking them (peek), decoded from base64 unless `raw`. */
export async function peekAll(queue: QueueClient, raw = false): Promise<string[]> {
  try {
    const response = await queue.peekMessages({ numberOfMessages: 32 });
    return response.peekedMessageItems.map((m) =>
      raw ? m.messageText : Buffer.from(m.messageText, 'base64').toString('utf8'),
    );
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return [];
    throw err;
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** How many times the host logged an execution of `functionName` with `status` (Succeeded/Failed). */
export function executions(logs: string[], functionName: string, status: 'Succeeded' | 'Failed'): number {
  return logs.filter((l) => l.includes(`Executed 'Functions.${functionName}' (${status}`)).length;
}
