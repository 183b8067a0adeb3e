/**
 * Where the batch pipeline spends its time, stage by stage, in one process without devhost,
 * durable or Azurite: a hub of N prices is read in keyset pages, checked, shaped for the link,
 * encoded + compressed as staging does, decompressed + decoded, and applied to a fresh spoke
 * under the conflict policy. Prints the time of each stage per row, so a change to one stage is
 * measured rather than guessed. Also compares page codecs on one real page (size and time).
 *
 * Usage: node dist/bench/batchSyncStages.js [--stage-rows 200000] [--page-size 5000]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import { decodePage, encodePage } from '../adapters/blobStaging.js';
import { openSqliteRegionStore } from '../adapters/sqliteRegionStore.js';
import { hubPrice, insertRows } from '../scripts/demoSeed.js';
import { pageOrderProblem } from '../sync/cursor.js';
import type { ChangeCursor, SyncRow } from '../sync/model.js';
import { OPEN_GUARD } from '../sync/model.js';
import { prepareOutbound } from '../sync/outbound.js';
import { loadConfig } from '../config/loadConfig.js';
import { conflictPolicyFor, flowOf, tableMappingFor } from '../sync/topology.js';

/** The embedded-default pricing flow and its cn -> sea link, as the app loads them. */
function loadTopology(root: string) {
  const config = loadConfig(
    {
      FUNCTIONS_WORKER_RUNTIME: 'node',
      REGION_SYNC_DATA_DIR: path.join(root, 'data'),
      REGION_SYNC_PSEUDONYM_KEY: randomBytes(32).toString('base64'),
    },
    { cwd: root },
  );
  const topology = config.topology;
  const flow = flowOf(topology, 'pricing');
  const table = flow.tables[0];
  if (table === undefined) throw new Error('pricing flow has no table');
  const link = { flow: flow.name, source: 'cn', target: 'sea' };
  return {
    topology,
    flow,
    link,
    hubMapping: tableMappingFor(table, 'cn'),
    spokeMapping: tableMappingFor(table, 'sea'),
    policy: conflictPolicyFor(topology, flow),
  };
}

function time<T>(acc: Record<string, number>, stage: string, fn: () => T): T {
  const t = performance.now();
  const out = fn();
  acc[stage] = (acc[stage] ?? 0) + performance.now() - t;
  return out;
}

