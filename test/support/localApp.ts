/**
 * What an end-to-end test or benchmark needs to run this app on devhost in a temporary root:
 * free loopback ports, and the settings (its own Azurite ports, data directory, pseudonym key and
 * staging connection) so runs never share state with each other or with a developer's .data/.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { SyncRuntime } from '../../activities/runtime';
import { createRuntime } from '../../activities/runtime';
import type { AppConfig } from '../../config/loadConfig';
import { loadConfig } from '../../config/loadConfig';
import { startAzurite } from '../../devhost/storage/azurite';
import type { SeedOptions } from '../../scripts/demoSeed';
import { seedDemo } from '../../scripts/demoSeed';

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * App settings for a run rooted at `root`; `extra` adds or overrides settings. Storage is what a
 * developer has: `UseDevelopmentStorage=true`, which devhost points at its own Azurite on free
 * ports (staging falls back to AzureWebJobsStorage); {@link storageConnection} says where.
 */
export async function localAppEnv(
  root: string,
  extra: Record<string, string> = {},
): Promise<Record<string, string>> {
  return {
    FUNCTIONS_WORKER_RUNTIME: 'node',
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    // Never inherit a developer's choice of emulator: each run gets its own.
    DEVHOST_AZURITE_PORTS: '',
    DEVHOST_STORAGE_EMULATOR: '',
    REGION_SYNC_DATA_DIR: path.join(root, 'data'),
    REGION_SYNC_PSEUDONYM_KEY: randomBytes(32).toString('base64'),
    ...extra,
  };
}

/** The connection string of the storage emulator a running devhost uses (from GET /admin/status). */
export async function storageConnection(origin: string): Promise<string> {
  const res = await fetch(`${origin}/admin/status`);
  const body = (await res.json()) as { checks?: { name: string; data?: { connectionString?: string } }[] };
  const cs = body.checks?.find((c) => c.name === 'storage emulator')?.data?.connectionString;
  if (cs === undefined)
    throw new Error(`devhost at ${origin} reports no storage emulator: ${JSON.stringify(body)}`);
  return cs;
}

/** The batch-sync runtime over demo data in temporary SQLite files and an in-memory Azurite. */
export interface SeededRuntime {
  readonly root: string;
  readonly config: AppConfig;
  readonly runtime: SyncRuntime;
  close(): Promise<void>;
}

export async function startSeededRuntime(prefix: string, seed: SeedOptions): Promise<SeededRuntime> {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  const azurite = await startAzurite({ inMemory: true, blobPort: 0, services: ['blob'] });
  const config = loadConfig(
    {
      REGION_SYNC_DATA_DIR: root,
      REGION_SYNC_PSEUDONYM_KEY: randomBytes(32).toString('base64'),
      REGION_SYNC_STAGING_CONNECTION: azurite.connectionString,
    },
    { cwd: root },
  );
  await seedDemo(config, seed);
  const runtime = createRuntime(config);
  return {
    root,
    config,
    runtime,
    async close() {
      await runtime.close();
      await azurite.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
