/**
 * BlobStaging over Azure Blob Storage (Azurite locally): each extracted page is one block blob of
 * gzip-compressed (level 1) JSON, column-oriented (see {@link serializePage}), named
 * `{flow}/{runId}/{source}-{target}/{table}/{page:000000}.jsonl.gz`. The name is deterministic,
 * so a retried extract overwrites its own page instead of adding one. Reports of full compares
 * live beside the pages (`writeJson`/`readJson`, e.g. `{flow}/{runId}/report.json`) and are not
 * touched by page listing, deletion or retention.
 */
import { STATUS_CODES } from 'node:http';
import { promisify } from 'node:util';
import { gunzip, gunzipSync, gzip, gzipSync } from 'node:zlib';
import { DefaultAzureCredential } from '@azure/identity';
import type {
  BatchSubResponse,
  BlobBatchClient,
  BlobItem,
  ContainerClient,
  StoragePipelineOptions,
} from '@azure/storage-blob';
import { BlobServiceClient, RestError } from '@azure/storage-blob';
import { downloadWhole } from './blobDownload.js';
import { SyncError } from '../sync/errors.js';
import type { SqlValue, SyncRow } from '../sync/model.js';
import type { BlobStaging, PageRef, StagedPage } from '../sync/ports.js';
import { rowShape } from '../sync/rowShape.js';

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

/**
 * What a storage error says, never empty: the SDK's RestError message is the service's
 * `<Message>`, so a 500/503 without an error body (a broken emulator) or any failed HEAD would
 * otherwise read as "". Status and reason, the service's error code, the text when there is one.
 */
export function describeBlobError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const err = e as Error & { statusCode?: number; code?: string };
  const status = typeof err.statusCode === 'number' ? err.statusCode : undefined;
  const head =
    status !== undefined
      ? [String(status), STATUS_CODES[status], err.code].filter((s) => s !== undefined && s !== '').join(' ')
      : (err.code ?? '');
  const text = err.message.trim() !== '' ? err.message.trim() : status !== undefined ? 'no error body' : '';
  return [head, text].filter((s) => s !== '').join(': ') || err.name;
}