function compareCodecs(rows: readonly SyncRow[]): void {
  const reps = 5;
  // Legacy: JSON lines of whole rows (the format before column-oriented pages), gzip level 6.
  const legacyEncode = () => {
    let text = '';
    for (const r of rows) text += `${JSON.stringify(r)}\n`;
    return zlib.gzipSync(Buffer.from(text, 'utf8'));
  };
  const legacyDecode = (b: Buffer) =>
    zlib
      .gunzipSync(b)
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as SyncRow);
  const codecs: [string, () => Buffer, (b: Buffer) => unknown][] = [
    ['legacy jsonl + gzip 6', legacyEncode, legacyDecode],
    ['columns + gzip 6', () => encodePage(rows, { level: 6 }), (b) => decodePage(b)],
    ['columns + gzip 1', () => encodePage(rows, { level: 1 }), (b) => decodePage(b)],
  ];
  for (const [name, enc, dec] of codecs) {
    let e = 0;
    let d = 0;
    let size = 0;
    for (let i = 0; i < reps; i++) {
      let t = performance.now();
      const body = enc();
      e += performance.now() - t;
      size = body.length;
      t = performance.now();
      dec(body);
      d += performance.now() - t;
    }
    console.log(
      `  ${name.padEnd(24)} ${String(size).padStart(8)} B  encode ${(e / reps).toFixed(1)} ms  decode ${(d / reps).toFixed(1)} ms`,
    );
  }
  const raw = Buffer.from(JSON.stringify(rows));
  for (const [name, enc, dec] of [
    ['gzip 1 (raw text)', (b: Buffer) => zlib.gzipSync(b, { level: 1 }), zlib.gunzipSync],
    ['gzip 6 (raw text)', (b: Buffer) => zlib.gzipSync(b, { level: 6 }), zlib.gunzipSync],
    ['deflateRaw 1', (b: Buffer) => zlib.deflateRawSync(b, { level: 1 }), zlib.inflateRawSync],
    [
      'brotli q1',
      (b: Buffer) => zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } }),
      zlib.brotliDecompressSync,
    ],
    [
      'brotli q4',
      (b: Buffer) => zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } }),
      zlib.brotliDecompressSync,
    ],
  ] as const) {
    let t = performance.now();
    let body = Buffer.alloc(0);
    for (let i = 0; i < reps; i++) body = enc(raw);
    const e = (performance.now() - t) / reps;
    t = performance.now();
    for (let i = 0; i < reps; i++) dec(body);
    const d = (performance.now() - t) / reps;
    console.log(
      `  ${name.padEnd(24)} ${String(body.length).padStart(8)} B  compress ${e.toFixed(1)} ms  decompress ${d.toFixed(1)} ms  (of ${raw.length} B text)`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'stage-rows': { type: 'string', default: '200000' },
      'page-size': { type: 'string', default: '5000' },
    },
    strict: false, // flags of batchSync (run by the same `npm run bench -- batchSync`) pass through
  });
  const n = Number(values['stage-rows']);
  const pageSize = Number(values['page-size']);
  const root = mkdtempSync(path.join(os.tmpdir(), 'batch-stages-'));
  const { topology, flow, link, hubMapping, spokeMapping, policy } = loadTopology(root);
  const hub = openSqliteRegionStore({ region: link.source, file: path.join(root, 'cn.db') });
  const spoke = openSqliteRegionStore({ region: link.target, file: path.join(root, 'sea.db') });
  try {
    await hub.migrate([hubMapping]);
    await spoke.migrate([spokeMapping]);
    insertRows(
      hub.database,
      hubMapping.table,
      Array.from({ length: n }, (_, i) => hubPrice(i, '2026-01-01T00:00:00.000Z')),
    );
    const acc: Record<string, number> = {};
    let after: ChangeCursor | null = null;
    let moved = 0;
    let pages = 0;
    let sample: SyncRow[] | null = null;
    const t0 = performance.now();
    for (;;) {
      const page = await time(acc, 'readChanges', () =>
        hub.readChanges({ table: hubMapping, after, limit: pageSize }),
      );
      const problem = time(acc, 'pageOrderProblem', () => pageOrderProblem(page.rows, after));
      if (problem !== null) throw new Error(problem);
      const out = time(acc, 'prepareOutbound', () =>
        prepareOutbound(page.rows, topology, flow, link, hubMapping.canonical, { pseudonymKey: null }),
      );
      sample ??= out.rows;
      const body = time(acc, 'encode+compress', () => encodePage(out.rows));
      const rows = time(acc, 'decompress+decode', () => decodePage(body));
      const res = await time(acc, 'applyPage', () =>
        spoke.applyPage({
          table: spokeMapping,
          rows,
          policy,
          guard: OPEN_GUARD,
          checkpoint: {
            ...link,
            table: hubMapping.canonical,
            cursor: page.nextCursor as ChangeCursor,
            runId: 'bench',
            updatedAt: '2026-01-01T00:00:00.000Z',
          },
          audit: {
            ...link,
            runId: 'bench',
            table: hubMapping.canonical,
            policy: 'lww',
            at: '2026-01-01T00:00:00.000Z',
          },
        }),
      );
      if (res.kind !== 'applied') throw new Error(res.detail);
      moved += rows.length;
      pages++;
      after = page.nextCursor;
      if (!page.hasMore) break;
    }
    const total = performance.now() - t0;
    if (moved !== n) throw new Error(`moved ${moved}, expected ${n}`);
    console.log(
      `${n} rows, ${pages} pages of ${pageSize}: ${Math.round((n / total) * 1000)} rows/s in-process`,
    );
    for (const [stage, ms] of Object.entries(acc))
      console.log(
        `  ${stage.padEnd(20)} ${ms.toFixed(0).padStart(6)} ms  ${((ms * 1000) / n).toFixed(2)} us/row  ${((100 * ms) / total).toFixed(0)}%`,
      );
    console.log(`codecs on one page of ${sample?.length ?? 0} rows:`);
    compareCodecs(sample ?? []);
  } finally {
    await hub.close();
    await spoke.close();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
