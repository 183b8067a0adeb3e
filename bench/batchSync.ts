/**
 * Batch sync throughput, scaling and responsiveness: a pricing sync of N hub rows to the three
 * spokes through the whole pipeline (HTTP start, flowSync, pairSync, extractPage -> gzip blob in
 * Azurite -> applyPage with the guarded upsert and checkpoint, on devhost with its SQLite task
 * hub), beside a plain keyset copy loop in the same run (read a page of the same hub file after the
 * cursor, insert it in one transaction into a copy file beside each spoke's). Each size runs
 * --trials times (default 2), alternating the plain loop and the pipeline (a fresh devhost over the
 * region files as seeded), and each side's fastest trial counts: this machine's speed drifts by a
 * third over minutes, and one slow trial on either side would move the ratio. For every size it
 * prints:
 * - rows/s of the pipeline and of the plain loop, and their ratio (goal: pipeline >= 60%);
 * - where the pipeline's time goes: per-activity time from devhost's `Executed` lines (a link
 *   extracts its next page while it applies one, so the two overlap), the CPU seconds of devhost
 *   per thread (main, page workers, V8 and libuv helpers) against the plain loop's;
 * - status latency while the run goes: `/api/sync/pricing/status` and the Durable status URL are
 *   each polled every --poll-ms (default 100 ms); p50/p99/max (goal: p99 <= 200 ms);
 * - the devhost process's peak RSS (Linux /proc VmHWM; goal: <= 600 MB at 3M rows), the worst trial;
 * - rows/s and cores in each fifth of a pipeline run (from the checkpoints the status shows), so a
 *   slow start shows apart from the steady rate.
 * With several sizes it ends with the time ratios between consecutive sizes (goal: linear,
 * t(3M)/t(1M) <= 3.3) and one summary table. The machine's load average is printed beside each
 * run: compare ratios measured in the same run, not absolute figures.
 *
 * Usage: node dist/bench/batchSync.js [--rows 100000,1000000,3000000] [--page-size 5000]
 *          [--poll-ms 100] [--trials 2] [--cpu-prof <dir>] [--keep]
 * A quick run: `npm run bench -- batchSync --rows 200000`. The default full scaling run takes
 * several minutes (most of it seeding and the plain loops).
 */
import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { loadConfig } from '../config/loadConfig';
import { statCpuSeconds } from '../devhost/procStat';
import { hubPrice, insertRows, seedDemo } from '../scripts/demoSeed';
import { startDevhost } from '../test/support/devhost';
import { localAppEnv } from '../test/support/localApp';

const APP_DIR = path.resolve(__dirname, '../..');
const SPOKES = ['sea', 'eu', 'latam'] as const;
const GOAL = { ratio: 60, statusP99Ms: 200, scaling: 3.3, peakRssMb: 600 } as const;
/**
 * The throughput goal is the issue's measure (1M rows, and 3M): a smaller run lasts a few
 * seconds, of which the run's start (HTTP start, plan, run record, the inbound links first, the
 * first page on cold threads: ~0.7 s before the first checkpoint moves) is a fixed share.
 */
const RATIO_GOAL_FROM_ROWS = 1_000_000;
/** A status request slower than this counts as timed out (the 10 s the issue saw). */
const STATUS_TIMEOUT_MS = 10_000;

/**
 * The baseline: keyset pages from the hub file into a fresh copy file beside a spoke's (same disk
 * and pragmas), so the runs before and after the pipeline start alike and leave the spoke alone.
 */
