import type { InvocationContext, Timer } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import type { SyncMode } from '../activities/contracts.js';
import type { Telemetry } from '../adapters/telemetry.js';
import { silentTelemetry } from '../adapters/telemetry.js';
import { startRun } from './startRun.js';

/** Nightly incremental / monthly full compare of one flow: the same run an HTTP request starts. */
export function createScheduledSync(flow: string, mode: SyncMode, telemetry: Telemetry = silentTelemetry) {
  return async function scheduledSync(
    _timer: Timer,
    client: DurableClient,
    context: InvocationContext,
  ): Promise<void> {
    const { instanceId, started } = await startRun(
      client,
      { flow, mode, dryRun: false, trigger: 'timer' },
      telemetry.forInvocation(context).log,
    );
    context.log(
      started ? `scheduled ${mode} run of ${flow}: ${instanceId}` : `${instanceId} still running; skipped`,
    );
  };
}