/** Translates storage errors (HTTP status / Node socket codes) into the taxonomy. */
export function translateBlobError(e: unknown, what: string): SyncError {
  if (e instanceof SyncError) return e;
  const message = `${what}: ${describeBlobError(e)}`;
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

/** First bytes of a column-oriented page (the legacy format starts with `{"values":`). */
const COLUMNS_FORMAT = 'region-sync/page-columns-1';

/**
 * The column names every row of the page carries, or null when rows differ in which columns they
 * carry (presence matters: the residency guard refuses a forbidden column even when null).
 */
function sharedColumns(rows: readonly SyncRow[]): string[] | null {
  const first = rows[0];
  if (first === undefined) return [];
  const columns = Object.keys(first.values);
  const n = columns.length;
  for (const r of rows) {
    const v = r.values;
    let count = 0;
    for (const c in v) {
      if (!Object.prototype.hasOwnProperty.call(v, c)) continue;
      if (v[c] === undefined) return null;
      count++;
    }
    if (count !== n) return null;
    for (let i = 0; i < n; i++)
      if (!Object.prototype.hasOwnProperty.call(v, columns[i] as string)) return null;
  }
  return columns;
}

/**
 * A page's text before compression. Column-oriented when every row carries the same columns (the
 * normal case): one JSON document `{"format", "columns", "rows"}` where each row is the array of
 * its values in `columns` order followed by modifiedAt, originRegion and isDeleted — column names
 * once instead of once a row, and one parse instead of one a line. Pages whose rows carry
 * different column sets stay JSON lines of whole rows, so which columns a row carries survives.
 */
export function serializePage(rows: readonly SyncRow[]): string {
  const columns = sharedColumns(rows);
  if (columns === null) {
    let text = '';
    for (const r of rows) text += `${JSON.stringify(r)}\n`;
    return text;
  }
  const shape = rowShape(columns);
  const n = columns.length;
  const out: SqlValue[][] = new Array<SqlValue[]>(rows.length);
  for (let j = 0; j < rows.length; j++) {
    const r = rows[j] as SyncRow;
    const a = new Array<SqlValue>(n + 3);
    shape.read(r.values, a);
    a[n] = r.modifiedAt;
    a[n + 1] = r.originRegion;
    a[n + 2] = r.isDeleted;
    out[j] = a;
  }
  return `${JSON.stringify({ format: COLUMNS_FORMAT, columns, rows: out })}\n`;
}

function malformed(blob: string): SyncError {
  return new SyncError('schema', `staged page ${blob} holds a malformed row`);
}

function parseColumns(doc: unknown, blob: string): SyncRow[] {
  const { columns, rows } = doc as { columns: unknown; rows: unknown };
  if (!Array.isArray(columns) || !Array.isArray(rows) || !columns.every((c) => typeof c === 'string'))
    throw malformed(blob);
  const shape = rowShape(columns);
  const n = columns.length;
  const out: SyncRow[] = new Array<SyncRow>(rows.length);
  for (let j = 0; j < rows.length; j++) {
    const a: unknown = rows[j];
    if (!Array.isArray(a) || a.length !== n + 3) throw malformed(blob);
    const modifiedAt: unknown = a[n];
    const originRegion: unknown = a[n + 1];
    const isDeleted: unknown = a[n + 2];
    if (typeof modifiedAt !== 'string' || typeof originRegion !== 'string' || typeof isDeleted !== 'boolean')
      throw malformed(blob);
    for (let i = 0; i < n; i++) {
      const v: unknown = a[i];
      if (v !== null && typeof v === 'object') throw malformed(blob);
    }
    out[j] = { values: shape.build(a), modifiedAt, originRegion, isDeleted };
  }
  return out;
}

/** Rows of a page's text (either format); `blob` names the page in errors. */
export function parsePage(text: string, blob: string): SyncRow[] {
  if (text.startsWith(`{"format":"${COLUMNS_FORMAT}"`)) return parseColumns(JSON.parse(text), blob);
  const rows: SyncRow[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const parsed: unknown = JSON.parse(line);
    if (!isSyncRow(parsed)) throw malformed(blob);
    rows.push(parsed);
  }
  return rows;
}

/** Compression level of staged pages (see bench/batchSyncStages.ts for the measurements). */
export const STAGING_GZIP_LEVEL = 1;

/** A page body as staged (synchronous; benchmarks and tests). */
export function encodePage(rows: readonly SyncRow[], options: { level?: number } = {}): Buffer {
  return gzipSync(Buffer.from(serializePage(rows), 'utf8'), { level: options.level ?? STAGING_GZIP_LEVEL });
}

/** Rows of a staged page body (synchronous; benchmarks and tests). */
export function decodePage(body: Buffer, blob = '(page)'): SyncRow[] {
  return parsePage(gunzipSync(body).toString('utf8'), blob);
}

export interface BlobStagingOptions {
  /** Connection string (`UseDevelopmentStorage=true` included). */
  readonly connectionString?: string | null;
  /** Blob endpoint for identity-based access (managed identity via DefaultAzureCredential). */
  readonly accountUrl?: string | null;
  /** A ready service client (tests, custom pipelines); wins over the two above. */
  readonly serviceClient?: BlobServiceClient;
  readonly container: string;
  /** Names per listing request (retention lists the whole container); default 5000, the service's maximum. */
  readonly listPageSize?: number;
}

const PAGE_SUFFIX = '.jsonl.gz';
/** Sub-requests of one Blob Batch request: the service's maximum. */
const BATCH_DELETES = 256;

interface ListedPage {
  readonly name: string;
  readonly lastModified: Date;
}

export class AzureBlobStaging implements BlobStaging {
  private readonly container: ContainerClient;
  /** The same container through a client that does not retry: health probes answer at once. */
  private readonly probeContainer: ContainerClient;
  private readonly batch: BlobBatchClient;
  private readonly listPageSize: number;
  private initialised: Promise<void> | null = null;

  constructor(options: BlobStagingOptions) {
    const client = (pipeline: StoragePipelineOptions) =>
      options.serviceClient ??
      (options.accountUrl !== undefined && options.accountUrl !== null
        ? new BlobServiceClient(options.accountUrl, new DefaultAzureCredential(), pipeline)
        : BlobServiceClient.fromConnectionString(
            options.connectionString ?? 'UseDevelopmentStorage=true',
            pipeline,
          ));
    this.container = client({}).getContainerClient(options.container);
    this.probeContainer = client({ retryOptions: { maxTries: 1 } }).getContainerClient(options.container);
    this.batch = this.container.getBlobBatchClient();
    this.listPageSize = options.listPageSize ?? 5000;
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

  /**
   * Health: the container answers now (one try, a few seconds at most, unlike the retrying
   * writes). Throws the translated error naming the status and reason.
   */
  async probe(timeoutMs = 3000): Promise<void> {
    try {
      await this.probeContainer.getProperties({ abortSignal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) return; // created on first write
      throw translateBlobError(e, `container ${this.container.containerName} at ${this.container.url}`);
    }
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
      const raw = await downloadWhole(this.container.getBlockBlobClient(name));
      return JSON.parse(raw.toString('utf8')) as unknown;
    } catch (e) {
      throw translateBlobError(e, `read ${name}`);
    }
  }

  async writePage(ref: PageRef, rows: readonly SyncRow[]): Promise<StagedPage> {
    // Encoded before anything is awaited, and this frame awaits nothing: the rows then die young
    // instead of being kept alive through the compression and the upload (tens of ms on a busy
    // host) into a page worker's old generation, which only full collections clear.
    return this.upload(ref, Buffer.from(serializePage(rows), 'utf8'), rows.length);
  }

  private async upload(ref: PageRef, text: Buffer, rows: number): Promise<StagedPage> {
    await this.init();
    const blob = AzureBlobStaging.pageName(ref);
    const body = await gzipAsync(text, { level: STAGING_GZIP_LEVEL });
    try {
      await this.container.getBlockBlobClient(blob).uploadData(body, {
        blobHTTPHeaders: { blobContentType: 'application/x-ndjson', blobContentEncoding: 'gzip' },
        metadata: { rows: String(rows) },
      });
    } catch (e) {
      throw translateBlobError(e, `write ${blob}`);
    }
    return { blob, rows, bytes: body.length };
  }

  async readPage(blob: string): Promise<SyncRow[]> {
    await this.init();
    let compressed: Buffer;
    try {
      compressed = await downloadWhole(this.container.getBlockBlobClient(blob));
    } catch (e) {
      throw translateBlobError(e, `read ${blob}`);
    }
    return parsePage((await gunzipAsync(compressed)).toString('utf8'), blob);
  }

  /**
   * The page blobs under `prefix`, one listing page at a time (at most `listPageSize` names), so
   * that a caller can act on each page before the next is fetched.
   */
  private async *pageListings(prefix: string | undefined): AsyncGenerator<ListedPage[]> {
    await this.init();
    const pages = this.container
      .listBlobsFlat(prefix === undefined ? {} : { prefix })
      .byPage({ maxPageSize: this.listPageSize });
    for (;;) {
      let next: IteratorResult<{ segment: { blobItems: BlobItem[] } }>;
      try {
        next = await pages.next();
      } catch (e) {
        throw translateBlobError(e, `list ${prefix ?? '(all)'}`);
      }
      if (next.done === true) return;
      yield next.value.segment.blobItems
        .filter((b) => b.name.endsWith(PAGE_SUFFIX))
        .map((b) => ({ name: b.name, lastModified: b.properties.lastModified }));
    }
  }

  async listRunPages(flow: string, runId: string): Promise<string[]> {
    const names: string[] = [];
    for await (const listed of this.pageListings(`${segment('flow', flow)}/${segment('run id', runId)}/`))
      for (const b of listed) names.push(b.name);
    return names.sort();
  }

  /**
   * Deletes blobs with the Blob Batch API, {@link BATCH_DELETES} per request; returns how many it
   * deleted. One already gone (404) is not counted; with `unmodifiedSince`, neither is one
   * rewritten since then (412: a retried extract made it new again).
   */
  private async deleteAll(names: readonly string[], unmodifiedSince?: Date): Promise<number> {
    let n = 0;
    for (let i = 0; i < names.length; i += BATCH_DELETES) {
      const chunk = names.slice(i, i + BATCH_DELETES);
      let subResponses: BatchSubResponse[];
      try {
        ({ subResponses } = await this.batch.deleteBlobs(
          chunk.map((name) => this.container.getBlobClient(name)),
          unmodifiedSince === undefined ? {} : { conditions: { ifUnmodifiedSince: unmodifiedSince } },
        ));
      } catch (e) {
        throw translateBlobError(e, `delete ${chunk.length} blobs from ${chunk[0] ?? ''}`);
      }
      for (const sub of subResponses) {
        if (sub.status === 202) n++;
        else if (sub.status !== 404 && sub.status !== 412)
          throw translateBlobError(
            new RestError(sub.statusMessage, { statusCode: sub.status, code: sub.errorCode }),
            `delete ${sub._request.url}`,
          );
      }
    }
    return n;
  }

  async deleteRun(flow: string, runId: string): Promise<number> {
    return this.deleteAll(await this.listRunPages(flow, runId));
  }

  /**
   * Deletes as it lists, one listing page at a time (memory stays bounded by the page size
   * however large the container). Each delete is conditional on the blob not having changed
   * since the cutoff, so a page rewritten after it was listed stays.
   */
  async purgeOlderThan(cutoff: string): Promise<number> {
    const limit = Date.parse(cutoff);
    if (Number.isNaN(limit))
      throw new SyncError('invalid-config', `invalid cutoff ${JSON.stringify(cutoff)}`);
    // Whole seconds: the condition travels as an HTTP date, which has none smaller.
    const before = new Date(Math.floor(limit / 1000) * 1000);
    let n = 0;
    for await (const listed of this.pageListings(undefined)) {
      const old = listed.filter((b) => b.lastModified < before).map((b) => b.name);
      n += await this.deleteAll(old, before);
    }
    return n;
  }
}
