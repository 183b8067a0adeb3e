/** Activity outputs the batch-sync replay tests answer with. */
import type { ApplyPageOutput, BeginLinkOutput, ExtractPageOutput } from '../../../activities/contracts';
import type { LinkId } from '../../../sync/model';

export const LINK: LinkId = { flow: 'pricing', source: 'cn', target: 'sea' };

export function begun(over: Partial<BeginLinkOutput> = {}): BeginLinkOutput {
  return { after: null, upTo: '900', checkpointTable: 'price_list', ...over };
}

/** The n-th page (1-based) of two rows, staged, ending at cursor n. */
export function page(n: number, over: Partial<ExtractPageOutput> = {}): ExtractPageOutput {
  return {
    blob: `staged/price_list/${n - 1}`,
    rows: 2,
    read: 2,
    nextCursor: { change: String(n), key: [`SKU-${n}`] },
    hasMore: true,
    ...over,
  };
}

export function applied(inserted: number, over: Partial<Extract<ApplyPageOutput, { kind: 'applied' }>> = {}) {
  return {
    kind: 'applied',
    inserted,
    updated: 0,
    unchanged: 0,
    lostConflicts: 0,
    ...over,
  } satisfies ApplyPageOutput;
}
