/**
 * flowSync: one run of one flow (ARCHITECTURE §5). Plans the flow's links, then in two waves --
 * links into the hub first, links out of the hub second, so one run also forwards what the spokes
 * brought -- fans out pairSync sub-orchestrations with at most `concurrencyPerTarget` links writing
 * into one region at once. A full compare then reconciles each wave's links (counts + checksums
 * per key range, repairs through the guarded upsert) and stores a reconciliation report.
 *
 * Progress (pages, rows, links done / total, per link) is the custom status, updated whenever a
 * pairSync call hands back (every few pages). Long runs continue as new between sub-orchestrations.
 */
import type { OrchestrationContext, Task } from 'durable-functions';
import type { LinkResult, PlanFlowOutput, RunRequest, SyncReport } from '../activities/contracts';
import { activities, callActivity } from '../activities/contracts';
import type { LinkId } from '../sync/model.js';
import type { RunRecord } from '../sync/runHistory.js';
import type { LinkProgress, ReconcileLinkOutput, TypedSubTask } from './contracts.js';
import { emptyProgress, linkKey, orchestrators, startSubOrchestration } from './contracts.js';
import { replaySafeLog } from './replaySafeLog.js';
import { TELEMETRY_EVENT, linkLabel } from '../sync/telemetry.js';

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

type Planned = Extract<PlanFlowOutput, { kind: 'planned' }>;

export interface FlowState {
  readonly runId: string;
  readonly startedAt: string;
  readonly plan: Planned;
  readonly wave: number;
  readonly phase: 'walk' | 'reconcile';
  readonly progress: Readonly<Record<string, LinkProgress>>;
  readonly reconcile: Readonly<Record<string, ReconcileLinkOutput | { error: string }>>;
  /** pairSync calls made per link (sub-orchestration ids). */
  readonly calls: Readonly<Record<string, number>>;
}

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

/** Compact UTC timestamp for run ids, to the millisecond: 20261127T030512.345Z. */
function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '');
}

/** The first line of a failure (durable-functions appends the remote stack as JSON lines). */
function errorText(task: Task): string {
  const r = task.result;
  const text = r instanceof Error ? r.message : String(r);
  const first = text.split('\n', 1)[0] ?? text;
  return first.length > 500 ? `${first.slice(0, 500)}...` : first.trim();
}

export function progressStatus(state: FlowState, request: RunRequest, running: number) {
  const all = Object.values(state.progress);
  const total = state.plan.inbound.length + state.plan.outbound.length;
  return {
    runId: state.runId,
    flow: request.flow,
    mode: request.mode,
    dryRun: request.dryRun,
    phase: state.phase,
    wave: state.wave,
    links: {
      done: all.filter((p) => p.done).length,
      failed: all.filter((p) => p.lastError !== null).length,
      total,
      running,
    },
    pages: all.reduce((n, p) => n + p.pages, 0),
    rows: all.reduce((n, p) => n + p.rowsRead, 0),
    written: all.reduce((n, p) => n + p.inserted + p.updated, 0),
    perLink: Object.fromEntries(
      all.map((p) => [
        linkKey(p.link),
        {
          pages: p.pages,
          rows: p.rowsRead,
          written: p.inserted + p.updated,
          done: p.done,
          lastError: p.lastError,
        },
      ]),
    ),
  };
}

/** The run's history record (sync/runHistory.ts): at its start, and with its results at its end. */
export function runRecordOf(
  state: FlowState,
  request: RunRequest,
  instanceId: string,
  end?: { report: SyncReport; error: string | null },
): RunRecord {
  return {
    runId: state.runId,
    instanceId,
    flow: request.flow,
    mode: request.mode,
    window: request.window ?? null,
    regions: request.regions ?? null,
    dryRun: request.dryRun,
    trigger: request.trigger,
    startedAt: state.startedAt,
    finishedAt: end?.report.finishedAt ?? null,
    status: end === undefined ? 'running' : end.error === null ? 'completed' : 'failed',
    plannedLinks: [...state.plan.inbound, ...state.plan.outbound].map(linkKey),
    links: end?.report.links ?? [],
    totals:
      end === undefined
        ? null
        : {
            pages: end.report.totals.pages,
            rowsRead: end.report.totals.rowsRead,
            rowsWritten: end.report.totals.rowsWritten,
            repaired: end.report.totals.repaired,
          },
    reportBlob: end?.report.reportBlob ?? null,
    error: end?.error ?? null,
  };
}

interface Job<O> {
  readonly key: string;
  readonly target: string;
  readonly sub: TypedSubTask<O>;
}