function plainCopy(hubFile: string, copyFile: string, pageSize: number): number {
  for (const suffix of ['', '-wal', '-shm']) rmSync(copyFile + suffix, { force: true });
  const hub = new BetterSqlite3(hubFile, { readonly: true });
  const spoke = new BetterSqlite3(copyFile);
  spoke.pragma('journal_mode = WAL');
  spoke.pragma('synchronous = NORMAL');
  const cols =
    'sku, currency, list_price, min_qty, price_book, valid_from, valid_to, modified_at, origin_region, is_deleted, change_seq';
  spoke.exec(`DROP TABLE IF EXISTS price_list_copy;
    CREATE TABLE price_list_copy (sku, currency, list_price, min_qty, price_book, valid_from, valid_to,
      modified_at TEXT NOT NULL, origin_region TEXT NOT NULL, is_deleted INTEGER NOT NULL, change_seq INTEGER,
      PRIMARY KEY (sku, currency))`);
  const first = hub
    .prepare(`SELECT ${cols} FROM price_list ORDER BY change_seq, sku, currency LIMIT ?`)
    .raw();
  const next = hub
    .prepare(
      `SELECT ${cols} FROM price_list WHERE (change_seq, sku, currency) > (?, ?, ?) ORDER BY change_seq, sku, currency LIMIT ?`,
    )
    .raw();
  const insert = spoke.prepare(
    `INSERT INTO price_list_copy (${cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(sku, currency) DO UPDATE SET
      list_price = excluded.list_price, min_qty = excluded.min_qty, price_book = excluded.price_book, valid_from = excluded.valid_from,
      valid_to = excluded.valid_to, modified_at = excluded.modified_at, origin_region = excluded.origin_region,
      is_deleted = excluded.is_deleted, change_seq = excluded.change_seq`,
  );
  const write = spoke.transaction((rows: unknown[][]) => {
    for (const r of rows) insert.run(...r);
  });
  let copied = 0;
  let rows = first.all(pageSize) as unknown[][];
  while (rows.length > 0) {
    write(rows);
    copied += rows.length;
    const last = rows[rows.length - 1] as unknown[];
    if (rows.length < pageSize) break;
    rows = next.all(last[10], last[0], last[1], pageSize) as unknown[][];
  }
  spoke.exec('DROP TABLE price_list_copy');
  hub.close();
  spoke.close();
  return copied;
}

/** Latencies of one polled endpoint. */
class Latencies {
  readonly ms: number[] = [];
  timeouts = 0;
  errors = 0;
  pct(p: number): number {
    const s = [...this.ms].sort((a, b) => a - b);
    return s.length === 0 ? NaN : (s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number);
  }
  /** The latencies of several runs as one sample. */
  static merge(all: readonly Latencies[]): Latencies {
    const out = new Latencies();
    for (const l of all) {
      out.ms.push(...l.ms);
      out.timeouts += l.timeouts;
      out.errors += l.errors;
    }
    return out;
  }
  max(): number {
    return this.ms.reduce((m, x) => Math.max(m, x), 0);
  }
  text(): string {
    const bad =
      this.timeouts + this.errors === 0 ? '' : `, ${this.timeouts} timed out, ${this.errors} failed`;
    return `n=${this.ms.length} p50 ${this.pct(50).toFixed(0)} ms  p99 ${this.pct(99).toFixed(0)} ms  max ${this.max().toFixed(0)} ms${bad}`;
  }
}

/** One timed GET; a timeout counts as STATUS_TIMEOUT_MS. Resolves with the parsed body, if any. */
async function timedGet(url: string, into: Latencies): Promise<unknown> {
  const t = performance.now();
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) });
    const body: unknown = await res.json();
    into.ms.push(performance.now() - t);
    if (res.status >= 500) into.errors++;
    return body;
  } catch (e) {
    if ((e as { name?: string }).name === 'TimeoutError') {
      into.timeouts++;
      into.ms.push(STATUS_TIMEOUT_MS);
    } else into.errors++;
    return undefined;
  }
}

/** A process's resident set now and its peak (kB fields of /proc/<pid>/status; Linux only). */
function rssMb(pid: number): { now: number; peak: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
    return { now: field('VmRSS'), peak: field('VmHWM') };
  } catch {
    return null;
  }
}

