/**
 * BlobStaging over @azure/storage-blob: each extracted page is one block blob of gzip JSON lines
 * (one SyncRow a line) at `{flow}/{runId}/{source}-{target}/{table}/{page:000000}.jsonl.gz`.
 * Writing the same page again overwrites it, so a retried extract is harmless. Reports of full
 * compares live beside the pages under `{flow}/{runId}/report.json`.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { ContainerClient } from '@azure/storage-blob';
import { BlobServiceClient, RestError } from '@azure/storage-blob';
import { SyncError } from '../sync/errors.js';
import type { SyncRow } from '../sync/model.js';
import type { BlobStaging, PageRef, StagedPage } from '../sync/ports.js';

/** Translates storage errors into the taxonomy (STYLE §7) through an allow-list of statuses. */
export function translateBlobError(e: unknown, what: string): SyncError {
  if (e instanceof SyncError) return e;
  const message = `${what}: ${e instanceof Error ? e.message : String(e)}`;
  const status = e instanceof RestError ? e.statusCode : undefined;
  const code = (e as { code?: unknown })?.code;
  if (status === 404) return new SyncError('not-found', message, { cause: e });
  if (status === 401 || status === 403) return new SyncError('auth', message, { cause: e });
  if (status === 429 || status === 503) return new SyncError('throttled', message, { cause: e });
  if (status === 408 || status === 500) return new SyncError('timeout', message, { cause: e });
  if (
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ETIMEDOUT' ||
    code === 'REQUEST_SEND_ERROR'
  )
    return new SyncError('connection', message, { cause: e });
  return new SyncError('unknown', message, { cause: e });
}

export interface BlobStagingOptions {
  /** Connection string (UseDevelopmentStorage=true included), or a ready service client. */
  readonly connectionString?: string;
  readonly serviceClient?: BlobServiceClient;
  readonly container: string;
}

const pad = (n: number) => String(n).padStart(6, '0');

export class AzureBlobStaging implements BlobStaging {
  private readonly container: ContainerClient;
  private initialised: Promise<void> | null = null;

  constructor(options: BlobStagingOptions) {
    const service =
      options.serviceClient ??
      BlobServiceClient.fromConnectionString(options.connectionString ?? 'UseDevelopmentStorage=true');
    this.container = service.getContainerClient(options.container);
  }

  async init(): Promise<void> {
    this.initialised ??= this.container
      .createIfNotExists()
      .then(() => undefined)
      .catch((e: unknown) => {
        this.initialised = null;
        throw translateBlobError(e, `create container ${this.container.containerName}`);
      });
    return this.initialised;
  }

  static pageName(ref: PageRef): string {
    return `${ref.flow}/${ref.runId}/${ref.source}-${ref.target}/${ref.table}/${pad(ref.page)}.jsonl.gz`;
  }

  async writePage(ref: PageRef, rows: readonly SyncRow[]): Promise<StagedPage> {
    await this.init();
    const blob = AzureBlobStaging.pageName(ref);
    const body = gzipSync(Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n'), 'utf8'), { level: 1 });
    try {
      await this.container.getBlockBlobClient(blob).uploadData(body, {
        blobHTTPHeaders: { blobContentType: 'application/x-ndjson', blobContentEncoding: 'gzip' },
      });
    } catch (e) {
      throw translateBlobError(e, `stage ${blob}`);
    }
    return { blob, rows: rows.length, bytes: body.length };
  }

  async readPage(blob: string): Promise<SyncRow[]> {
    await this.init();
    let raw: Buffer;
    try {
      raw = await this.container.getBlockBlobClient(blob).downloadToBuffer();
    } catch (e) {
      throw translateBlobError(e, `read staged ${blob}`);
    }
    const text = gunzipSync(raw).toString('utf8');
    return text === '' ? [] : text.split('\n').map((line) => JSON.parse(line) as SyncRow);
  }

  async writeJson(name: string, value: unknown): Promise<string> {
    await this.init();
    const body = Buffer.from(JSON.stringify(value, null, 2), 'utf8');
    try {
      await this.container
        .getBlockBlobClient(name)
        .uploadData(body, { blobHTTPHeaders: { blobContentType: 'application/json' } });
    } catch (e) {
      throw translateBlobError(e, `write ${name}`);
    }
    return name;
  }

  async readJson(name: string): Promise<unknown> {
    await this.init();
    try {
      const raw = await this.container.getBlockBlobClient(name).downloadToBuffer();
      return JSON.parse(raw.toString('utf8')) as unknown;
    } catch (e) {
      throw translateBlobError(e, `read ${name}`);
    }
  }

  async listRunPages(flow: string, runId: string): Promise<string[]> {
    await this.init();
    const names: string[] = [];
    try {
      for await (const b of this.container.listBlobsFlat({ prefix: `${flow}/${runId}/` }))
        if (b.name.endsWith('.jsonl.gz')) names.push(b.name);
    } catch (e) {
      throw translateBlobError(e, `list ${flow}/${runId}`);
    }
    return names.sort();
  }

  async deleteRun(flow: string, runId: string): Promise<number> {
    const names = await this.listRunPages(flow, runId);
    for (const n of names)
      await this.container.deleteBlob(n).catch((e: unknown) => {
        throw translateBlobError(e, `delete ${n}`);
      });
    return names.length;
  }

  async purgeOlderThan(cutoff: string): Promise<number> {
    await this.init();
    const limit = Date.parse(cutoff);
    let n = 0;
    try {
      for await (const b of this.container.listBlobsFlat()) {
        if (b.name.endsWith('.jsonl.gz') && (b.properties.lastModified?.getTime() ?? Infinity) < limit) {
          await this.container.deleteBlob(b.name);
          n++;
        }
      }
    } catch (e) {
      throw translateBlobError(e, 'purge staged pages');
    }
    return n;
  }
}