export function* flowSync(
  context: OrchestrationContext,
  input: FlowSyncInput,
): Generator<Task, SyncReport | undefined, unknown> {
  const request = input.request;
  const tuning = input.tuning ?? {};
  let state: FlowState;
  if (input.state !== undefined) state = input.state;
  else {
    const plan = yield* callActivity(context, activities.planFlow, {
      flow: request.flow,
      ...(request.regions === undefined ? {} : { regions: request.regions }),
    });
    if (plan.kind === 'unknown-flow') throw new Error(`unknown flow '${plan.flow}'`);
    const now = context.df.currentUtcDateTime;
    const progress: Record<string, LinkProgress> = {};
    for (const link of [...plan.inbound, ...plan.outbound]) progress[linkKey(link)] = emptyProgress(link);
    state = {
      runId: `${context.df.instanceId}.${stamp(now)}`,
      startedAt: now.toISOString(),
      plan,
      wave: 0,
      phase: 'walk',
      progress,
      reconcile: {},
      calls: {},
    };
  }
  const log = replaySafeLog(context, { flowRunId: state.runId, flow: request.flow });
  if (input.state === undefined)
    log.info(TELEMETRY_EVENT.runStarted, {
      mode: request.mode,
      dryRun: request.dryRun,
      trigger: request.trigger,
      links: state.plan.inbound.length + state.plan.outbound.length,
    });
  const waves: readonly (readonly LinkId[])[] = [state.plan.inbound, state.plan.outbound];
  const pageSize = request.pageSize ?? state.plan.pageSize;
  const cap = Math.max(1, state.plan.concurrencyPerTarget);
  let completions = 0;
  context.df.setCustomStatus(progressStatus(state, request, 0));
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
  if (input.state === undefined) yield* record(runRecordOf(state, request, context.df.instanceId));

  while (state.wave < waves.length) {
    const wave = waves[state.wave] ?? [];
    if (state.phase === 'walk') {
      const running: Job<LinkProgress>[] = [];
      let draining = false;
      for (;;) {
        if (!draining) {
          for (const link of wave) {
            const key = linkKey(link);
            const p = state.progress[key] as LinkProgress;
            if (p.done || p.lastError !== null || running.some((j) => j.key === key)) continue;
            if (running.length >= MAX_LINKS_AT_ONCE) break;
            if (running.filter((j) => j.target === link.target).length >= cap) continue;
            const call = (state.calls[key] ?? 0) + 1;
            state = { ...state, calls: { ...state.calls, [key]: call } };
            if (call === 1)
              log.info(TELEMETRY_EVENT.linkStarted, { link: linkLabel(link), wave: state.wave });
            const sub = startSubOrchestration(
              context,
              orchestrators.pairSync,
              {
                runId: state.runId,
                tables: state.plan.tables,
                mode: request.mode,
                ...(request.window === undefined ? {} : { window: request.window }),
                dryRun: request.dryRun,
                pageSize,
                maxPages: tuning.pagesPerCall ?? PAGES_PER_CALL,
                pagesPerGeneration: tuning.pagesPerGeneration ?? PAGES_PER_GENERATION,
                pagesThisCall: 0,
                progress: p,
              },
              `${state.runId}~${key}~w${call}`,
            );
            running.push({ key, target: link.target, sub });
          }
        }
        if (running.length === 0) break;
        const winner = (yield context.df.Task.any(running.map((j) => j.sub.task))) as Task;
        const index = running.findIndex((j) => j.sub.task === winner);
        const job = running[index] as Job<LinkProgress>;
        running.splice(index, 1);
        const before = state.progress[job.key] as LinkProgress;
        const after: LinkProgress = winner.isFaulted
          ? { ...before, lastError: errorText(winner) }
          : job.sub.result();
        state = { ...state, progress: { ...state.progress, [job.key]: after } };
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
        context.df.setCustomStatus(progressStatus(state, request, running.length));
        completions++;
        if (completions >= (tuning.completionsPerGeneration ?? COMPLETIONS_PER_GENERATION)) draining = true;
        if (draining && running.length === 0) {
          context.df.continueAsNew({ request, state, tuning } satisfies FlowSyncInput);
          return undefined;
        }
      }
      state = request.mode === 'full' ? { ...state, phase: 'reconcile' } : { ...state, wave: state.wave + 1 };
    } else {
      const jobs: Job<ReconcileLinkOutput>[] = [];
      const pending = wave.filter((l) => state.reconcile[linkKey(l)] === undefined);
      while (pending.length > 0 || jobs.length > 0) {
        while (pending.length > 0 && jobs.length < MAX_LINKS_AT_ONCE) {
          const i = pending.findIndex((l) => jobs.filter((j) => j.target === l.target).length < cap);
          if (i < 0) break;
          const link = pending.splice(i, 1)[0] as LinkId;
          const key = linkKey(link);
          const sub = startSubOrchestration(
            context,
            orchestrators.reconcileLink,
            {
              runId: state.runId,
              link,
              tables: state.plan.tables,
              dryRun: request.dryRun,
              ranges: RECONCILE_RANGES,
              repairConcurrency: REPAIR_CONCURRENCY,
            },
            `${state.runId}~${key}~r`,
          );
          jobs.push({ key, target: link.target, sub });
        }
        const winner = (yield context.df.Task.any(jobs.map((j) => j.sub.task))) as Task;
        const index = jobs.findIndex((j) => j.sub.task === winner);
        const job = jobs[index] as Job<ReconcileLinkOutput>;
        jobs.splice(index, 1);
        const outcome = winner.isFaulted ? { error: errorText(winner) } : job.sub.result();
        state = { ...state, reconcile: { ...state.reconcile, [job.key]: outcome } };
        const label = linkLabel((state.progress[job.key] as LinkProgress).link);
        if ('error' in outcome) log.error(TELEMETRY_EVENT.linkFailed, { link: label, error: outcome.error });
        else
          log.info(TELEMETRY_EVENT.linkReconciled, {
            link: label,
            matched: outcome.matched,
            repaired: outcome.repaired,
            refused: outcome.refused,
          });
        context.df.setCustomStatus({
          ...progressStatus(state, request, jobs.length),
          reconciled: Object.keys(state.reconcile).length,
        });
      }
      state = { ...state, phase: 'walk', wave: state.wave + 1 };
    }
  }

  const links: LinkResult[] = Object.values(state.progress).map((p) => {
    const r = state.reconcile[linkKey(p.link)];
    const reconcile = r === undefined || 'error' in r ? null : r;
    const reconcileError = r !== undefined && 'error' in r ? `reconcile: ${r.error}` : null;
    return {
      link: p.link,
      pages: p.pages,
      rowsRead: p.rowsRead,
      rowsStaged: p.rowsStaged,
      inserted: p.inserted,
      updated: p.updated,
      unchanged: p.unchanged,
      lostConflicts: p.lostConflicts,
      rejectedPages: p.rejectedPages,
      done: p.done,
      lastError: p.lastError ?? reconcileError,
      reconcile,
    };
  });
  const sum = (f: (l: LinkResult) => number) => links.reduce((n, l) => n + f(l), 0);
  let report: SyncReport = {
    runId: state.runId,
    instanceId: context.df.instanceId,
    request,
    startedAt: state.startedAt,
    finishedAt: context.df.currentUtcDateTime.toISOString(),
    links,
    totals: {
      pages: sum((l) => l.pages),
      rowsRead: sum((l) => l.rowsRead),
      rowsWritten: sum((l) => l.inserted + l.updated),
      matched: sum((l) => l.reconcile?.matched ?? 0),
      repaired: sum((l) => l.reconcile?.repaired ?? 0),
      refused: sum((l) => l.reconcile?.refused ?? 0),
    },
    reportBlob: null,
  };
  if (request.mode === 'full') {
    const written = yield* callActivity(context, activities.writeReport, {
      flow: request.flow,
      runId: state.runId,
      report,
    });
    report = { ...report, reportBlob: written.blob };
  }
  context.df.setCustomStatus({ ...progressStatus(state, request, 0), reportBlob: report.reportBlob });
  const failed = links.filter((l) => l.lastError !== null);
  const totals = {
    links: links.length,
    failedLinks: failed.length,
    pages: report.totals.pages,
    rowsRead: report.totals.rowsRead,
    rowsWritten: report.totals.rowsWritten,
    repaired: report.totals.repaired,
  };
  if (failed.length > 0) log.error(TELEMETRY_EVENT.runFailed, totals);
  else log.info(TELEMETRY_EVENT.runFinished, totals);
  const failure =
    failed.length === 0
      ? null
      : `${failed.length} of ${links.length} links failed: ` +
        failed.map((l) => `${linkKey(l.link)}: ${l.lastError ?? ''}`).join('; ');
  yield* record(runRecordOf(state, request, context.df.instanceId, { report, error: failure }));
  // The run did not do its job: fail it (with every link's reason) rather than report success.
  if (failure !== null) throw new Error(failure);
  return report;
}
