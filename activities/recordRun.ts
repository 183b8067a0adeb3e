import type { RecordRunInput, RecordRunOutput } from './contracts.js';
import type { SyncRuntime } from './runtime.js';
import { retentionCutoff } from './runtime.js';

/**
 * Writes a run's record. At a run's start it also applies the retention (records of runs started
 * more than `runRetentionDays` ago are deleted), so history stays bounded without a timer of its own.
 */
export function createRecordRun(deps: Pick<SyncRuntime, 'runs' | 'runRetentionDays' | 'now'>) {
  return async function recordRun(input: RecordRunInput): Promise<RecordRunOutput> {
    await deps.runs.put(input.record);
    if (input.record.status !== 'running') return { pruned: 0 };
    return {
      pruned: await deps.runs.pruneStartedBefore(retentionCutoff(deps.now(), deps.runRetentionDays)),
    };
  };
}
