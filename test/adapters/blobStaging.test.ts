import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient, StorageSharedKeyCredential, newPipeline } from '@azure/storage-blob';
import { AzureBlobStaging } from '../../adapters/blobStaging.js';
import { SyncError } from '../../sync/errors.js';
import type { SyncRow } from '../../sync/model.js';
import type { PageRef } from '../../sync/ports.js';
import type { RunningAzurite } from '../support/storeAzurite.js';
import { startAzuriteBlob } from '../support/storeAzurite.js';
import { priceRow } from '../support/syncFixtures.js';

describe('BlobStaging conformance: Azurite (in-process, in-memory, free loopback port)', () => {
  let azurite: RunningAzurite;
  let staging: AzureBlobStaging;
  const ref = (page: number, runId = 'pricing-2026-11-27', target = 'sea'): PageRef => ({
    flow: 'pricing',
    runId,
    table: 'price_list',
    source: 'cn',
    target,
    page,
  });

  before(async () => {
    azurite = await startAzuriteBlob();
    staging = new AzureBlobStaging({ connectionString: azurite.connectionString, container: 'sync-staging' });
    await staging.init();
    await staging.init(); // idempotent
  });
  after(async () => {
    await azurite.stop();
  });

  it('writes a page as gzip JSON lines and reads the same rows back', async () => {
    const rows: SyncRow[] = Array.from({ length: 500 }, (_, i) => priceRow(i));
    rows.push({
      ...priceRow(9),
      values: { ...priceRow(9).values, price_book: 'line\nbreak "quoted" ✓ 字段' },
      isDeleted: true,
    });
    const staged = await staging.writePage(ref(0), rows);
    assert.equal(staged.rows, 501);
    assert.ok(staged.bytes > 0 && staged.bytes < JSON.stringify(rows).length / 3, 'compressed');
    assert.deepEqual(await staging.readPage(staged.blob), rows);
    // Really gzip JSON lines on the wire.
    const raw = await BlobServiceClient.fromConnectionString(azurite.connectionString)
      .getContainerClient('sync-staging')
      .getBlockBlobClient(staged.blob)
      .downloadToBuffer();
    assert.deepEqual([...raw.subarray(0, 2)], [0x1f, 0x8b]);
  });

  it('reads a staged page in one request (no properties round trip before the body)', async () => {
    const requests: string[] = [];
    const part = (key: string) => new RegExp(`${key}=([^;]+)`).exec(azurite.connectionString)?.[1] ?? '';
    const pipeline = newPipeline(new StorageSharedKeyCredential(part('AccountName'), part('AccountKey')));
    pipeline.factories.unshift({
      create: (next) => ({
        sendRequest: (request) => {
          requests.push(request.method);
          return next.sendRequest(request);
        },
      }),
    });
    const counted = new BlobServiceClient(part('BlobEndpoint'), pipeline);
    const reader = new AzureBlobStaging({ serviceClient: counted, container: 'sync-staging' });
    await reader.init();
    const staged = await staging.writePage(ref(7), [priceRow(1), priceRow(2)]);
    requests.length = 0;
    assert.deepEqual(await reader.readPage(staged.blob), [priceRow(1), priceRow(2)]);
    assert.deepEqual(requests, ['GET']);
  });

  it('rewriting a page replaces it (retried extract), and empty pages round-trip', async () => {
    const a = await staging.writePage(ref(1), [priceRow(1)]);
    const b = await staging.writePage(ref(1), [priceRow(2), priceRow(3)]);
    assert.equal(a.blob, b.blob);
    assert.deepEqual(await staging.readPage(b.blob), [priceRow(2), priceRow(3)]);
    const empty = await staging.writePage(ref(2), []);
    assert.deepEqual(await staging.readPage(empty.blob), []);
  });

  it("lists a run's pages in order and deletes only that run", async () => {
    const run = 'orders-2026-11-28';
    for (const p of [2, 0, 10, 1]) await staging.writePage(ref(p, run), [priceRow(p)]);
    // A report beside the pages is not a page: not listed, not deleted with them.
    await staging.writeJson(`pricing/${run}/report.json`, { matched: 4 });
    await staging.writePage(ref(0, `${run}-other`), [priceRow(0)]);
    const pages = await staging.listRunPages('pricing', run);
    assert.equal(pages.length, 4);
    assert.deepEqual(pages, [...pages].sort());
    assert.ok(pages[3]!.endsWith('/000010.jsonl.gz'));
    assert.equal(await staging.deleteRun('pricing', run), 4);
    assert.deepEqual(await staging.listRunPages('pricing', run), []);
    assert.equal((await staging.listRunPages('pricing', `${run}-other`)).length, 1);
    assert.deepEqual(await staging.readJson(`pricing/${run}/report.json`), { matched: 4 });
  });

  it('retention purges pages older than the cutoff and keeps newer ones', async () => {
    await staging.writePage(ref(0, 'retention-run'), [priceRow(1)]);
    assert.equal(await staging.purgeOlderThan('2000-01-01T00:00:00.000Z'), 0);
    assert.ok((await staging.listRunPages('pricing', 'retention-run')).length === 1);
    const future = new Date(Date.now() + 60_000).toISOString();
    assert.ok((await staging.purgeOlderThan(future)) >= 1);
    assert.deepEqual(await staging.listRunPages('pricing', 'retention-run'), []);
  });

  it('purges older pages in batches as it lists, page by page, never reports nor a page rewritten since', async () => {
    // Requests through a second client of the same container: listing pages of 100 names.
    const requests: string[] = [];
    let beforeFirstDelete: (() => Promise<void>) | null = null;
    const part = (key: string) => new RegExp(`${key}=([^;]+)`).exec(azurite.connectionString)?.[1] ?? '';
    const pipeline = newPipeline(new StorageSharedKeyCredential(part('AccountName'), part('AccountKey')));
    pipeline.factories.unshift({
      create: (next) => ({
        sendRequest: async (request) => {
          const url = new URL(request.url);
          requests.push(`${request.method} ${url.searchParams.get('comp') ?? url.pathname}`);
          if (request.method === 'POST' && beforeFirstDelete !== null) {
            const hook = beforeFirstDelete;
            beforeFirstDelete = null;
            await hook();
          }
          return next.sendRequest(request);
        },
      }),
    });
    const purger = new AzureBlobStaging({
      serviceClient: new BlobServiceClient(part('BlobEndpoint'), pipeline),
      container: 'sync-staging',
      listPageSize: 100,
    });
    await purger.init();
    await purger.purgeOlderThan(new Date(Date.now() + 2000).toISOString()); // earlier tests' pages

    const old = Array.from({ length: 300 }, (_, i) => ref(i, 'purge-old'));
    for (const r of old) await staging.writePage(r, [priceRow(r.page)]);
    await staging.writeJson('pricing/purge-old/report.json', { matched: 300 });
    // The cutoff: a whole second after the old pages (listing times have whole seconds).
    const cutoff = new Date(Math.floor(Date.now() / 1000) * 1000 + 1000);
    await new Promise((r) => setTimeout(r, cutoff.getTime() + 50 - Date.now()));
    for (const p of [0, 1]) await staging.writePage(ref(p, 'purge-new'), [priceRow(p)]);

    // A retried extract rewrites an old page after the purge listed it: it is new again and stays
    // (a second after the cutoff: conditions compare whole seconds).
    beforeFirstDelete = async () => {
      await new Promise((r) => setTimeout(r, cutoff.getTime() + 1050 - Date.now()));
      await staging.writePage(ref(5, 'purge-old'), [priceRow(5)]);
    };
    requests.length = 0;
    assert.equal(await purger.purgeOlderThan(cutoff.toISOString()), 299);
    assert.deepEqual(await staging.listRunPages('pricing', 'purge-old'), [
      AzureBlobStaging.pageName(ref(5, 'purge-old')),
    ]);
    assert.equal((await staging.listRunPages('pricing', 'purge-new')).length, 2);
    assert.deepEqual(await staging.readJson('pricing/purge-old/report.json'), { matched: 300 });
    // Four listing requests (303 names, 100 a page), each followed by one batch of its old pages.
    assert.deepEqual(
      requests,
      ['list', 'batch', 'list', 'batch', 'list', 'batch', 'list', 'batch'].map((c) =>
        c === 'list' ? 'GET list' : 'POST batch',
      ),
    );
  });

  it('reports a missing page as a non-retryable not-found, and refuses path tricks in names', async () => {
    await assert.rejects(
      staging.readPage('pricing/none/price_list/cn-sea/00000000.jsonl.gz'),
      (e: unknown) => {
        return e instanceof SyncError && e.code === 'not-found' && !e.retryable;
      },
    );
    await assert.rejects(
      staging.writePage(ref(0, '../../etc'), []),
      (e: unknown) => e instanceof SyncError && e.code === 'invalid-config',
    );
    await assert.rejects(
      staging.writePage({ ...ref(0), table: 'a/b' }, []),
      (e: unknown) => e instanceof SyncError,
    );
  });
});
