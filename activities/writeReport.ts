import type { WriteReportInput, WriteReportOutput } from './contracts.js';
import type { SyncRuntime } from './runtime.js';

/** Name of a run's reconciliation report, beside its staged pages. */
export function reportBlobName(flow: string, runId: string): string {
  return `${flow}/${runId}/report.json`;
}

/** Stores a run's reconciliation report (matched, repaired, refused by policy, per link) in blob. */
export function createWriteReport(deps: Pick<SyncRuntime, 'blobs'>) {
  return async function writeReport(input: WriteReportInput): Promise<WriteReportOutput> {
    const name = reportBlobName(input.flow, input.runId);
    await deps.blobs.writeJson(name, { ...input.report, reportBlob: name });
    return { blob: name };
  };
}
