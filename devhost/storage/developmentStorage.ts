import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { BlobServiceClient } from '@azure/storage-blob';
import { HostConfigError } from '../settings';
import {
  DEFAULT_AZURITE_PORTS,
  emulatorConnectionString,
  emulatorEndpoints,
  startAzurite,
  type AzuriteInstance,
} from './azurite';
import { describeStorageError } from './errors';

/**
 * `own` (the default): devhost starts its own Azurite for this data directory, on free ports
 * unless DEVHOST_AZURITE_PORTS fixes them. `external`: devhost uses the emulator already
 * listening on DEVHOST_AZURITE_PORTS (default 10000-10002) and checks that it answers.
 */
export type EmulatorMode = 'own' | 'external';

export const EMULATOR_MODE_SETTING = 'DEVHOST_STORAGE_EMULATOR';
export const AZURITE_PORTS_SETTING = 'DEVHOST_AZURITE_PORTS';

export interface AzuritePorts {
  blob: number;
  queue: number;
  table: number;
}

export interface DevelopmentStorage {
  mode: EmulatorMode;
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
  /** What `UseDevelopmentStorage=true` settings now hold. */
  connectionString: string;
  /** Azurite's data directory, 'memory', or 'external'. */
  location: string;
  /** Stops the emulator devhost started (nothing for an external one) and releases the data directory. */
  stop(): Promise<void>;
}

export function parseEmulatorMode(value: string | undefined): EmulatorMode {
  const mode = (value ?? '').trim().toLowerCase();
  if (mode === '' || mode === 'own') return 'own';
  if (mode === 'external') return 'external';
  throw new HostConfigError(
    `${EMULATOR_MODE_SETTING} (or --storage-emulator) must be "own" or "external", got "${value}".`,
  );
}

export function parseAzuritePorts(value: string | undefined): AzuritePorts | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const parts = value.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 65535)) {
    throw new HostConfigError(
      `${AZURITE_PORTS_SETTING} must be "blobPort,queuePort,tablePort", got "${value}".`,
    );
  }
  return { blob: parts[0]!, queue: parts[1]!, table: parts[2]! };
}

/**
 * Provides the storage emulator `UseDevelopmentStorage=true` leads to. In `own` mode the data
 * directory is locked for this process first: two devhosts on one data directory would corrupt
 * each other's emulator files, so the second is refused with the first one's pid.
 */
export async function provideDevelopmentStorage(options: {
  mode: EmulatorMode;
  ports: AzuritePorts | undefined;
  /** devhost's data directory, or ':memory:'. */
  dataDir: string;
  /** Blob service client for a connection string, created without retries (a probe). */
  probeClient: (connectionString: string) => BlobServiceClient;
}): Promise<DevelopmentStorage> {
  if (options.mode === 'external') {
    const ports = options.ports ?? { ...DEFAULT_AZURITE_PORTS };
    const endpoints = emulatorEndpoints(ports);
    const connectionString = emulatorConnectionString(endpoints);
    try {
      await options.probeClient(connectionString).getProperties();
    } catch (err) {
      throw new HostConfigError(
        `The external storage emulator at ${endpoints.blobEndpoint} (--storage-emulator external) does not answer: ${describeStorageError(err)}. Start it, fix ${AZURITE_PORTS_SETTING}, or drop the option to let devhost run its own.`,
      );
    }
    return { mode: 'external', ...endpoints, connectionString, location: 'external', stop: async () => {} };
  }

  const inMemory = options.dataDir === ':memory:';
  const location = inMemory ? 'memory' : path.join(options.dataDir, 'azurite');
  const release = inMemory ? () => undefined : lockDirectory(location);
  let azurite: AzuriteInstance;
  try {
    azurite = await startAzurite({
      inMemory,
      location: inMemory ? undefined : location,
      blobPort: options.ports?.blob ?? 0,
      queuePort: options.ports?.queue ?? 0,
      tablePort: options.ports?.table ?? 0,
    });
  } catch (err) {
    release();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new HostConfigError(
        `Could not start devhost's own Azurite: ${(err as Error).message}. ${AZURITE_PORTS_SETTING} names ports that are taken; leave it unset to use free ports, or use --storage-emulator external to use the emulator listening there.`,
      );
    }
    throw new Error(`Could not start Azurite for development storage: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return {
    mode: 'own',
    blobEndpoint: azurite.blobEndpoint,
    queueEndpoint: azurite.queueEndpoint,
    tableEndpoint: azurite.tableEndpoint,
    connectionString: azurite.connectionString,
    location,
    async stop() {
      await azurite.stop();
      release();
    },
  };
}

const LOCK_FILE = 'devhost.lock';

/** Takes `<dir>/devhost.lock` for this process; a lock left by a dead process is taken over. */
function lockDirectory(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid }));
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          unlinkSync(file);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = lockOwner(file);
    if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
      throw new HostConfigError(
        `The storage emulator data in ${dir} is in use by devhost process ${owner}. Give this devhost its own --data-dir (two devhosts never share storage), or stop the other one.`,
      );
    }
    try {
      unlinkSync(file); // its owner is gone
    } catch {
      // Someone else removed it first; try again.
    }
  }
  throw new HostConfigError(`Could not lock ${file}; is another devhost starting on the same --data-dir?`);
}

function lockOwner(file: string): number | undefined {
  try {
    const pid = (JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown }).pid;
    return typeof pid === 'number' ? pid : undefined;
  } catch {
    return undefined; // unreadable or half-written: treat as stale
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
