/**
 * What leaves a region over one link, page by page: loop prevention, then the link's residency
 * policy. Pure; the extract activity reads the page from the source store and stages the result.
 */
import type { ChangeRow, LinkId, SyncRow } from './model.js';
import type { ResidencyKeys } from './residency.js';
import { applyResidency } from './residency.js';
import { shouldSend } from './routing.js';
import type { Flow, Topology } from './topology.js';
import { residencyFor } from './topology.js';

export interface OutboundPage {
  /** Rows to stage, without cursors, in source order. */
  readonly rows: SyncRow[];
  /** Rows held back because they would go back toward their origin or are not forwarded. */
  readonly heldByLoopPrevention: number;
  /** Rows held back by a residency row predicate. */
  readonly heldByResidency: number;
}

export function prepareOutbound(
  rows: readonly ChangeRow[],
  topology: Topology,
  flow: Flow,
  link: LinkId,
  table: string,
  keys: ResidencyKeys,
): OutboundPage {
  const policy = residencyFor(flow, link, table);
  const out: SyncRow[] = [];
  let loop = 0;
  let residency = 0;
  for (const r of rows) {
    if (!shouldSend(r.originRegion, link, flow, topology)) {
      loop++;
      continue;
    }
    // An explicit literal, not a rest spread: this runs for every row of every page.
    const row: SyncRow = {
      values: r.values,
      modifiedAt: r.modifiedAt,
      originRegion: r.originRegion,
      isDeleted: r.isDeleted,
    };
    const shaped = applyResidency(row, policy, link, keys);
    if (shaped === null) residency++;
    else out.push(shaped);
  }
  return { rows: out, heldByLoopPrevention: loop, heldByResidency: residency };
}
