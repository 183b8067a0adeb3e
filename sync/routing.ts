/**
 * Loop prevention (ARCHITECTURE §4): a row never goes back to its origin region; a spoke sends
 * only rows that originated in it (everything else it holds came from the hub, which has it); the
 * hub sends its own rows, and forwards spoke-originated rows to other spokes only when the flow
 * says so.
 */
import type { LinkId, OriginFilter, RegionId } from './model.js';
import type { Flow, Topology } from './topology.js';
import { hubOf } from './topology.js';

export function shouldSend(originRegion: RegionId, link: LinkId, flow: Flow, topology: Topology): boolean {
  if (originRegion === link.target) return false;
  const hub = hubOf(topology).id;
  if (link.source !== hub) return originRegion === link.source;
  if (originRegion === hub) return true;
  return flow.forwardSpokeOrigins;
}

/**
 * {@link shouldSend} for a whole link as an origin filter, so a store can count what the link will
 * send in SQL without reading the rows (the status endpoint's lag).
 */
export function sentOrigins(link: LinkId, flow: Flow, topology: Topology): OriginFilter {
  const only = (region: RegionId): OriginFilter => ({ in: region === link.target ? [] : [region] });
  const hub = hubOf(topology).id;
  if (link.source !== hub) return only(link.source);
  return flow.forwardSpokeOrigins ? { notIn: [link.target] } : only(hub);
}

/** Whether an origin passes a filter (the filter's meaning, for stores that test it in code). */
export function originPasses(filter: OriginFilter, originRegion: RegionId): boolean {
  return 'in' in filter ? filter.in.includes(originRegion) : !filter.notIn.includes(originRegion);
}
