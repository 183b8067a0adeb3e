/**
 * The orchestrations' logger (STYLE §6): the same JSON lines as activities and triggers
 * (sync/telemetry.ts), written through the orchestration's own context, and only when the
 * orchestrator is not replaying, so each event is logged once however often its code re-runs.
 */
import type { OrchestrationContext } from 'durable-functions';
import type { Correlation, TelemetryEventName, TelemetryFields, TelemetryLog } from '../sync/telemetry.js';
import { telemetryLine } from '../sync/telemetry.js';

let baseFields: Readonly<Record<string, string>> = {};

/**
 * Fields on every orchestration line (`zone`), set once by the composition root at start-up:
 * orchestrators cannot read settings, and the zone of an app never changes while it runs.
 */
export function setOrchestrationLogBase(fields: Readonly<Record<string, string>>): void {
  baseFields = Object.freeze({ ...fields });
}

/** A logger for one orchestration: its instance id and `correlation` go on every line. */
export function replaySafeLog(context: OrchestrationContext, correlation: Correlation = {}): TelemetryLog {
  const write =
    (level: 'log' | 'warn' | 'error') =>
    (event: TelemetryEventName, fields: TelemetryFields = {}): void => {
      if (context.df.isReplaying) return;
      context[level](
        telemetryLine(event, baseFields, { ...correlation, instanceId: context.df.instanceId, ...fields }),
      );
    };
  return { info: write('log'), warn: write('warn'), error: write('error') };
}