/** The machine's CPU time so far, and how much of it the hypervisor took (/proc/stat, Linux). */
function machineTicks(): { steal: number; total: number } | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.split(/\s+/).slice(1).map(Number) ?? [];
    // user nice system idle iowait irq softirq steal (guest time is inside user)
    return { steal: cpu[7] ?? 0, total: cpu.slice(0, 8).reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

/**
 * Share of the machine's CPU time the hypervisor took since `before`: on this VM a slow spell
 * shows as steal, and it hurts a run on both cores more than the single-threaded plain loop.
 */
function stealSince(before: ReturnType<typeof machineTicks>): string {
  const now = machineTicks();
  if (before === null || now === null || now.total <= before.total) return 'steal n/a';
  return `steal ${((100 * (now.steal - before.steal)) / (now.total - before.total)).toFixed(1)}%`;
}

/** CPU seconds a process has used so far, all threads, exited ones included (/proc/<pid>/stat). */
function cpuSeconds(pid: number): number | null {
  try {
    return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * CPU seconds per thread of a process (Linux /proc/<pid>/task/<tid>): the main thread, each page
 * worker, libuv's pool (async zlib) and V8's helpers (GC).
 */
function cpuByThread(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Worker threads keep the process's name: told apart by thread id.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const name = tid === String(pid) ? 'main' : comm === 'node' ? `thread ${tid}` : comm;
      out.set(name, (out.get(name) ?? 0) + statCpuSeconds(stat));
    }
  } catch {
    // the process or a thread ended meanwhile: what was read so far
  }
  return out;
}

/** Per-function invocation time from devhost's `Executed 'Functions.x' (..., Duration=Nms)` lines. */
function invocationTimes(output: string): Map<string, { count: number; ms: number }> {
  const out = new Map<string, { count: number; ms: number }>();
  for (const m of output.matchAll(
    /Executed 'Functions\.([^']+)' \((?:Succeeded|Failed), [^)]*Duration=(\d+)ms\)/g,
  )) {
    const e = out.get(m[1] as string) ?? { count: 0, ms: 0 };
    e.count++;
    e.ms += Number(m[2]);
    out.set(m[1] as string, e);
  }
  return out;
}

/** The app status's per-link checkpoints (only what the timeline reads). */
interface AppStatus {
  links?: { source: string; tables: { checkpoint: { cursor: { change: string } } | null }[] }[];
}

/**
 * How far the hub -> spoke links have come: the sum of their checkpoints' change counters. The
 * bench's hub rows each carry their own change number, so this counts rows moved.
 */
function hubCheckpoints(status: AppStatus | undefined): number | null {
  if (status?.links === undefined) return null;
  let sum = 0;
  for (const l of status.links)
    if (l.source === 'cn') for (const t of l.tables) sum += Number(t.checkpoint?.cursor.change ?? 0);
  return sum;
}

/** One status poll: seconds into the run, rows the checkpoints show moved, devhost CPU seconds. */
interface Sample {
  readonly s: number;
  readonly moved: number;
  readonly cpu: number | null;
}

/**
 * The run in fifths of its time: rows/s and cores in each, so a slow start (warm-up, a cold page
 * cache) shows apart from the steady rate.
 */
function printTimeline(samples: readonly Sample[], seconds: number): void {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (first === undefined || last === undefined || last.moved === 0) return;
  const parts: string[] = [];
  let from = first;
  for (let i = 1; i <= 5; i++) {
    const end = (seconds * i) / 5;
    const to = samples.findLast((x) => x.s <= end) ?? last;
    if (to.s <= from.s) continue;
    const rate = (to.moved - from.moved) / (to.s - from.s);
    const cores = to.cpu !== null && from.cpu !== null ? (to.cpu - from.cpu) / (to.s - from.s) : NaN;
    parts.push(`${Math.round(rate / 1000)}k rows/s on ${cores.toFixed(2)} cores`);
    from = to;
  }
  const firstMove = samples.find((x) => x.moved > 0);
  console.log(
    `  first checkpoint moved after ${firstMove?.s.toFixed(1)} s; in fifths of the run: ${parts.join(' | ')}`,
  );
}

const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

interface SizeResult {
  readonly rows: number;
  readonly pages: number;
  readonly pipelineSeconds: number;
  readonly plainSeconds: number;
  readonly appStatus: Latencies;
  readonly durableStatus: Latencies;
  readonly peakRssMb: number | null;
  /** CPU seconds devhost used during the run (all its threads), and the plain loop's. */
  readonly pipelineCpu: number | null;
  readonly plainCpu: number;
  readonly loadBefore: string;
  readonly loadAfter: string;
}

/** The plain loop into every spoke: wall seconds and this process's CPU seconds. */
function plainLoop(
  file: (region: string) => string,
  n: number,
  pageSize: number,
): { seconds: number; cpu: number } {
  const t = performance.now();
  const before = process.cpuUsage();
  let copied = 0;
  for (const s of SPOKES) copied += plainCopy(file('cn'), `${file(s)}.plain-copy`, pageSize);
  const usage = process.cpuUsage(before);
  if (copied !== 3 * n) throw new Error(`plain loop copied ${copied}, expected ${3 * n}`);
  return { seconds: (performance.now() - t) / 1000, cpu: (usage.user + usage.system) / 1e6 };
}

