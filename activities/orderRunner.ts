/**
 * Whether the orchestration holding an order's turn still runs, from the durable client (the same
 * question the Durable HTTP API answers). Orchestrations cannot ask this themselves, so the
 * orderIngest runner that finds a long-held turn calls this activity before taking it over.
 */
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import type { RunnerStatusInput, RunnerStatusOutput } from './orderContracts.js';

/** Statuses in which an instance may still act on its turn. */
const ALIVE: ReadonlySet<string> = new Set([
  df.OrchestrationRuntimeStatus.Running,
  df.OrchestrationRuntimeStatus.Pending,
  df.OrchestrationRuntimeStatus.ContinuedAsNew,
  df.OrchestrationRuntimeStatus.Suspended,
]);

/** The runtime status of `instanceId` (`missing` when purged or never created). */
export async function runnerStatus(
  client: DurableClient,
  input: RunnerStatusInput,
): Promise<RunnerStatusOutput> {
  const status = await client.getStatus(input.instanceId).catch((e: unknown) => {
    // The client answers a missing instance with a 404 error on some versions, undefined on others.
    if (/404|not found/i.test((e as Error).message)) return undefined;
    throw e;
  });
  const runtimeStatus = status?.runtimeStatus;
  if (runtimeStatus === undefined) return { alive: false, status: 'missing' };
  return { alive: ALIVE.has(runtimeStatus), status: runtimeStatus };
}
