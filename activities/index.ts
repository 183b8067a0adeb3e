import * as df from 'durable-functions';
import type { Telemetry } from '../adapters/telemetry.js';
import { silentTelemetry } from '../adapters/telemetry.js';
import { batchTelemetry, withTelemetry } from './activityTelemetry.js';
import { createApplyPage } from './applyPage.js';
import { createBeginLink } from './beginLink.js';
import { activities } from './contracts.js';
import { createExtractPage } from './extractPage.js';
import { createPlanFlow } from './planFlow.js';
import { createRecordRun } from './recordRun.js';
import { createCompareLink, createRepairRange } from './reconcile.js';
import type { SyncRuntime } from './runtime.js';
import { createWriteReport } from './writeReport.js';

/** Registers every batch-sync activity over the runtime's ports. */
export function registerActivities(runtime: SyncRuntime, telemetry: Telemetry = silentTelemetry): void {
  const handlers: Record<keyof typeof activities, (input: never) => Promise<unknown>> = {
    planFlow: createPlanFlow(runtime),
    beginLink: createBeginLink(runtime),
    extractPage: createExtractPage(runtime),
    applyPage: createApplyPage(runtime),
    compareLink: createCompareLink(runtime),
    repairRange: createRepairRange(runtime),
    writeReport: createWriteReport(runtime),
    recordRun: createRecordRun(runtime),
  };
  for (const [key, handler] of Object.entries(handlers)) {
    const name = activities[key as keyof typeof activities].name;
    const run = withTelemetry(name, handler, batchTelemetry[key], telemetry, () => runtime.now());
    df.app.activity(name, { handler: (input: unknown, context) => run(input, context) });
  }
}