/** One pipeline trial: a fresh devhost over the region files as seeded, driven as a user would. */
interface PipelineTrial {
  readonly seconds: number;
  readonly pages: number;
  readonly appStatus: Latencies;
  readonly durableStatus: Latencies;
  readonly peakRssMb: number | null;
  readonly cpu: number | null;
}

async function runPipeline(
  n: number,
  opts: { hostDir: string; env: Record<string, string>; pageSize: number; pollMs: number },
  cpuProf: string | undefined,
  file: (region: string) => string,
): Promise<PipelineTrial> {
  const { pageSize, pollMs } = opts;
  const host = await startDevhost({
    appDir: APP_DIR,
    dataDir: opts.hostDir,
    env: opts.env,
    readyTimeoutMs: 60_000,
    nodeArgs: cpuProf === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${path.resolve(cpuProf)}`],
  });
  const appStatus = new Latencies();
  const durableStatus = new Latencies();
  let peakRssMb: number | null = null;
  let pipelineSeconds: number;
  let pipelineCpu: number | null = null;
  const threadCpu = new Map<string, number>();
  let report: { totals: { rowsWritten: number; pages: number } };
  let output = '';
  const timeline: Sample[] = [];
  let ticks: ReturnType<typeof machineTicks> = null;
  let steal = '';
  try {
    const cpuBefore = cpuSeconds(host.pid);
    const threadsBefore = cpuByThread(host.pid);
    ticks = machineTicks();
    const t = performance.now();
    const res = await fetch(`${host.origin}/api/sync/pricing`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'incremental', pageSize }),
    });
    const started = (await res.json()) as { statusQueryGetUri: string };
    if (res.status !== 202) throw new Error(`POST answered ${res.status}: ${JSON.stringify(started)}`);
    // Both status endpoints every pollMs, each request timed on its own, until the run ends.
    const hostExit: { why: string | null } = { why: null };
    void host.exited.then((e) => (hostExit.why = `code ${e.code}, signal ${e.signal}`));
    for (;;) {
      if (hostExit.why !== null)
        throw new Error(`devhost exited during the run (${hostExit.why}):\n${host.output().slice(-4000)}`);
      const tick = performance.now();
      const [app, s] = await Promise.all([
        timedGet(`${host.origin}/api/sync/pricing/status`, appStatus) as Promise<AppStatus | undefined>,
        timedGet(started.statusQueryGetUri, durableStatus) as Promise<
          { runtimeStatus: string; output: unknown } | undefined
        >,
      ]);
      const moved = hubCheckpoints(app);
      if (moved !== null)
        timeline.push({ s: (performance.now() - t) / 1000, moved, cpu: cpuSeconds(host.pid) });
      const rss = rssMb(host.pid);
      if (rss !== null) peakRssMb = Math.max(peakRssMb ?? 0, rss.peak);
      if (s?.runtimeStatus === 'Completed') {
        report = s.output as typeof report;
        break;
      }
      if (s?.runtimeStatus === 'Failed' || s?.runtimeStatus === 'Terminated')
        throw new Error(`run ${s.runtimeStatus}: ${JSON.stringify(s.output)}`);
      await new Promise((r) => setTimeout(r, Math.max(0, pollMs - (performance.now() - tick))));
    }
    pipelineSeconds = (performance.now() - t) / 1000;
    steal = stealSince(ticks);
    const cpuAfter = cpuSeconds(host.pid);
    if (cpuBefore !== null && cpuAfter !== null) pipelineCpu = cpuAfter - cpuBefore;
    for (const [name, seconds] of cpuByThread(host.pid)) {
      const before = threadsBefore.get(name) ?? 0;
      if (seconds - before >= 0.05) threadCpu.set(name, seconds - before);
    }
  } finally {
    output = host.output();
    await host.stop();
  }
  const delivered = SPOKES.reduce((sum, s) => {
    const db = new BetterSqlite3(file(s), { readonly: true });
    const c = (db.prepare('SELECT count(*) AS c FROM price_list').get() as { c: number }).c;
    db.close();
    return sum + c;
  }, 0);
  if (delivered !== 3 * n || report.totals.rowsWritten !== 3 * n)
    throw new Error(
      `pipeline delivered ${delivered} rows (report: ${report.totals.rowsWritten}), expected ${3 * n}`,
    );

  console.log(
    `pipeline (devhost + durable + blob staging + guarded upsert): ${pipelineSeconds.toFixed(1)} s, ${Math.round((3 * n) / pipelineSeconds)} rows/s, ${report.totals.pages} pages`,
  );
  console.log(
    `  CPU ${pipelineCpu === null ? 'n/a' : `${pipelineCpu.toFixed(1)} s (${((pipelineCpu * 1e6) / (3 * n)).toFixed(1)} us/row, ${(pipelineCpu / pipelineSeconds).toFixed(2)} cores)`}, ${steal}, peak RSS ${peakRssMb === null ? 'n/a (no /proc)' : `${peakRssMb.toFixed(0)} MB`}`,
  );
  if (threadCpu.size > 0)
    console.log(
      `  by thread: ${[...threadCpu]
        .sort((a, b) => b[1] - a[1])
        .map(([name, seconds]) => `${name} ${seconds.toFixed(1)} s`)
        .join(', ')}`,
    );
  // Where the time goes: the links run side by side, so per link = sum over links / links.
  const times = invocationTimes(output);
  const perLink = (name: string) => (times.get(name)?.ms ?? 0) / 1000 / SPOKES.length;
  const busy = perLink('extractPage') + perLink('applyPage') + perLink('beginLink');
  console.log(
    `  where a link's ${pipelineSeconds.toFixed(1)} s go (activity time from devhost's Executed lines, per link):`,
  );
  for (const name of ['extractPage', 'applyPage', 'beginLink']) {
    const e = times.get(name);
    if (e === undefined) continue;
    console.log(
      `    ${name.padEnd(12)} ${(e.ms / 1000 / SPOKES.length).toFixed(1).padStart(6)} s  ${(e.ms / e.count).toFixed(1).padStart(6)} ms/call  ${((e.ms * 1000) / (3 * n)).toFixed(2)} us/row`,
    );
  }
  console.log(
    `    activities overlap (extract of the next page while applying): ${busy.toFixed(1)} s of activity time in ${pipelineSeconds.toFixed(1)} s per link`,
  );
  printTimeline(timeline, pipelineSeconds);
  // devhost's own word when its thread could not run (devhost/stallWatch.ts).
  for (const line of output.split('\n').filter((l) => l.includes('Host.Health')))
    console.log(`  devhost: ${line.trim()}`);
  return {
    seconds: pipelineSeconds,
    pages: report.totals.pages,
    appStatus,
    durableStatus,
    peakRssMb,
    cpu: pipelineCpu,
  };
}

/**
 * Writes what the previous phase left in the page cache to disk before the next is timed: the
 * kernel flushes a few hundred MB of dirty pages (a seed, a restore, a copy) at this disk's pace,
 * and the next phase's fsyncs would wait behind them (seen: a pipeline's first fifth on 1.44 of 2
 * cores right after a restore).
 */
function flushToDisk(files: readonly string[]): void {
  for (const f of files.flatMap((x) => [x, `${x}-wal`])) {
    if (!existsSync(f)) continue;
    const fd = openSync(f, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** The region files (with any WAL beside them) copied to or from `dir`. */
function copyRegionFiles(file: (region: string) => string, dir: string, direction: 'save' | 'restore'): void {
  mkdirSync(dir, { recursive: true });
  for (const region of ['cn', ...SPOKES])
    for (const suffix of ['', '-wal', '-shm']) {
      const live = file(region) + suffix;
      const saved = path.join(dir, path.basename(live));
      const [from, to] = direction === 'save' ? [live, saved] : [saved, live];
      rmSync(to, { force: true });
      if (existsSync(from)) copyFileSync(from, to);
    }
}

async function runSize(
  n: number,
  opts: { pageSize: number; pollMs: number; trials: number },
  cpuProf: string | undefined,
  keep: boolean,
): Promise<SizeResult> {
  const { pageSize, pollMs, trials } = opts;
  const root = mkdtempSync(path.join(os.tmpdir(), 'batch-bench-'));
  const env = await localAppEnv(root);
  const config = loadConfig(env, { cwd: root });
  const file = (region: string) => (config.stores[region] as { file: string }).file;
  console.log(`\n--- ${n} hub prices -> ${SPOKES.length} spokes, page size ${pageSize} (${root})`);
  const t = performance.now();
  await seedDemo(config, {
    hubPrices: 0,
    spokePrices: 0,
    promotions: 0,
    ordersPerSpoke: 0,
    base: '2026-01-01T00:00:00.000Z',
  });
  // The hub's prices in chunks, so the seed itself stays small at millions of rows.
  const hubDb = new BetterSqlite3(file('cn'));
  for (let i = 0; i < n; i += 100_000)
    insertRows(
      hubDb,
      'price_list',
      Array.from({ length: Math.min(100_000, n - i) }, (_, j) => hubPrice(i + j, '2026-01-01T00:00:00.000Z')),
    );
  hubDb.close();
  console.log(`seeded in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const seeded = path.join(root, 'seeded');
  if (trials > 1) copyRegionFiles(file, seeded, 'save');

  // Trials alternate the plain loop and the pipeline; each side's fastest trial counts, so a slow
  // spell of this machine during one of them moves neither side of the ratio.
  const loadBefore = load();
  const plains: { seconds: number; cpu: number }[] = [];
  const pipelines: PipelineTrial[] = [];
  const written = ['cn', ...SPOKES].flatMap((r) => [file(r), `${file(r)}.plain-copy`]);
  for (let trial = 1; trial <= trials; trial++) {
    flushToDisk(written);
    const ticks = machineTicks();
    const plain = plainLoop(file, n, pageSize);
    plains.push(plain);
    console.log(
      `trial ${trial}/${trials}: plain keyset copy loop ${plain.seconds.toFixed(1)} s, ${Math.round((3 * n) / plain.seconds)} rows/s, CPU ${((plain.cpu * 1e6) / (3 * n)).toFixed(1)} us/row, ${stealSince(ticks)}`,
    );
    if (trial > 1) copyRegionFiles(file, seeded, 'restore');
    flushToDisk(written);
    process.stdout.write(`trial ${trial}/${trials}: `);
    pipelines.push(
      await runPipeline(
        n,
        { hostDir: path.join(root, `host-${trial}`), env, pageSize, pollMs },
        cpuProf,
        file,
      ),
    );
  }
  const loadAfter = load();
  const plain = plains.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const best = pipelines.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const appStatus = Latencies.merge(pipelines.map((p) => p.appStatus));
  const durableStatus = Latencies.merge(pipelines.map((p) => p.durableStatus));
  const rss = pipelines.map((p) => p.peakRssMb).filter((x) => x !== null);
  const peakRssMb = rss.length === 0 ? null : Math.max(...rss);

  const pipelineRate = (3 * n) / best.seconds;
  const plainRate = (3 * n) / plain.seconds;
  const list = (xs: readonly number[]) => xs.map((x) => `${x.toFixed(1)} s`).join(', ');
  console.log(
    `pipeline: ${best.seconds.toFixed(1)} s, ${Math.round(pipelineRate)} rows/s (fastest of ${list(pipelines.map((p) => p.seconds))})`,
  );
  console.log(
    `plain loop: ${plain.seconds.toFixed(1)} s, ${Math.round(plainRate)} rows/s (fastest of ${list(plains.map((p) => p.seconds))})`,
  );
  console.log(
    `ratio pipeline / plain: ${((100 * pipelineRate) / plainRate).toFixed(1)}% (goal >= ${GOAL.ratio}%)`,
  );
  console.log(
    `status during ${trials === 1 ? 'the run' : `the ${trials} runs`}, ${pollMs} ms apart (goal p99 <= ${GOAL.statusP99Ms} ms):`,
  );
  console.log(`  GET /api/sync/pricing/status  ${appStatus.text()}`);
  console.log(`  GET Durable status URL        ${durableStatus.text()}`);
  console.log(`devhost peak RSS: ${peakRssMb === null ? 'n/a (no /proc)' : `${peakRssMb.toFixed(0)} MB`}`);
  console.log(`load average ${loadBefore} before the trials, ${loadAfter} after`);
  if (!keep) rmSync(root, { recursive: true, force: true });
  return {
    rows: n,
    pages: best.pages,
    pipelineSeconds: best.seconds,
    plainSeconds: plain.seconds,
    appStatus,
    durableStatus,
    peakRssMb,
    pipelineCpu: best.cpu,
    plainCpu: plain.cpu,
    loadBefore,
    loadAfter,
  };
}

function summary(results: readonly SizeResult[]): void {
  const ok = (pass: boolean) => (pass ? 'ok  ' : 'MISS');
  console.log('\n=== batchSync summary (hub -> 3 spokes; ratios are within one run) ===');
  console.log(
    'rows       pipeline s  rows/s    plain s  rows/s    ratio   status p50/p99 ms (app | durable)  peak RSS',
  );
  for (const r of results) {
    const ratio = (100 * r.plainSeconds) / r.pipelineSeconds;
    console.log(
      [
        String(r.rows).padEnd(10),
        r.pipelineSeconds.toFixed(1).padStart(10),
        String(Math.round((3 * r.rows) / r.pipelineSeconds)).padStart(8),
        r.plainSeconds.toFixed(1).padStart(9),
        String(Math.round((3 * r.rows) / r.plainSeconds)).padStart(8),
        `${ratio.toFixed(1)}%`.padStart(8),
        `${r.appStatus.pct(50).toFixed(0)}/${r.appStatus.pct(99).toFixed(0)} | ${r.durableStatus.pct(50).toFixed(0)}/${r.durableStatus.pct(99).toFixed(0)}`.padStart(
          22,
        ),
        (r.peakRssMb === null ? 'n/a' : `${r.peakRssMb.toFixed(0)} MB`).padStart(22),
      ].join(' '),
    );
  }
  for (const r of results) {
    const ratio = (100 * r.plainSeconds) / r.pipelineSeconds;
    const p99 = Math.max(r.appStatus.pct(99), r.durableStatus.pct(99));
    console.log(
      r.rows >= RATIO_GOAL_FROM_ROWS
        ? `${ok(ratio >= GOAL.ratio)} ${r.rows} rows: pipeline ${ratio.toFixed(1)}% of the plain loop (goal >= ${GOAL.ratio}%)`
        : `info ${r.rows} rows: pipeline ${ratio.toFixed(1)}% of the plain loop (goal >= ${GOAL.ratio}% applies from ${RATIO_GOAL_FROM_ROWS} rows: the run's fixed start weighs on a short run)`,
    );
    console.log(
      `${ok(p99 <= GOAL.statusP99Ms)} ${r.rows} rows: status p99 ${p99.toFixed(0)} ms (goal <= ${GOAL.statusP99Ms} ms)`,
    );
  }
  const sorted = [...results].sort((a, b) => a.rows - b.rows);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1] as SizeResult;
    const b = sorted[i] as SizeResult;
    const timeRatio = b.pipelineSeconds / a.pipelineSeconds;
    const sizeRatio = b.rows / a.rows;
    const goal = GOAL.scaling * (sizeRatio / 3);
    console.log(
      `${ok(timeRatio <= goal)} t(${b.rows})/t(${a.rows}) = ${timeRatio.toFixed(2)} for ${sizeRatio.toFixed(1)}x the rows (linear: <= ${goal.toFixed(2)}); plain loop ${(b.plainSeconds / a.plainSeconds).toFixed(2)}`,
    );
  }
  const largest = sorted[sorted.length - 1];
  if (largest !== undefined && largest.peakRssMb !== null) {
    const bound =
      largest.rows >= 3_000_000 ? `goal <= ${GOAL.peakRssMb} MB at 3M rows` : 'goal applies at 3M rows';
    console.log(
      `${ok(largest.peakRssMb <= GOAL.peakRssMb)} peak RSS ${largest.peakRssMb.toFixed(0)} MB at ${largest.rows} rows (${bound})`,
    );
  }
  console.log(`load average now ${load()} on ${os.availableParallelism()} cores (uptime)`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '100000,1000000,3000000' },
      'page-size': { type: 'string', default: '5000' },
      'poll-ms': { type: 'string', default: '100' },
      trials: { type: 'string', default: '2' },
      'cpu-prof': { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
    strict: false, // flags of batchSyncStages (run by the same `npm run bench -- batchSync`) pass through
  });
  const sizes = String(values.rows)
    .split(',')
    .map((s) => Number(s.trim()));
  const pageSize = Number(values['page-size']);
  const pollMs = Number(values['poll-ms']);
  const trials = Number(values.trials);
  if (
    !Number.isInteger(trials) ||
    trials < 1 ||
    sizes.some((s) => !Number.isInteger(s) || s < 1) ||
    !Number.isInteger(pageSize) ||
    pageSize < 1 ||
    !(pollMs > 0)
  )
    throw new Error('usage: --rows N[,N...] --page-size N --poll-ms N --trials N (positive integers)');
  const cpuProf = typeof values['cpu-prof'] === 'string' ? values['cpu-prof'] : undefined;
  const results: SizeResult[] = [];
  for (const n of sizes)
    results.push(await runSize(n, { pageSize, pollMs, trials }, cpuProf, values.keep === true));
  summary(results);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
