import type { SyncRuntime } from './runtime.js';
import { retentionCutoff } from './runtime.js';

/**
 * Staging retention: deletes the staged pages last modified more than `stagingRetentionDays` ago
 * (never reports). A plain function the daily `purgeStaging` timer calls, not a durable activity:
 * one call with nothing to resume, and a failed day is simply done again by the next one.
 */
export function createPurgeStaging(deps: Pick<SyncRuntime, 'staging' | 'stagingRetentionDays' | 'now'>) {
  return async function purgeStaging(): Promise<{ cutoff: string; deleted: number }> {
    const cutoff = retentionCutoff(deps.now(), deps.stagingRetentionDays);
    return { cutoff, deleted: await deps.staging.purgeOlderThan(cutoff) };
  };
}
