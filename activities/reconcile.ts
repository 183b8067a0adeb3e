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
 */
import { keyOf } from '../sync/cursor.js';
import { keyHash } from '../sync/digest.js';
import type { KeyRange, LinkId, SqlValue, SyncRow, TableMapping } from '../sync/model.js';
import type { RegionStore } from '../sync/ports.js';
import { differingRanges, diffRows, inRange, RangeAccumulator, splitKeySpace } from '../sync/reconcile.js';
import { applyResidency, guardFor, matchesPredicate, residencyLabel } from '../sync/residency.js';
import { shouldSend } from '../sync/routing.js';
import type { Flow, Topology } from '../sync/topology.js';
import { conflictPolicyFor, residencyFor } from '../sync/topology.js';
import { policyLabel } from '../sync/conflict.js';
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
  /** A source row as the link delivers it, or null when it does not cross. */
  readonly outbound: (row: SyncRow) => SyncRow | null;
  /** Whether a target row belongs to the link. */
  readonly belongs: (row: SyncRow) => boolean;
}

function linkView(topology: Topology, pseudonymKey: string | null, link: LinkId, table: string): LinkView {
  const flow = flowOf(topology, link.flow);
  const residency = residencyFor(flow, link, table);
  return {
    flow,
    sourceTable: mappingOf(flow, table, link.source),
    targetTable: mappingOf(flow, table, link.target),
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
    const src = new RangeAccumulator(ranges, view.sourceTable.keyColumns, columns);
    const tgt = new RangeAccumulator(ranges, view.targetTable.keyColumns, columns);
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
  range: KeyRange,
  keep: (row: SyncRow) => SyncRow | null,
): Promise<SyncRow[]> {
  const out: SyncRow[] = [];
  for await (const r of scan(store, table)) {
    if (!inRange(keyHash(keyOf(r.values, table.keyColumns)), range)) continue;
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
    const src = await collect(source, view.sourceTable, input.range, view.outbound);
    const tgt = await collect(target, view.targetTable, input.range, (r) => (view.belongs(r) ? r : null));
    const diff = diffRows(src, tgt, keyColumns, columns);
    const matched = src.length - diff.missing.length - diff.differing.length;
    const extraKeys = new Set(diff.extra.map((k) => JSON.stringify(k)));
    const tombstones: SyncRow[] = tgt
      .filter((r) => !r.isDeleted && extraKeys.has(JSON.stringify(keyOf(r.values, keyColumns))))
      .map((r) => ({
        ...r,
        isDeleted: true,
        modifiedAt: new Date(Date.parse(r.modifiedAt) + 1).toISOString(),
      }));
    const counts = {
      matched,
      missing: diff.missing.length,
      extra: diff.extra.length,
      differing: diff.differing.length,
    };
    if (input.dryRun) return { ...counts, repaired: 0, refused: 0 };

    const residency = residencyFor(view.flow, input.link, input.table);
    const policy = conflictPolicyFor(deps.topology, view.flow);
    const writes = [...diff.missing, ...diff.differing.map((d) => d.source), ...tombstones];
    let repaired = 0;
    let refused = 0;
    for (let i = 0; i < writes.length; i += REPAIR_BATCH) {
      const batch = writes.slice(i, i + REPAIR_BATCH);
      const at = deps.now().toISOString();
      const first = batch[0] as SyncRow;
      const result = await target.applyPage({
        table: view.targetTable,
        rows: batch,
        policy,
        guard: guardFor(residency),
        // Repairs keep their own checkpoint row: the link's incremental cursor does not move.
        checkpoint: {
          ...input.link,
          table: `${input.table}:repair`,
          cursor: { change: '0', key: keyOf(first.values, keyColumns) },
          runId: input.runId,
          updatedAt: at,
        },
        audit: {
          ...input.link,
          runId: input.runId,
          table: input.table,
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
    return { ...counts, repaired, refused };
  };
}
