/**
 * The app's dead-letter destination for refused order events: one JSON blob per message in a
 * container of the app's own storage account (Azurite locally), `{id}.json`. Blob storage is in
 * the app's residency zone, like the queue the message came from.
 */
import { DefaultAzureCredential } from '@azure/identity';
import type { ContainerClient } from '@azure/storage-blob';
import { BlobServiceClient } from '@azure/storage-blob';
import { SyncError } from '../sync/errors.js';
import type { DeadLetteredOrderEvent, OrderDeadLetters } from '../sync/orderEvent.js';
import { downloadWhole } from './blobDownload.js';
import { translateBlobError } from './blobStaging.js';

const ID = /^[A-Za-z0-9._-]{1,200}$/;

export class BlobOrderDeadLetters implements OrderDeadLetters {
  private ready: Promise<unknown> | undefined;

  constructor(private readonly container: ContainerClient) {}

  /** From a connection string (or `UseDevelopmentStorage=true`) or an account URL + managed identity. */
  static create(options: {
    readonly connectionString: string | null;
    readonly accountUrl: string | null;
    readonly container: string;
  }): BlobOrderDeadLetters {
    const service =
      options.connectionString !== null
        ? BlobServiceClient.fromConnectionString(options.connectionString)
        : options.accountUrl !== null
          ? new BlobServiceClient(options.accountUrl, new DefaultAzureCredential())
          : null;
    if (service === null)
      throw new SyncError(
        'invalid-config',
        'order dead letters need a storage connection string or account URL',
      );
    return new BlobOrderDeadLetters(service.getContainerClient(options.container));
  }

  private async init(): Promise<void> {
    this.ready ??= this.container.createIfNotExists().catch((e: unknown) => {
      this.ready = undefined;
      throw translateBlobError(e, `create container ${this.container.containerName}`);
    });
    await this.ready;
  }

  private blob(id: string) {
    if (!ID.test(id) || id.includes('..'))
      throw new SyncError('invalid-config', `refused dead-letter id ${JSON.stringify(id)}`);
    return this.container.getBlockBlobClient(`${id}.json`);
  }

  async put(record: DeadLetteredOrderEvent): Promise<void> {
    await this.init();
    const body = Buffer.from(JSON.stringify(record), 'utf8');
    try {
      await this.blob(record.id).uploadData(body, {
        blobHTTPHeaders: { blobContentType: 'application/json' },
        metadata: { reason: record.reason, deadletteredat: record.deadLetteredAt.replace(/[^0-9TZ]/g, '') },
      });
    } catch (e) {
      throw translateBlobError(e, `write dead letter ${record.id}`);
    }
  }

  async get(id: string): Promise<DeadLetteredOrderEvent | null> {
    await this.init();
    try {
      const raw = await downloadWhole(this.blob(id));
      return JSON.parse(raw.toString('utf8')) as DeadLetteredOrderEvent;
    } catch (e) {
      const err = translateBlobError(e, `read dead letter ${id}`);
      if (err.code === 'not-found') return null;
      throw err;
    }
  }

  async list(max: number): Promise<readonly DeadLetteredOrderEvent[]> {
    await this.init();
    const names: { name: string; at: string }[] = [];
    try {
      for await (const b of this.container.listBlobsFlat({ includeMetadata: true }))
        names.push({ name: b.name, at: b.metadata?.deadletteredat ?? '' });
    } catch (e) {
      throw translateBlobError(e, 'list dead letters');
    }
    names.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : a.name < b.name ? 1 : -1));
    const out: DeadLetteredOrderEvent[] = [];
    for (const n of names.slice(0, Math.max(0, max))) {
      const r = await this.get(n.name.replace(/\.json$/, ''));
      if (r !== null) out.push(r);
    }
    return out;
  }
}
