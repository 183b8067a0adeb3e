/**
 * What an end-to-end test or benchmark needs to run this app on devhost in a temporary root:
 * free loopback ports, and the settings (its own Azurite ports, data directory, pseudonym key and
 * staging connection) so runs never share state with each other or with a developer's .data/.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { emulatorConnectionString, emulatorEndpoints } from '../../devhost/storage/azurite';

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
