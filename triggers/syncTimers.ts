import type { InvocationContext, Timer } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import { firstLine } from '../activities/activityTelemetry.js';
import type { SyncMode } from '../activities/contracts.js';
import { createPurgeStaging } from '../activities/purgeStaging.js';
import type { SyncRuntime } from '../activities/runtime.js';
import type { Telemetry } from '../adapters/telemetry.js';
import { silentTelemetry } from '../adapters/telemetry.js';
import { TELEMETRY_EVENT } from '../sync/telemetry.js';
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

/**
 * Daily staging retention: purges staged pages older than the retention and logs how many it
 * deleted and how long it took. A failure is logged with its reason and rethrown, so the host
 * records a failed invocation; the next day's run purges what this one left.
 */
export function createStagingPurge(
  runtime: Pick<SyncRuntime, 'staging' | 'stagingRetentionDays' | 'now'>,
  telemetry: Telemetry = silentTelemetry,
) {
  const purge = createPurgeStaging(runtime);
  return async function stagingPurge(_timer: Timer, context: InvocationContext): Promise<void> {
    const { log } = telemetry.forInvocation(context);
    const started = performance.now();
    const retentionDays = runtime.stagingRetentionDays;
    const durationMs = () => Math.round(performance.now() - started);
    try {
      const { cutoff, deleted } = await purge();
      log.info(TELEMETRY_EVENT.stagingPurged, { deleted, cutoff, retentionDays, durationMs: durationMs() });
    } catch (e) {
      log.error(TELEMETRY_EVENT.stagingPurgeFailed, {
        retentionDays,
        durationMs: durationMs(),
        error: firstLine(e),
      });
      throw e;
    }
  };
}
