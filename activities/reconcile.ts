/**
 * The monthly full compare (ARCHITECTURE §5.5), one link and table at a time.
 *
 * What must match: the rows the source sends over the link (loop prevention and residency
 * applied, exactly as extractPage shapes them) against the target's rows that belong to the link
 * (their origin is one the link carries and they satisfy its row predicates). compareLink sums both
 * sides per key-hash range; repairRange diffs one differing range row by row and repairs it through
 * the same guarded upsert as a page: missing and differing rows are offered to the conflict policy,
 * extra rows (gone from the source, or now held back by residency) become tombstones one
 * millisecond newer than the target's version, so a genuinely newer edit still wins.
 *
 * The orders flow is compared and repaired by order: header and lines hash by the order key, so a
 * range holds whole orders, and the repair decides per order from the headers (see repairOrders),
 * never leaving a live header without its lines.
 */
import { keyOf } from '../sync/cursor.js';
import { keyHash } from '../sync/digest.js';
import type { KeyRange, LinkId, SqlValue, SyncRow, TableMapping } from '../sync/model.js';
import type { RegionStore } from '../sync/ports.js';
import { differingRanges, diffRows, inRange, RangeAccumulator, splitKeySpace } from '../sync/reconcile.js';
import { applyResidency, guardFor, matchesPredicate, residencyLabel } from '../sync/residency.js';
import { shouldSend } from '../sync/routing.js';
import type { Flow, FlowTable, Topology } from '../sync/topology.js';
import { conflictPolicyFor, residencyFor } from '../sync/topology.js';
import { policyLabel, resolveConflict } from '../sync/conflict.js';
import type { CompareLinkInput, CompareLinkOutput, RepairCounts, RepairRangeInput } from './contracts.js';
import type { SyncRuntime } from './runtime.js';
import { flowOf, mappingOf } from './runtime.js';

/** Rows read per keyset step of a reconciliation scan. */
const SCAN_PAGE = 5000;
/** Rows written per guarded-upsert transaction during a repair. */
const REPAIR_BATCH = 1000;

async function* scan(store: RegionStore, table: TableMapping): AsyncGenerator<SyncRow> {
  let afterKey: SqlValue[] | null = null;
  for (;;) {
    const rows = await store.readRows({ table, afterKey, limit: SCAN_PAGE });
    for (const r of rows) yield r;
    if (rows.length < SCAN_PAGE) return;
    afterKey = keyOf((rows[rows.length - 1] as SyncRow).values, table.keyColumns);
  }
}

interface LinkView {
  readonly flow: Flow;
  readonly sourceTable: TableMapping;
  readonly targetTable: TableMapping;
  /**
   * Columns whose hash places a row in a range: the key, except in an order flow, where header
   * and lines hash by the order key (origin region, order id) so one range holds whole orders in
   * both tables and a repair can keep each order's header and lines together.
   */
  readonly rangeColumns: readonly string[];
  /** The order flow's two tables (header first), when this is one of them. */
  readonly order: { readonly header: string; readonly lines: string } | null;
  /** A source row as the link delivers it, or null when it does not cross. */
  readonly outbound: (row: SyncRow) => SyncRow | null;
  /** Whether a target row belongs to the link. */
  readonly belongs: (row: SyncRow) => boolean;
}

/** The header and lines of a realtime order flow (config validation keys them by order). */
function orderTablesOf(flow: Flow): { header: FlowTable; lines: FlowTable } | null {
  const [header, lines] = flow.tables;
  if (!flow.realtime || header === undefined || lines === undefined) return null;
  return { header, lines };
}

