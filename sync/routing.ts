/**
 * Loop prevention (ARCHITECTURE §4): a row never goes back to its origin region; a spoke sends
 * only rows that originated in it (everything else it holds came from the hub, which has it); the
 * hub sends its own rows, and forwards spoke-originated rows to other spokes only when the flow
 * says so.
 */
import type { LinkId, RegionId } from './model.js';
import type { Flow, Topology } from './topology.js';
import { hubOf } from './topology.js';

export function shouldSend(originRegion: RegionId, link: LinkId, flow: Flow, topology: Topology): boolean {
  if (originRegion === link.target) return false;
  const hub = hubOf(topology).id;
  if (link.source !== hub) return originRegion === link.source;
  if (originRegion === hub) return true;
  return flow.forwardSpokeOrigins;
}
