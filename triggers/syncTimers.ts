import type { InvocationContext, Timer } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import type { SyncMode } from '../activities/contracts.js';
import { startRun } from './startRun.js';

/** Nightly incremental / monthly full compare of one flow: the same run an HTTP request starts. */
export function createScheduledSync(flow: string, mode: SyncMode) {
  return async function scheduledSync(
    _timer: Timer,
    client: DurableClient,
    context: InvocationContext,
  ): Promise<void> {
    const { instanceId, started } = await startRun(client, { flow, mode, dryRun: false, trigger: 'timer' });
    context.log(
      started ? `scheduled ${mode} run of ${flow}: ${instanceId}` : `${instanceId} still running; skipped`,
    );
  };
}
