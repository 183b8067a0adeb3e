import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';

/** The well-known development storage account every Azure SDK and emulator agrees on. */
export const EMULATOR_ACCOUNT_NAME = 'devstoreaccount1';
export const EMULATOR_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
/** Ports `UseDevelopmentStorage=true` points at. */
export const DEFAULT_AZURITE_PORTS = { blob: 10000, queue: 10001, table: 10002 } as const;

export interface AzuriteOptions {
  /** Directory for Azurite's data (created if missing). Ignored when `inMemory` is true. */
  location?: string;
  /** Keep everything in memory: nothing is written to disk, everything is gone after stop(). */
  inMemory?: boolean;
  /** Ports to listen on; 0 picks a free one. Defaults are the emulator's 10000/10001/10002. */
  blobPort?: number;
  queuePort?: number;
  tablePort?: number;
  /** Defaults to 127.0.0.1. */
  host?: string;
  /** Services to start; all three by default. */
  services?: readonly AzuriteService[];
}

export type AzuriteService = 'blob' | 'queue' | 'table';

export interface AzuriteInstance {
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
  /** Account-key connection string for the devstoreaccount1 account at these endpoints. */
  connectionString: string;
  /** Closes the servers this call started. Safe to call more than once. */
  stop(): Promise<void>;
}

interface AzuriteServer {
  start(): Promise<void>;
  close(): Promise<void>;
  getHttpServerAddress(): string;
}

type ServerClass = new (config: unknown) => AzuriteServer;
type ConfigClass = new (...args: unknown[]) => unknown;

interface AzuriteModules {
  BlobServer: ServerClass;
  BlobConfiguration: ConfigClass;
  QueueServer: ServerClass;
  QueueConfiguration: ConfigClass;
  TableServer: ServerClass;
  TableConfiguration: ConfigClass;
  MemoryExtentChunkStore: new (sizeLimit?: number) => unknown;
}

let modules: AzuriteModules | undefined;

/** Loads Azurite lazily: hosts without development storage never pay for it. */
function loadAzurite(): AzuriteModules {
  if (modules) return modules;
  const req = createRequire(__filename);
  let root: string;
  try {
    root = path.dirname(req.resolve('azurite/package.json'));
  } catch {
    throw new Error(
      'UseDevelopmentStorage=true needs Azurite, but the "azurite" package is not installed (npm install --save-dev azurite).',
    );
  }
  const load = (rel: string): Record<string, unknown> =>
    req(path.join(root, 'dist', 'src', rel)) as Record<string, unknown>;
  const def = <T>(rel: string): T => load(rel).default as T;
  modules = {
    BlobServer: def<ServerClass>('blob/BlobServer'),
    BlobConfiguration: def<ConfigClass>('blob/BlobConfiguration'),
    QueueServer: def<ServerClass>('queue/QueueServer'),
    QueueConfiguration: def<ConfigClass>('queue/QueueConfiguration'),
    TableServer: def<ServerClass>('table/TableServer'),
    TableConfiguration: def<ConfigClass>('table/TableConfiguration'),
    MemoryExtentChunkStore: load('common/persistence/MemoryExtentStore')
      .MemoryExtentChunkStore as AzuriteModules['MemoryExtentChunkStore'],
  };
  return modules;
}

/** Builds the connection string of the emulator account at explicit endpoints. */
export function emulatorConnectionString(endpoints: {
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
}): string {
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${EMULATOR_ACCOUNT_NAME}`,
    `AccountKey=${EMULATOR_ACCOUNT_KEY}`,
    `BlobEndpoint=${endpoints.blobEndpoint}`,
    `QueueEndpoint=${endpoints.queueEndpoint}`,
    `TableEndpoint=${endpoints.tableEndpoint}`,
  ].join(';');
}

export function emulatorEndpoints(
  ports: { blob: number; queue: number; table: number },
  host = '127.0.0.1',
): { blobEndpoint: string; queueEndpoint: string; tableEndpoint: string } {
  return {
    blobEndpoint: `http://${host}:${ports.blob}/${EMULATOR_ACCOUNT_NAME}`,
    queueEndpoint: `http://${host}:${ports.queue}/${EMULATOR_ACCOUNT_NAME}`,
    tableEndpoint: `http://${host}:${ports.table}/${EMULATOR_ACCOUNT_NAME}`,
  };
}