function linkView(topology: Topology, pseudonymKey: string | null, link: LinkId, table: string): LinkView {
  const flow = flowOf(topology, link.flow);
  const residency = residencyFor(flow, link, table);
  const sourceTable = mappingOf(flow, table, link.source);
  const order = orderTablesOf(flow);
  const isOrderTable =
    order !== null && (table === order.header.canonical || table === order.lines.canonical);
  return {
    flow,
    sourceTable,
    targetTable: mappingOf(flow, table, link.target),
    rangeColumns: isOrderTable ? order.header.keyColumns : sourceTable.keyColumns,
    order: isOrderTable ? { header: order.header.canonical, lines: order.lines.canonical } : null,
    outbound: (row) =>
      shouldSend(row.originRegion, link, flow, topology)
        ? applyResidency(row, residency, link, { pseudonymKey })
        : null,
    belongs: (row) =>
      shouldSend(row.originRegion, link, flow, topology) &&
      residency.where.every((p) => matchesPredicate(row.values, p, link)),
  };
}

export function createCompareLink(
  deps: Pick<SyncRuntime, 'topology' | 'store' | 'pseudonymKey'> & Partial<Pick<SyncRuntime, 'pageWorkers'>>,
) {
  // Whole-table scans: on a page worker when the runtime has them, never on the host's thread.
  const workers = deps.pageWorkers ?? null;
  if (workers !== null) return (input: CompareLinkInput) => workers.run('compareLink', input);
  return async function compareLink(input: CompareLinkInput): Promise<CompareLinkOutput> {
    const view = linkView(deps.topology, deps.pseudonymKey, input.link, input.table);
    const ranges = splitKeySpace(input.ranges);
    const columns = Object.keys(view.sourceTable.columns);
    const src = new RangeAccumulator(ranges, view.rangeColumns, columns);
    const tgt = new RangeAccumulator(ranges, view.rangeColumns, columns);
    let sourceRows = 0;
    let targetRows = 0;
    for await (const r of scan(await deps.store(input.link.source), view.sourceTable)) {
      const out = view.outbound(r);
      if (out !== null) {
        src.add(out);
        sourceRows++;
      }
    }
    for await (const r of scan(await deps.store(input.link.target), view.targetTable)) {
      if (view.belongs(r)) {
        tgt.add(r);
        targetRows++;
      }
    }
    const s = src.summaries();
    const t = tgt.summaries();
    const differing = differingRanges(s, t);
    const differs = (lo: number) => differing.some((d) => d.lo === lo);
    const matchedRows = t.filter((x) => !differs(x.range.lo)).reduce((n, x) => n + x.count, 0);
    return {
      sourceRows,
      targetRows,
      matchedRanges: ranges.length - differing.length,
      matchedRows,
      differing,
    };
  };
}

async function collect(
  store: RegionStore,
  table: TableMapping,
  rangeColumns: readonly string[],
  range: KeyRange,
  keep: (row: SyncRow) => SyncRow | null,
): Promise<SyncRow[]> {
  const out: SyncRow[] = [];
  for await (const r of scan(store, table)) {
    if (!inRange(keyHash(keyOf(r.values, rangeColumns)), range)) continue;
    const k = keep(r);
    if (k !== null) out.push(k);
  }
  return out;
}

export function createRepairRange(
  deps: Pick<SyncRuntime, 'topology' | 'store' | 'pseudonymKey' | 'now'> &
    Partial<Pick<SyncRuntime, 'pageWorkers'>>,
) {
  const workers = deps.pageWorkers ?? null;
  if (workers !== null) return (input: RepairRangeInput) => workers.run('repairRange', input);
  return async function repairRange(input: RepairRangeInput): Promise<RepairCounts> {
    const view = linkView(deps.topology, deps.pseudonymKey, input.link, input.table);
    const source = await deps.store(input.link.source);
    const target = await deps.store(input.link.target);
    const columns = Object.keys(view.sourceTable.columns);
    const keyColumns = view.sourceTable.keyColumns;
    const src = await collect(source, view.sourceTable, view.rangeColumns, input.range, view.outbound);
    const tgt = await collect(target, view.targetTable, view.rangeColumns, input.range, (r) =>
      view.belongs(r) ? r : null,
    );
    const diff = diffRows(src, tgt, keyColumns, columns);
    const counts = {
      matched: src.length - diff.missing.length - diff.differing.length,
      missing: diff.missing.length,
      extra: diff.extra.length,
      differing: diff.differing.length,
    };
    if (input.dryRun) return { ...counts, repaired: 0, refused: 0 };
    if (view.order !== null) return { ...counts, ...(await repairOrders(deps, input, view.order)) };
    const extraKeys = new Set(diff.extra.map((k) => JSON.stringify(k)));
    const tombstones = tgt
      .filter((r) => !r.isDeleted && extraKeys.has(JSON.stringify(keyOf(r.values, keyColumns))))
      .map((r) => tombstoneOf(r));
    const writes = [...diff.missing, ...diff.differing.map((d) => d.source), ...tombstones];
    return { ...counts, ...(await writeRepairs(deps, input, view, writes)) };
  };
}

