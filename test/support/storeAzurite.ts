/** Starts Azurite's blob service in-process on a free loopback port with in-memory storage. */
import { startAzurite } from '../../devhost/storage/azurite';

export interface RunningAzurite {
  readonly connectionString: string;
  stop(): Promise<void>;
}

export async function startAzuriteBlob(): Promise<RunningAzurite> {
  const azurite = await startAzurite({ inMemory: true, blobPort: 0, services: ['blob'] });
  return { connectionString: azurite.connectionString, stop: () => azurite.stop() };
}