/** True when something accepts TCP connections on host:port. */
export function isListening(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Starts Azurite's blob, queue and table services in this process on `host` (127.0.0.1), with
 * API-version checks off (the installed SDKs are newer than the emulator) and loose mode on, no
 * access or debug log. Data lives under `location` (its own sub-folders per service, the layout
 * the Azurite CLI uses) or, with `inMemory`, in memory private to this instance.
 */
export async function startAzurite(options: AzuriteOptions = {}): Promise<AzuriteInstance> {
  const m = loadAzurite();
  const host = options.host ?? '127.0.0.1';
  const services = new Set<AzuriteService>(options.services ?? ['blob', 'queue', 'table']);
  const inMemory = options.inMemory === true;
  const location = inMemory ? '' : path.resolve(options.location ?? path.join('.data', 'azurite'));
  if (!inMemory) mkdirSync(location, { recursive: true });
  const at = (file: string) => (inMemory ? file : path.join(location, file));
  const persistence = (dir: string) => [{ locationId: 'Default', locationPath: at(dir), maxConcurrency: 10 }];
  // A chunk store per instance: several in-memory emulators in one process stay independent.
  const chunks = inMemory ? new m.MemoryExtentChunkStore() : undefined;
  const logs = { access: false, debug: false, loose: true, skipApiVersionCheck: true };

  // Blob and queue take the same positional configuration: host, port, keep-alive, metadata and
  // extent databases, persistence, access log, its stream, debug log, its path, loose mode,
  // skipApiVersionCheck, cert, key, password, oauth, disableProductStyleUrl, in-memory, chunk store.
  const extentServiceArgs = (name: 'blob' | 'queue', port: number): unknown[] => [
    host,
    port,
    5,
    at(`__azurite_db_${name}__.json`),
    at(`__azurite_db_${name}_extent__.json`),
    persistence(`__${name}storage__`),
    logs.access,
    undefined,
    logs.debug,
    undefined,
    logs.loose,
    logs.skipApiVersionCheck,
    '',
    '',
    '',
    undefined,
    false,
    inMemory,
    chunks,
  ];

  const started: AzuriteServer[] = [];
  const stopAll = async () => {
    const servers = started.splice(0).reverse();
    await Promise.all(servers.map((s) => s.close().catch(() => undefined)));
  };
  const ports = {
    blob: options.blobPort ?? DEFAULT_AZURITE_PORTS.blob,
    queue: options.queuePort ?? DEFAULT_AZURITE_PORTS.queue,
    table: options.tablePort ?? DEFAULT_AZURITE_PORTS.table,
  };
  const bound = { ...ports };
  const startOne = async (server: AzuriteServer, service: AzuriteService) => {
    await server.start();
    started.push(server);
    bound[service] = Number(new URL(server.getHttpServerAddress()).port);
  };

  try {
    if (services.has('blob')) {
      await startOne(
        new m.BlobServer(new m.BlobConfiguration(...extentServiceArgs('blob', ports.blob))),
        'blob',
      );
    }
    if (services.has('queue')) {
      await startOne(
        new m.QueueServer(new m.QueueConfiguration(...extentServiceArgs('queue', ports.queue))),
        'queue',
      );
    }
    if (services.has('table')) {
      const config = new m.TableConfiguration(
        host,
        ports.table,
        5,
        at('__azurite_db_table__.json'),
        logs.debug,
        logs.access,
        undefined,
        undefined,
        logs.loose,
        logs.skipApiVersionCheck,
        '',
        '',
        '',
        undefined,
        false,
        inMemory,
      );
      await startOne(new m.TableServer(config), 'table');
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  const endpoints = emulatorEndpoints(bound, host);
  return {
    ...endpoints,
    connectionString: emulatorConnectionString(endpoints),
    stop: stopAll,
  };
}