type RepairDeps = Pick<SyncRuntime, 'topology' | 'store' | 'pseudonymKey' | 'now'>;

/** Writes repair rows into the link's target through the guarded upsert, a batch at a time. */
async function writeRepairs(
  deps: RepairDeps,
  input: RepairRangeInput,
  view: LinkView,
  writes: readonly SyncRow[],
): Promise<{ repaired: number; refused: number }> {
  const target = await deps.store(input.link.target);
  const table = view.targetTable.canonical;
  const keyColumns = view.sourceTable.keyColumns;
  const residency = residencyFor(view.flow, input.link, table);
  const guard = guardFor(residency);
  const policy = conflictPolicyFor(deps.topology, view.flow);
  let repaired = 0;
  let refused = 0;
  for (let i = 0; i < writes.length; i += REPAIR_BATCH) {
    const batch = writes
      .slice(i, i + REPAIR_BATCH)
      .map((r) => withoutEmptyForbidden(r, guard.forbiddenColumns));
    const at = deps.now().toISOString();
    const first = batch[0] as SyncRow;
    const result = await target.applyPage({
      table: view.targetTable,
      rows: batch,
      policy,
      guard,
      // Repairs keep their own checkpoint row: the link's incremental cursor does not move.
      checkpoint: {
        ...input.link,
        table: `${table}:repair`,
        cursor: { change: '0', key: keyOf(first.values, keyColumns) },
        runId: input.runId,
        updatedAt: at,
      },
      audit: {
        ...input.link,
        runId: input.runId,
        table,
        policy: `repair; ${policyLabel(policy)}; ${residencyLabel(residency)}`,
        at,
      },
    });
    if (result.kind === 'rejected') refused += batch.length;
    else {
      repaired += result.inserted + result.updated;
      refused += result.lostConflicts;
    }
  }
  return { repaired, refused };
}

/**
 * A tombstone made from a target row still carries the columns residency keeps out of the target,
 * empty (e.g. an EU customer's name in the hub): they are left out so the guard lets it through.
 * A forbidden column that holds a value is kept, and the guard refuses the row.
 */
function withoutEmptyForbidden(row: SyncRow, forbidden: readonly string[]): SyncRow {
  if (!forbidden.some((c) => c in row.values && row.values[c] === null)) return row;
  const values = { ...row.values };
  for (const c of forbidden) if (values[c] === null) delete values[c];
  return { ...row, values };
}

/** A tombstone of a target row, one millisecond newer than it so it wins a last-writer tie. */
function tombstoneOf(row: SyncRow, notBefore?: string): SyncRow {
  const after = new Date(Date.parse(row.modifiedAt) + 1).toISOString();
  return {
    ...row,
    isDeleted: true,
    modifiedAt: notBefore !== undefined && Date.parse(notBefore) > Date.parse(after) ? notBefore : after,
  };
}

