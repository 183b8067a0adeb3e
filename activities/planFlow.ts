import type { PlanFlowInput, PlanFlowOutput } from './contracts.js';
import type { SyncRuntime } from './runtime.js';
import { hubOf, linksOf } from '../sync/topology.js';

/**
 * The links a run of a flow walks: inbound (into the hub) first, then outbound. With a zone, only
 * the zone's outgoing links (push model: the source zone's app runs a link).
 */
export function createPlanFlow(
  deps: Pick<SyncRuntime, 'topology'> & Partial<Pick<SyncRuntime, 'zone' | 'pageWorkers'>>,
) {
  return async function planFlow(input: PlanFlowInput): Promise<PlanFlowOutput> {
    const flow = deps.topology.flows.find((f) => f.name === input.flow);
    if (flow === undefined) return { kind: 'unknown-flow', flow: input.flow };
    // Page work follows within milliseconds: the page workers start while the run fans out.
    deps.pageWorkers?.warm();
    const hub = hubOf(deps.topology).id;
    const only = input.regions === undefined || input.regions.length === 0 ? null : new Set(input.regions);
    // The hub is one end of every link, so naming it selects them all.
    const links = linksOf(deps.topology, flow, deps.zone).filter(
      (l) => only === null || only.has(l.source) || only.has(l.target),
    );
    return {
      kind: 'planned',
      inbound: links.filter((l) => l.target === hub),
      outbound: links.filter((l) => l.source === hub),
      tables: flow.tables.map((t) => t.canonical),
      pageSize: flow.pageSize,
      concurrencyPerTarget: flow.concurrencyPerTarget,
    };
  };
}
