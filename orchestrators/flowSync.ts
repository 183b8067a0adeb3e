/**
 * flowSync: one run of one flow (ARCHITECTURE §5). Plans the flow's links, then in two waves --
 * links into the hub first, links out of the hub second, so one run also forwards what the spokes
 * brought -- fans out pairSync sub-orchestrations with at most `concurrencyPerTarget` links writing
 * into one region at once (fanOut.ts). A full compare then reconciles each wave's links (counts +
 * checksums per key range, repairs through the guarded upsert) and stores a reconciliation report.
 *
 * Progress (pages, rows, links done / total, per link) is the custom status, updated whenever a
 * pairSync call hands back (every few pages). Long runs continue as new between sub-orchestrations.
 * The run is recorded in the run history when it starts and when it ends (best effort).
 */
import type { OrchestrationContext, Task } from 'durable-functions';
import type { RunRequest, SyncReport } from '../activities/contracts';
import { activities, callActivity } from '../activities/contracts';
import type { LinkId } from '../sync/model.js';
import type { RunRecord } from '../sync/runHistory.js';
import { TELEMETRY_EVENT, linkLabel } from '../sync/telemetry.js';
import type { LinkProgress, ReconcileLinkOutput } from './contracts.js';
import { linkKey, orchestrators, startSubOrchestration } from './contracts.js';
import type { FanOutItem, FanOutLimits } from './fanOut.js';
import { fanOut } from './fanOut.js';
import type { FlowState } from './flowState.js';
import { newFlowState, progressStatus, reportOf, runFailure, runRecordOf } from './flowState.js';
import { replaySafeLog } from './replaySafeLog.js';

/** Pages a pairSync call walks before handing progress back. */
export const PAGES_PER_CALL = 8;
/** pairSync continues as new after this many pages. */
export const PAGES_PER_GENERATION = 4;
/** Sub-orchestrations completed in one flowSync generation before it continues as new. */
export const COMPLETIONS_PER_GENERATION = 60;
/** Links running at once over the whole flow, whatever the per-target caps say. */
export const MAX_LINKS_AT_ONCE = 16;
/** Key-hash ranges per table in a full compare, and ranges repaired at once. */
export const RECONCILE_RANGES = 64;
export const REPAIR_CONCURRENCY = 4;

/** Batch sizes of the orchestration itself (defaults above); operators and tests may lower them. */
export interface FlowTuning {
  readonly pagesPerCall?: number;
  readonly pagesPerGeneration?: number;
  readonly completionsPerGeneration?: number;
}

export interface FlowSyncInput {
  readonly request: RunRequest;
  readonly state?: FlowState;
  readonly tuning?: FlowTuning;
}

