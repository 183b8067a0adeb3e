/**
 * BlobStaging over Azure Blob Storage (Azurite locally): each extracted page is one block blob of
 * gzip-compressed JSON lines (one SyncRow a line), named
 * `{flow}/{runId}/{source}-{target}/{table}/{page:000000}.jsonl.gz`. The name is deterministic,
 * so a retried extract overwrites its own page instead of adding one. Reports of full compares
 * live beside the pages (`writeJson`/`readJson`, e.g. `{flow}/{runId}/report.json`) and are not
 * touched by page listing, deletion or retention.
 */
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { DefaultAzureCredential } from '@azure/identity';
import type { ContainerClient } from '@azure/storage-blob';
import { BlobServiceClient, RestError } from '@azure/storage-blob';
import { SyncError } from '../sync/errors.js';
import type { SyncRow } from '../sync/model.js';
import type { BlobStaging, PageRef, StagedPage } from '../sync/ports.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Blob name segments come from config and run ids: no `/`, no `..`, nothing surprising. */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$/;

function segment(kind: string, value: string): string {
  if (!SEGMENT.test(value) || value.includes('..')) {
    throw new SyncError('invalid-config', `refused ${kind} ${JSON.stringify(value)} in a staging blob name`);
  }
  return value;
}

/** Translates storage errors (HTTP status / Node socket codes) into the taxonomy. */
export function translateBlobError(e: unknown, what: string): SyncError {
  if (e instanceof SyncError) return e;
  const message = `${what}: ${e instanceof Error ? e.message : String(e)}`;
  if (e instanceof RestError || (typeof e === 'object' && e !== null && 'statusCode' in e)) {
    const status = (e as { statusCode?: number }).statusCode;
    if (status === 404) return new SyncError('not-found', message, { cause: e });
    if (status === 401 || status === 403) return new SyncError('auth', message, { cause: e });
    if (status === 409 || status === 412) return new SyncError('conflict', message, { cause: e });
    if (status === 429 || status === 503) return new SyncError('throttled', message, { cause: e });
    if (status === 408 || status === 500) return new SyncError('timeout', message, { cause: e });
    if (status !== undefined && status >= 500) return new SyncError('connection', message, { cause: e });
  }
  const code = (e as { code?: unknown } | null)?.code;
  if (
    typeof code === 'string' &&
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      'ENOTFOUND',
      'EAI_AGAIN',
      'REQUEST_SEND_ERROR',
    ].includes(code)
  ) {
    return new SyncError(code === 'ETIMEDOUT' ? 'timeout' : 'connection', message, { cause: e });
  }
  return new SyncError('unknown', message, { cause: e });
}

function isSyncRow(x: unknown): x is SyncRow {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  return (
    typeof r.values === 'object' &&
    r.values !== null &&
    typeof r.modifiedAt === 'string' &&
    typeof r.originRegion === 'string' &&
    typeof r.isDeleted === 'boolean'
  );
}

export interface BlobStagingOptions {
  /** Connection string (`UseDevelopmentStorage=true` included). */
  readonly connectionString?: string | null;
  /** Blob endpoint for identity-based access (managed identity via DefaultAzureCredential). */
  readonly accountUrl?: string | null;
  /** A ready service client (tests, custom pipelines); wins over the two above. */
  readonly serviceClient?: BlobServiceClient;
  readonly container: string;
}

const PAGE_SUFFIX = '.jsonl.gz';

export class AzureBlobStaging implements BlobStaging {
  private readonly container: ContainerClient;
  private initialised: Promise<void> | null = null;

  constructor(options: BlobStagingOptions) {
    const service =
      options.serviceClient ??
      (options.accountUrl !== undefined && options.accountUrl !== null
        ? new BlobServiceClient(options.accountUrl, new DefaultAzureCredential())
        : BlobServiceClient.fromConnectionString(options.connectionString ?? 'UseDevelopmentStorage=true'));
    this.container = service.getContainerClient(options.container);
  }

  /** Deterministic blob name of a page; every segment is checked (no `/`, no `..`). */
  static pageName(ref: PageRef): string {
    if (!Number.isInteger(ref.page) || ref.page < 0)
      throw new SyncError('invalid-config', `invalid page ${ref.page}`);
    return [
      segment('flow', ref.flow),
      segment('run id', ref.runId),
      `${segment('source', ref.source)}-${segment('target', ref.target)}`,
      segment('table', ref.table),
      `${String(ref.page).padStart(6, '0')}${PAGE_SUFFIX}`,
    ].join('/');
  }

  /** Creates the container once per instance (memoised; a failure is retried by the next call). */
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

  /** Writes a JSON document (e.g. a reconciliation report) beside the pages; returns its name. */
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

  async writePage(ref: PageRef, rows: readonly SyncRow[]): Promise<StagedPage> {
    await this.init();
    const blob = AzureBlobStaging.pageName(ref);
    let text = '';
    for (const r of rows) text += `${JSON.stringify(r)}\n`;
    const body = await gzipAsync(Buffer.from(text, 'utf8'));
    try {
      await this.container.getBlockBlobClient(blob).uploadData(body, {
        blobHTTPHeaders: { blobContentType: 'application/x-ndjson', blobContentEncoding: 'gzip' },
        metadata: { rows: String(rows.length) },
      });
    } catch (e) {
      throw translateBlobError(e, `write ${blob}`);
    }
    return { blob, rows: rows.length, bytes: body.length };
  }

  async readPage(blob: string): Promise<SyncRow[]> {
    await this.init();
    let compressed: Buffer;
    try {
      compressed = await this.container.getBlockBlobClient(blob).downloadToBuffer();
    } catch (e) {
      throw translateBlobError(e, `read ${blob}`);
    }
    const text = (await gunzipAsync(compressed)).toString('utf8');
    const rows: SyncRow[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const parsed: unknown = JSON.parse(line);
      if (!isSyncRow(parsed)) throw new SyncError('schema', `staged page ${blob} holds a malformed row`);
      rows.push(parsed);
    }
    return rows;
  }

  private async list(prefix: string | undefined): Promise<{ name: string; lastModified: Date }[]> {
    await this.init();
    const out: { name: string; lastModified: Date }[] = [];
    try {
      for await (const b of this.container.listBlobsFlat(prefix === undefined ? {} : { prefix })) {
        if (b.name.endsWith(PAGE_SUFFIX)) out.push({ name: b.name, lastModified: b.properties.lastModified });
      }
    } catch (e) {
      throw translateBlobError(e, `list ${prefix ?? '(all)'}`);
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async listRunPages(flow: string, runId: string): Promise<string[]> {
    return (await this.list(`${segment('flow', flow)}/${segment('run id', runId)}/`)).map((b) => b.name);
  }

  private async deleteAll(names: readonly string[]): Promise<number> {
    let n = 0;
    for (const name of names) {
      try {
        const res = await this.container.getBlockBlobClient(name).deleteIfExists();
        if (res.succeeded) n++;
      } catch (e) {
        throw translateBlobError(e, `delete ${name}`);
      }
    }
    return n;
  }

  async deleteRun(flow: string, runId: string): Promise<number> {
    return this.deleteAll(await this.listRunPages(flow, runId));
  }

  async purgeOlderThan(cutoff: string): Promise<number> {
    const limit = Date.parse(cutoff);
    if (Number.isNaN(limit))
      throw new SyncError('invalid-config', `invalid cutoff ${JSON.stringify(cutoff)}`);
    const old = (await this.list(undefined))
      .filter((b) => b.lastModified.getTime() < limit)
      .map((b) => b.name);
    return this.deleteAll(old);
  }
}
