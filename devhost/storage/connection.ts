import type { DefaultAzureCredential } from '@azure/identity';
import type { BlobServiceClient } from '@azure/storage-blob';
import type { QueueServiceClient } from '@azure/storage-queue';
import { lookupSetting } from './expressions';

/**
 * The storage SDKs take hundreds of milliseconds to load; devhost loads them only when an app
 * actually has storage triggers or bindings.
 */
function sdk(): {
  DefaultAzureCredential: typeof DefaultAzureCredential;
  BlobServiceClient: typeof BlobServiceClient;
  QueueServiceClient: typeof QueueServiceClient;
} {
  /* eslint-disable @typescript-eslint/no-require-imports */
  return {
    DefaultAzureCredential: (
      require('@azure/identity') as { DefaultAzureCredential: typeof DefaultAzureCredential }
    ).DefaultAzureCredential,
    BlobServiceClient: (require('@azure/storage-blob') as { BlobServiceClient: typeof BlobServiceClient })
      .BlobServiceClient,
    QueueServiceClient: (require('@azure/storage-queue') as { QueueServiceClient: typeof QueueServiceClient })
      .QueueServiceClient,
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
}

/**
 * Where a storage binding's `connection` leads, resolved the way the Functions host does it:
 * the name (default `Storage`) is looked up as `AzureWebJobs<name>` first, then `<name>`; a
 * string value is a connection string; otherwise `<name>__accountName`, `__blobServiceUri`,
 * `__queueServiceUri` (`__serviceUri` for blobs) describe an identity-based connection
 * (credential: DefaultAzureCredential, `__clientId` for a user-assigned identity).
 */
export type ConnectionSpec =
  | { kind: 'development'; setting: string }
  | { kind: 'connectionString'; setting: string; value: string }
  | {
      kind: 'identity';
      setting: string;
      blobServiceUri?: string;
      queueServiceUri?: string;
      clientId?: string;
    };

export class StorageConnectionError extends Error {
  override readonly name = 'StorageConnectionError';
}

export function isDevelopmentStorage(value: string | undefined): boolean {
  return value !== undefined && /^\s*UseDevelopmentStorage\s*=\s*true\s*(;|$)/i.test(value);
}

export function resolveConnection(
  connection: string | undefined,
  settings: NodeJS.ProcessEnv,
): ConnectionSpec {
  const name = connection && connection.trim() !== '' ? connection.trim() : 'Storage';
  const candidates = name.toLowerCase().startsWith('azurewebjobs') ? [name] : [`AzureWebJobs${name}`, name];
  for (const setting of candidates) {
    const value = lookupSetting(settings, setting);
    if (value !== undefined && value.trim() !== '') {
      if (isDevelopmentStorage(value)) return { kind: 'development', setting };
      return { kind: 'connectionString', setting, value };
    }
    const part = (key: string) => lookupSetting(settings, `${setting}__${key}`)?.trim() || undefined;
    const accountName = part('accountName');
    const blobServiceUri = part('blobServiceUri') ?? part('serviceUri');
    const queueServiceUri = part('queueServiceUri');
    if (accountName || blobServiceUri || queueServiceUri) {
      return {
        kind: 'identity',
        setting,
        blobServiceUri:
          blobServiceUri ?? (accountName ? `https://${accountName}.blob.core.windows.net` : undefined),
        queueServiceUri:
          queueServiceUri ?? (accountName ? `https://${accountName}.queue.core.windows.net` : undefined),
        clientId: part('clientId'),
      };
    }
  }
  throw new StorageConnectionError(
    `Storage account connection string '${candidates.join("' or '")}' does not exist. Make sure that it is a defined App Setting.`,
  );
}

/** Stable identity of the account a spec leads to (several settings may name the same one). */
export function connectionKey(spec: ConnectionSpec): string {
  switch (spec.kind) {
    case 'development':
      return 'development';
    case 'connectionString':
      return `cs:${spec.value}`;
    case 'identity':
      return `id:${spec.blobServiceUri ?? ''}|${spec.queueServiceUri ?? ''}|${spec.clientId ?? ''}`;
  }
}

export interface StorageClients {
  key: string;
  /** The setting the connection came from, for messages. */
  setting: string;
  development: boolean;
  blob: BlobServiceClient;
  queue: QueueServiceClient;
}

/** The part of the SDKs' pipeline options devhost sets (probes use one try and a short timeout). */
export interface ClientPipelineOptions {
  retryOptions?: { maxTries?: number; tryTimeoutInMs?: number };
}

/**
 * Builds the SDK clients for a spec. Development storage goes to `developmentConnectionString`
 * (the Azurite devhost started or found); everything else to the account it names.
 */
export function createClients(
  spec: ConnectionSpec,
  developmentConnectionString: string,
  pipeline: ClientPipelineOptions = {},
): StorageClients {
  const key = connectionKey(spec);
  switch (spec.kind) {
    case 'development':
      return {
        key,
        setting: spec.setting,
        development: true,
        blob: sdk().BlobServiceClient.fromConnectionString(developmentConnectionString, pipeline),
        queue: sdk().QueueServiceClient.fromConnectionString(developmentConnectionString, pipeline),
      };
    case 'connectionString':
      return {
        key,
        setting: spec.setting,
        development: false,
        blob: sdk().BlobServiceClient.fromConnectionString(spec.value, pipeline),
        queue: sdk().QueueServiceClient.fromConnectionString(spec.value, pipeline),
      };
    case 'identity': {
      const credential = new (sdk().DefaultAzureCredential)(
        spec.clientId ? { managedIdentityClientId: spec.clientId } : {},
      );
      const missing = (service: string) =>
        new StorageConnectionError(
          `Connection '${spec.setting}' has no ${service} service URI (set ${spec.setting}__accountName or ${spec.setting}__${service}ServiceUri).`,
        );
      let blob: BlobServiceClient | undefined;
      let queue: QueueServiceClient | undefined;
      return {
        key,
        setting: spec.setting,
        development: false,
        get blob(): BlobServiceClient {
          if (!spec.blobServiceUri) throw missing('blob');
          return (blob ??= new (sdk().BlobServiceClient)(spec.blobServiceUri, credential, pipeline));
        },
        get queue(): QueueServiceClient {
          if (!spec.queueServiceUri) throw missing('queue');
          return (queue ??= new (sdk().QueueServiceClient)(spec.queueServiceUri, credential, pipeline));
        },
      };
    }
  }
}
