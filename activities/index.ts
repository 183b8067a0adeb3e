import type { Telemetry } from '../adapters/telemetry.js';
import { silentTelemetry } from '../adapters/telemetry.js';
import { batchTelemetry } from './activityTelemetry.js';
import { createApplyPage } from './applyPage.js';
import { batchInputs } from './batchInputs.js';
import { createBeginLink } from './beginLink.js';
import { activities } from './contracts.js';
import { createExtractPage } from './extractPage.js';
import { createPlanFlow } from './planFlow.js';
import { createRecordRun } from './recordRun.js';
import { createCompareLink, createRepairRange } from './reconcile.js';
import { registerActivityGroup } from './registration.js';
import type { SyncRuntime } from './runtime.js';
import { createWriteReport } from './writeReport.js';

/** Registers every batch-sync activity over the runtime's ports. */
export function registerActivities(runtime: SyncRuntime, telemetry: Telemetry = silentTelemetry): void {
  registerActivityGroup(
    activities,
    {
      handlers: {
        planFlow: createPlanFlow(runtime),
        beginLink: createBeginLink(runtime),
        extractPage: createExtractPage(runtime),
        applyPage: createApplyPage(runtime),
        compareLink: createCompareLink(runtime),
        repairRange: createRepairRange(runtime),
        writeReport: createWriteReport(runtime),
        recordRun: createRecordRun(runtime),
      },
      inputs: batchInputs,
      telemetry: batchTelemetry,
    },
    telemetry,
    () => runtime.now(),
  );
}
