/**
 * The state one flowSync run carries (through continue-as-new) and what is derived from it: the
 * custom status, the report, the run's history record. Pure, so the orchestrator stays short.
 */
import type { LinkResult, PlanFlowOutput, RunRequest, SyncReport } from '../activities/contracts';
import type { RunRecord } from '../sync/runHistory.js';
import type { LinkProgress, ReconcileLinkOutput } from './contracts.js';
import { emptyProgress, linkKey } from './contracts.js';

export type Planned = Extract<PlanFlowOutput, { kind: 'planned' }>;

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

/** Compact UTC timestamp for run ids, to the millisecond: 20261127T030512.345Z. */
function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '');
}

/** A run's state when its plan comes back: every link not walked yet. */
export function newFlowState(plan: Planned, instanceId: string, now: Date): FlowState {
  const progress: Record<string, LinkProgress> = {};
  for (const link of [...plan.inbound, ...plan.outbound]) progress[linkKey(link)] = emptyProgress(link);
  return {
    runId: `${instanceId}.${stamp(now)}`,
    startedAt: now.toISOString(),
    plan,
    wave: 0,
    phase: 'walk',
    progress,
    reconcile: {},
    calls: {},
  };
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

/** The run's result: every link's walk and compare, and the totals. */
export function reportOf(
  state: FlowState,
  request: RunRequest,
  instanceId: string,
  finishedAt: Date,
): SyncReport {
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
  return {
    runId: state.runId,
    instanceId,
    request,
    startedAt: state.startedAt,
    finishedAt: finishedAt.toISOString(),
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
}

/** Why the run failed (every failed link and its reason), or null when every link did its job. */
export function runFailure(report: SyncReport): string | null {
  const failed = report.links.filter((l) => l.lastError !== null);
  if (failed.length === 0) return null;
  return (
    `${failed.length} of ${report.links.length} links failed: ` +
    failed.map((l) => `${linkKey(l.link)}: ${l.lastError ?? ''}`).join('; ')
  );
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