export function* flowSync(
  context: OrchestrationContext,
  input: FlowSyncInput,
): Generator<Task, SyncReport | undefined, unknown> {
  const { request } = input;
  const tuning = input.tuning ?? {};
  let state: FlowState;
  if (input.state !== undefined) state = input.state;
  else {
    const plan = yield* callActivity(context, activities.planFlow, {
      flow: request.flow,
      ...(request.regions === undefined ? {} : { regions: request.regions }),
    });
    if (plan.kind === 'unknown-flow') throw new Error(`unknown flow '${plan.flow}'`);
    state = newFlowState(plan, context.df.instanceId, context.df.currentUtcDateTime);
  }
  const log = replaySafeLog(context, { flowRunId: state.runId, flow: request.flow });
  // A history store outage must not stop a data sync: the record is best effort, the run is not.
  function* record(r: RunRecord): Generator<Task, void, unknown> {
    try {
      yield* callActivity(context, activities.recordRun, { record: r });
    } catch (e) {
      log.warn(TELEMETRY_EVENT.runRecordFailed, {
        error: e instanceof Error ? e.message.split('\n', 1)[0] : String(e),
      });
    }
  }
  if (input.state === undefined) {
    log.info(TELEMETRY_EVENT.runStarted, {
      mode: request.mode,
      dryRun: request.dryRun,
      trigger: request.trigger,
      links: state.plan.inbound.length + state.plan.outbound.length,
    });
  }
  context.df.setCustomStatus(progressStatus(state, request, 0));
  if (input.state === undefined) yield* record(runRecordOf(state, request, context.df.instanceId));

  const waves: readonly (readonly LinkId[])[] = [state.plan.inbound, state.plan.outbound];
  const limits: FanOutLimits = {
    total: MAX_LINKS_AT_ONCE,
    perGroup: Math.max(1, state.plan.concurrencyPerTarget),
  };
  const item = (link: LinkId): FanOutItem => ({ key: linkKey(link), group: link.target });
  const completionsPerGeneration = tuning.completionsPerGeneration ?? COMPLETIONS_PER_GENERATION;
  let completions = 0;

  while (state.wave < waves.length) {
    const wave = waves[state.wave] ?? [];
    if (state.phase === 'walk') {
      // Each link is called again until it is done or failed, a few pages per call.
      const walked = yield* fanOut<LinkProgress>(context, {
        limits,
        ready: () =>
          wave
            .filter((l) => {
              const p = state.progress[linkKey(l)] as LinkProgress;
              return !p.done && p.lastError === null;
            })
            .map(item),
        start: ({ key }) => {
          const p = state.progress[key] as LinkProgress;
          const call = (state.calls[key] ?? 0) + 1;
          state = { ...state, calls: { ...state.calls, [key]: call } };
          if (call === 1)
            log.info(TELEMETRY_EVENT.linkStarted, { link: linkLabel(p.link), wave: state.wave });
          return startSubOrchestration(
            context,
            orchestrators.pairSync,
            {
              runId: state.runId,
              tables: state.plan.tables,
              mode: request.mode,
              ...(request.window === undefined ? {} : { window: request.window }),
              dryRun: request.dryRun,
              pageSize: request.pageSize ?? state.plan.pageSize,
              maxPages: tuning.pagesPerCall ?? PAGES_PER_CALL,
              pagesPerGeneration: tuning.pagesPerGeneration ?? PAGES_PER_GENERATION,
              pagesThisCall: 0,
              progress: p,
            },
            `${state.runId}~${key}~w${call}`,
          );
        },
        finished: ({ key }, outcome, running) => {
          const before = state.progress[key] as LinkProgress;
          const after: LinkProgress = outcome.ok ? outcome.value : { ...before, lastError: outcome.error };
          state = { ...state, progress: { ...state.progress, [key]: after } };
          if (after.lastError !== null)
            log.error(TELEMETRY_EVENT.linkFailed, { link: linkLabel(after.link), error: after.lastError });
          else if (after.done)
            log.info(TELEMETRY_EVENT.linkFinished, {
              link: linkLabel(after.link),
              pages: after.pages,
              rowsRead: after.rowsRead,
              rowsWritten: after.inserted + after.updated,
              lostConflicts: after.lostConflicts,
            });
          context.df.setCustomStatus(progressStatus(state, request, running));
          completions++;
          return completions >= completionsPerGeneration ? 'drain' : 'continue';
        },
      });
      if (walked === 'drained') {
        context.df.continueAsNew({ request, state, tuning } satisfies FlowSyncInput);
        return undefined;
      }
      state = request.mode === 'full' ? { ...state, phase: 'reconcile' } : { ...state, wave: state.wave + 1 };
    } else {
      // One full compare per link of the wave.
      yield* fanOut<ReconcileLinkOutput>(context, {
        limits,
        ready: () => wave.filter((l) => state.reconcile[linkKey(l)] === undefined).map(item),
        start: ({ key }) => {
          const p = state.progress[key] as LinkProgress;
          return startSubOrchestration(
            context,
            orchestrators.reconcileLink,
            {
              runId: state.runId,
              link: p.link,
              tables: state.plan.tables,
              dryRun: request.dryRun,
              ranges: RECONCILE_RANGES,
              repairConcurrency: REPAIR_CONCURRENCY,
            },
            `${state.runId}~${key}~r`,
          );
        },
        finished: ({ key }, outcome, running) => {
          const result = outcome.ok ? outcome.value : { error: outcome.error };
          state = { ...state, reconcile: { ...state.reconcile, [key]: result } };
          const label = linkLabel((state.progress[key] as LinkProgress).link);
          if ('error' in result) log.error(TELEMETRY_EVENT.linkFailed, { link: label, error: result.error });
          else
            log.info(TELEMETRY_EVENT.linkReconciled, {
              link: label,
              matched: result.matched,
              repaired: result.repaired,
              refused: result.refused,
            });
          context.df.setCustomStatus({
            ...progressStatus(state, request, running),
            reconciled: Object.keys(state.reconcile).length,
          });
          return 'continue';
        },
      });
      state = { ...state, phase: 'walk', wave: state.wave + 1 };
    }
  }

  let report = reportOf(state, request, context.df.instanceId, context.df.currentUtcDateTime);
  if (request.mode === 'full') {
    const written = yield* callActivity(context, activities.writeReport, {
      flow: request.flow,
      runId: state.runId,
      report,
    });
    report = { ...report, reportBlob: written.blob };
  }
  context.df.setCustomStatus({ ...progressStatus(state, request, 0), reportBlob: report.reportBlob });
  const failure = runFailure(report);
  const totals = {
    links: report.links.length,
    failedLinks: report.links.filter((l) => l.lastError !== null).length,
    pages: report.totals.pages,
    rowsRead: report.totals.rowsRead,
    rowsWritten: report.totals.rowsWritten,
    repaired: report.totals.repaired,
  };
  if (failure !== null) log.error(TELEMETRY_EVENT.runFailed, totals);
  else log.info(TELEMETRY_EVENT.runFinished, totals);
  yield* record(runRecordOf(state, request, context.df.instanceId, { report, error: failure }));
  // The run did not do its job: fail it (with every link's reason) rather than report success.
  if (failure !== null) throw new Error(failure);
  return report;
}
