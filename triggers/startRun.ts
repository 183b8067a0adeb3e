import type { DurableClient } from 'durable-functions';
import type { RunRequest } from '../activities/contracts.js';
import { orchestrators } from '../orchestrators/contracts.js';
import type { FlowSyncInput } from '../orchestrators/flowSync.js';
import { instanceIdFor } from './syncRequest.js';
import type { TelemetryLog } from '../sync/telemetry.js';
import { TELEMETRY_EVENT } from '../sync/telemetry.js';

const ACTIVE = new Set(['Running', 'Pending', 'ContinuedAsNew']);

async function isActive(client: DurableClient, instanceId: string): Promise<boolean> {
  try {
    const status = await client.getStatus(instanceId, { showInput: false });
    return ACTIVE.has(String(status.runtimeStatus));
  } catch {
    return false; // no such instance yet (the client throws on 404)
  }
}

/**
 * Starts flowSync under the request's deterministic id unless a run with that id is active.
 * Two identical requests racing both see no run; the store refuses the second start, which is
 * then answered like any other duplicate.
 */
export async function startRun(
  client: DurableClient,
  request: RunRequest,
  log?: TelemetryLog,
): Promise<{ instanceId: string; started: boolean }> {
  const result = await startOrFind(client, request);
  log?.info(TELEMETRY_EVENT.runRequested, {
    flow: request.flow,
    mode: request.mode,
    dryRun: request.dryRun,
    trigger: request.trigger,
    instanceId: result.instanceId,
    started: result.started,
  });
  return result;
}

async function startOrFind(
  client: DurableClient,
  request: RunRequest,
): Promise<{ instanceId: string; started: boolean }> {
  const instanceId = instanceIdFor(request);
  if (await isActive(client, instanceId)) return { instanceId, started: false };
  try {
    await client.startNew(orchestrators.flowSync.name, {
      instanceId,
      input: { request } satisfies FlowSyncInput,
    });
    return { instanceId, started: true };
  } catch (e) {
    if (await isActive(client, instanceId)) return { instanceId, started: false };
    throw e;
  }
}