/**
 * The repair of one range of an order flow, order by order, so a repair never leaves a live
 * header without its lines (nor lines under another version's header): the header decides, under
 * the flow's conflict policy, whose order stands. When the source's header wins (or equals the
 * target's), the target takes the source's header and lines, and its other live lines become
 * tombstones; when the target's header wins, its order is left whole; an order the source no
 * longer has (or that no longer crosses the link) becomes a tombstone with every line.
 */
async function repairOrders(
  deps: RepairDeps,
  input: RepairRangeInput,
  tables: { readonly header: string; readonly lines: string },
): Promise<{ repaired: number; refused: number }> {
  const headerView = linkView(deps.topology, deps.pseudonymKey, input.link, tables.header);
  const linesView = linkView(deps.topology, deps.pseudonymKey, input.link, tables.lines);
  const source = await deps.store(input.link.source);
  const target = await deps.store(input.link.target);
  const orderColumns = headerView.rangeColumns;
  const side = async (view: LinkView, store: RegionStore, table: TableMapping, from: 'source' | 'target') =>
    collect(store, table, orderColumns, input.range, (r) =>
      from === 'source' ? view.outbound(r) : view.belongs(r) ? r : null,
    );
  const orderOf = (r: SyncRow) => JSON.stringify(keyOf(r.values, orderColumns));
  const byOrder = (rows: readonly SyncRow[]) => {
    const m = new Map<string, SyncRow[]>();
    for (const r of rows) m.set(orderOf(r), [...(m.get(orderOf(r)) ?? []), r]);
    return m;
  };
  const srcHeaders = new Map(
    (await side(headerView, source, headerView.sourceTable, 'source')).map((r) => [orderOf(r), r]),
  );
  const tgtHeaders = new Map(
    (await side(headerView, target, headerView.targetTable, 'target')).map((r) => [orderOf(r), r]),
  );
  const srcLines = byOrder(await side(linesView, source, linesView.sourceTable, 'source'));
  const tgtLines = byOrder(await side(linesView, target, linesView.targetTable, 'target'));
  const policy = conflictPolicyFor(deps.topology, headerView.flow);
  const headerColumns = [...Object.keys(headerView.sourceTable.columns)].sort();
  const lineKey = (r: SyncRow) => JSON.stringify(keyOf(r.values, linesView.sourceTable.keyColumns));
  const headerWrites: SyncRow[] = [];
  const lineWrites: SyncRow[] = [];
  let kept = 0;
  const orders = new Set([
    ...srcHeaders.keys(),
    ...tgtHeaders.keys(),
    ...srcLines.keys(),
    ...tgtLines.keys(),
  ]);
  for (const order of orders) {
    const sh = srcHeaders.get(order);
    const th = tgtHeaders.get(order);
    const sl = srcLines.get(order) ?? [];
    const tl = tgtLines.get(order) ?? [];
    if (sh === undefined) {
      // Gone from the source (or no longer crossing): the target's order, header and lines, goes.
      if (th !== undefined && !th.isDeleted) headerWrites.push(tombstoneOf(th));
      for (const l of tl) if (!l.isDeleted) lineWrites.push(tombstoneOf(l, th?.modifiedAt));
      continue;
    }
    const decision = th === undefined ? 'insert' : resolveConflict(th, sh, policy, headerColumns);
    if (decision === 'keep') {
      kept++;
      continue;
    }
    if (decision !== 'unchanged') headerWrites.push(sh);
    const incoming = new Set(sl.map(lineKey));
    lineWrites.push(...sl);
    for (const l of tl)
      if (!l.isDeleted && !incoming.has(lineKey(l))) lineWrites.push(tombstoneOf(l, sh.modifiedAt));
  }
  // Lines first: a reader that sees a repaired live header also sees its lines.
  const lines = await writeRepairs(deps, input, linesView, lineWrites);
  const headers = await writeRepairs(deps, input, headerView, headerWrites);
  return { repaired: lines.repaired + headers.repaired, refused: lines.refused + headers.refused + kept };
}
