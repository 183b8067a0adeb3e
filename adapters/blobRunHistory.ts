/**
 * Run history in the app's own storage account (Azurite locally): one JSON blob per run in its own
 * container, named `{flow}/{inverted start ms}_{runId}.json`. The inverted start time makes the
 * service's lexical listing newest first, so a page of history is one list call with the
 * service's own continuation marker; records of one flow share a prefix. Why blob and not a
 * regional database: the record is operational data of this app (in its zone's storage, like the
 * Durable task hub), the SQL stores hold business data of the regions, and blob works the same on
 * Azurite, Azure Storage and Azure operated by 21Vianet with the identity the app already has.
 */
import { DefaultAzureCredential } from '@azure/identity';
import type { ContainerClient } from '@azure/storage-blob';
import { BlobServiceClient } from '@azure/storage-blob';
import { SyncError } from '../sync/errors.js';
import type { RunHistory, RunPage, RunRecord } from '../sync/runHistory.js';
import { runIdStart } from '../sync/runHistory.js';
import { downloadWhole } from './blobDownload.js';
import { translateBlobError } from './blobStaging.js';

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,199}$/;
/** 13 digits cover every millisecond timestamp up to the year 2286. */
const MAX_MS = 9_999_999_999_999;

function checked(kind: string, value: string): string {
  if (!SEGMENT.test(value) || value.includes('..'))
    throw new SyncError('invalid-config', `refused ${kind} ${JSON.stringify(value)} in a run history name`);
  return value;
}

export interface BlobRunHistoryOptions {
  readonly connectionString?: string | null;
  readonly accountUrl?: string | null;
  /** A ready service client (tests); wins over the two above. */
  readonly serviceClient?: BlobServiceClient;
  readonly container: string;
}

export class BlobRunHistory implements RunHistory {
  private readonly container: ContainerClient;
  private ready: Promise<unknown> | undefined;

  constructor(options: BlobRunHistoryOptions) {
    const service =
      options.serviceClient ??
      (options.accountUrl !== undefined && options.accountUrl !== null
        ? new BlobServiceClient(options.accountUrl, new DefaultAzureCredential())
        : BlobServiceClient.fromConnectionString(options.connectionString ?? 'UseDevelopmentStorage=true'));
    this.container = service.getContainerClient(options.container);
  }

  /** `{flow}/{inverted ms}_{runId}.json`; the start comes from the run id, so get needs no lookup. */
  static blobName(flow: string, runId: string): string {
    const start = runIdStart(checked('run id', runId));
    if (start === null)
      throw new SyncError('invalid-config', `run id ${JSON.stringify(runId)} has no start time`);
    const inverted = String(MAX_MS - start.getTime()).padStart(13, '0');
    return `${checked('flow', flow)}/${inverted}_${runId}.json`;
  }

  private async init(): Promise<void> {
    this.ready ??= this.container.createIfNotExists().catch((e: unknown) => {
      this.ready = undefined;
      throw translateBlobError(e, `create container ${this.container.containerName}`);
    });
    await this.ready;
  }

  async put(record: RunRecord): Promise<void> {
    await this.init();
    const name = BlobRunHistory.blobName(record.flow, record.runId);
    try {
      await this.container.getBlockBlobClient(name).uploadData(Buffer.from(JSON.stringify(record), 'utf8'), {
        blobHTTPHeaders: { blobContentType: 'application/json' },
      });
    } catch (e) {
      throw translateBlobError(e, `write run record ${name}`);
    }
  }

  /**
   * A record is rewritten when its run ends; Azurite can serve a read that overlaps that upload
   * cut short, so a body that is not JSON yet is read again a few times before it counts as broken.
   */
  private async read(name: string): Promise<RunRecord | null> {
    for (let attempt = 1; ; attempt++) {
      let text: string;
      try {
        text = (await downloadWhole(this.container.getBlockBlobClient(name))).toString('utf8');
      } catch (e) {
        const err = translateBlobError(e, `read run record ${name}`);
        if (err.code === 'not-found') return null;
        throw err;
      }
      try {
        return JSON.parse(text) as RunRecord;
      } catch (e) {
        if (attempt >= 5)
          throw new SyncError('schema', `run record ${name} is not JSON: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
  }

  async get(flow: string, runId: string): Promise<RunRecord | null> {
    if (runIdStart(runId) === null || !SEGMENT.test(runId)) return null;
    await this.init();
    return this.read(BlobRunHistory.blobName(flow, runId));
  }

  async list(flow: string, options: { max: number; continuation?: string | null }): Promise<RunPage> {
    await this.init();
    const max = Math.max(1, Math.min(200, Math.floor(options.max)));
    try {
      const pages = this.container.listBlobsFlat({ prefix: `${checked('flow', flow)}/` }).byPage({
        maxPageSize: max,
        ...(options.continuation ? { continuationToken: options.continuation } : {}),
      });
      const page = (await pages.next()).value as
        { segment: { blobItems: { name: string }[] }; continuationToken?: string } | undefined;
      if (page === undefined) return { runs: [], continuation: null };
      const records = await Promise.all(page.segment.blobItems.map((b) => this.read(b.name)));
      return {
        runs: records.filter((r): r is RunRecord => r !== null),
        continuation:
          page.continuationToken === undefined || page.continuationToken === ''
            ? null
            : page.continuationToken,
      };
    } catch (e) {
      throw translateBlobError(e, `list run history of ${flow}`);
    }
  }

  async pruneStartedBefore(cutoff: string): Promise<number> {
    await this.init();
    const limit = Date.parse(cutoff);
    let deleted = 0;
    try {
      for await (const b of this.container.listBlobsFlat()) {
        const m = /\/(\d{13})_/.exec(b.name);
        if (m === null || MAX_MS - Number(m[1]) >= limit) continue;
        const res = await this.container.getBlockBlobClient(b.name).deleteIfExists();
        if (res.succeeded) deleted++;
      }
    } catch (e) {
      throw translateBlobError(e, 'prune run history');
    }
    return deleted;
  }
}
