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
import { emulatorConnectionString, emulatorEndpoints, startAzurite } from '../../devhost/storage/azurite';
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

/** App settings for a run rooted at `root`; `extra` adds or overrides settings. */
export async function localAppEnv(
  root: string,
  extra: Record<string, string> = {},
): Promise<Record<string, string>> {
  const ports = { blob: await freePort(), queue: await freePort(), table: await freePort() };
  return {
    FUNCTIONS_WORKER_RUNTIME: 'node',
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    DEVHOST_AZURITE_PORTS: [ports.blob, ports.queue, ports.table].join(','),
    REGION_SYNC_DATA_DIR: path.join(root, 'data'),
    REGION_SYNC_PSEUDONYM_KEY: randomBytes(32).toString('base64'),
    REGION_SYNC_STAGING_CONNECTION: emulatorConnectionString(emulatorEndpoints(ports)),
    ...extra,
  };
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
