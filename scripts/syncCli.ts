/**
 * `npm run sync -- <flow> --mode full|incremental [--from ISO] [--to ISO] [--regions a,b] [--dry-run]`
 * starts a run over HTTP (POST /api/sync/{flow}), shows a live progress bar from the run's custom
 * status until it ends, then a per-link summary. Exit code 0 only when the run completed.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { fetchApp, URL_HELP, urlOf } from './appUrl.js';

interface PerLink {
  pages: number;
  rows: number;
  written: number;
  done: boolean;
  lastError: string | null;
}
interface Progress {
  phase?: string;
  links?: { done: number; failed: number; total: number; running: number };
  pages?: number;
  rows?: number;
  written?: number;
  perLink?: Record<string, PerLink>;
}
interface LinkResult {
  link: { source: string; target: string };
  pages: number;
  rowsRead: number;
  inserted: number;
  updated: number;
  unchanged: number;
  lostConflicts: number;
  lastError: string | null;
  reconcile: {
    matched: number;
    missing: number;
    extra: number;
    differing: number;
    repaired: number;
    refused: number;
  } | null;
}
interface Status {
  runtimeStatus: string;
  customStatus: Progress | null;
  output: { links?: LinkResult[]; reportBlob?: string | null } | string | null;
}

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number >= 1');
  return n;
};

function bar(done: number, total: number, width = 28): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

function render(p: Progress | null): string {
  const links = p?.links ?? { done: 0, failed: 0, total: 0, running: 0 };
  return `${bar(links.done, links.total)} links ${links.done}/${links.total}  pages ${p?.pages ?? 0}  rows ${p?.rows ?? 0}  written ${p?.written ?? 0}  ${p?.phase ?? 'starting'}${links.failed > 0 ? `  FAILED ${links.failed}` : ''}`;
}

async function main(): Promise<void> {
  const program = new Command('sync')
    .argument('<flow>', 'flow name, e.g. pricing, promotions, orders')
    .addOption(
      new Option('--mode <mode>', 'incremental or full')
        .choices(['incremental', 'full'])
        .default('incremental'),
    )
    .option('--from <iso>', 'backfill window start (modified_at, inclusive)')
    .option('--to <iso>', 'backfill window end (exclusive)')
    .option('--regions <ids>', 'only links touching these regions, comma-separated')
    .option('--dry-run', 'stage and count, write nothing')
    .option('--page-size <n>', 'rows per page for this run', positiveInt)
    .option('--url <origin>', URL_HELP)
    .parse();
  const flow = program.args[0] as string;
  const o = program.opts<{
    mode: string;
    from?: string;
    to?: string;
    regions?: string;
    dryRun?: boolean;
    pageSize?: number;
  }>();
  const url = urlOf(program);
  const body = {
    mode: o.mode,
    ...(o.from === undefined ? {} : { from: o.from }),
    ...(o.to === undefined ? {} : { to: o.to }),
    ...(o.regions === undefined ? {} : { regions: o.regions.split(',').map((s) => s.trim()) }),
    ...(o.dryRun === true ? { dryRun: true } : {}),
    ...(o.pageSize === undefined ? {} : { pageSize: o.pageSize }),
  };
  const res = await fetchApp(`${url}/api/sync/${encodeURIComponent(flow)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-region-sync-trigger': 'cli' },
    body: JSON.stringify(body),
  });
  const answer = (await res.json()) as Record<string, unknown>;
  if (res.status !== 202) {
    console.error(`POST /api/sync/${flow} answered ${res.status}: ${JSON.stringify(answer.error ?? '')}`);
    for (const p of (answer.problems ?? []) as { path: string; message: string }[])
      console.error(`  - ${p.path}: ${p.message}`);
    process.exit(1);
  }
  const id = String(answer.id);
  const already = res.headers.get('x-region-sync-run') === 'already-running';
  console.log(
    `${already ? 'Already running, following' : 'Started'} ${id}\n  status: ${String(answer.statusQueryGetUri)}`,
  );
  const tty = process.stdout.isTTY;
  let last = '';
  let status: Status;
  for (;;) {
    status = (await (await fetchApp(String(answer.statusQueryGetUri))).json()) as Status;
    const line = render(status.customStatus);
    if (tty) process.stdout.write(`\r${line}\x1b[K`);
    else if (line !== last) console.log(line);
    last = line;
    if (['Completed', 'Failed', 'Terminated'].includes(status.runtimeStatus)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (tty) process.stdout.write('\n');
  console.log(`\n${id}: ${status.runtimeStatus}`);
  const output = typeof status.output === 'object' && status.output !== null ? status.output : null;
  if (output?.links !== undefined) {
    console.log(
      '  link         pages     read  inserted  updated  same  lost  reconcile (matched/missing/extra/differing/repaired/refused)',
    );
    for (const l of output.links) {
      const r = l.reconcile;
      console.log(
        `  ${`${l.link.source}>${l.link.target}`.padEnd(11)} ${String(l.pages).padStart(6)} ${String(l.rowsRead).padStart(8)} ${String(l.inserted).padStart(9)} ${String(l.updated).padStart(8)} ${String(l.unchanged).padStart(5)} ${String(l.lostConflicts).padStart(5)}  ${r === null ? '-' : `${r.matched}/${r.missing}/${r.extra}/${r.differing}/${r.repaired}/${r.refused}`}${l.lastError === null ? '' : `  ERROR ${l.lastError}`}`,
      );
    }
    if (output.reportBlob) console.log(`  reconciliation report: blob ${output.reportBlob}`);
  } else {
    for (const [key, l] of Object.entries(status.customStatus?.perLink ?? {}))
      console.log(
        `  ${key.padEnd(11)} pages ${l.pages} rows ${l.rows} written ${l.written}${l.lastError === null ? '' : `  ERROR ${l.lastError}`}`,
      );
    if (typeof status.output === 'string') console.log(`  ${status.output}`);
  }
  process.exit(status.runtimeStatus === 'Completed' ? 0 : 1);
}

main().catch((e: unknown) => {
  console.error(`sync: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
