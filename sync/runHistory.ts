/**
 * Run history: one record per batch run (not per instance id: a run's instance id is its request,
 * so a rerun reuses it and the Durable status only shows the newest run). The record is written
 * when the run starts and again when it ends; the read model merges live progress into a running
 * record from the instance's custom status. Pure types and helpers; the store is a port.
 */

/** Where a record is in its life. `running` records of an instance that went away are `abandoned`. */
export type RunState = 'running' | 'completed' | 'failed' | 'terminated' | 'abandoned';

export interface RunLinkRecord {
  readonly link: { readonly source: string; readonly target: string };
  readonly pages: number;
  readonly rowsRead: number;
  readonly inserted: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly lostConflicts: number;
  readonly done: boolean;
  readonly lastError: string | null;
  readonly reconcile: {
    readonly matched: number;
    readonly repaired: number;
    readonly refused: number;
    readonly missing?: number;
    readonly extra?: number;
    readonly differing?: number;
  } | null;
}

export interface RunRecord {
  readonly runId: string;
  /** The Durable instance (the request): identical requests while this run goes join it. */
  readonly instanceId: string;
  readonly flow: string;
  readonly mode: 'incremental' | 'full';
  readonly window: { readonly from?: string; readonly to?: string } | null;
  readonly regions: readonly string[] | null;
  readonly dryRun: boolean;
  /** Who asked: `timer`, `http`, `cli`. */
  readonly trigger: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly status: RunState;
  /** Links the run planned (`source>target`), known from the start. */
  readonly plannedLinks: readonly string[];
  /** Per-link results once the run ended (empty while it runs). */
  readonly links: readonly RunLinkRecord[];
  readonly totals: {
    readonly pages: number;
    readonly rowsRead: number;
    readonly rowsWritten: number;
    readonly repaired: number;
  } | null;
  /** The reconciliation report blob of a full compare, or null. */
  readonly reportBlob: string | null;
  /** Why the run failed (every failed link's reason), or null. */
  readonly error: string | null;
}

/** One page of a flow's history, newest first; `continuation` is null on the last page. */
export interface RunPage {
  readonly runs: readonly RunRecord[];
  readonly continuation: string | null;
}

/**
 * Where run records are kept for the retention period. Records are keyed by flow and run id and
 * listed newest first (by start time).
 */
export interface RunHistory {
  /** Writes (or overwrites) a run's record. */
  put(record: RunRecord): Promise<void>;
  /** The record of one run, or null. */
  get(flow: string, runId: string): Promise<RunRecord | null>;
  /** A page of a flow's records, newest first; pass the previous page's continuation for the next. */
  list(flow: string, options: { max: number; continuation?: string | null }): Promise<RunPage>;
  /** Retention: deletes records of runs started before `cutoff` (ISO-8601); returns the count. */
  pruneStartedBefore(cutoff: string): Promise<number>;
}

/** The start instant encoded at the end of a run id (`{instanceId}.20261127T030512.345Z`), or null. */
export function runIdStart(runId: string): Date | null {
  const m = /\.(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/.exec(runId);
  if (m === null) return null;
  const [, y, mo, d, h, mi, s, ms] = m;
  const t = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
  return Number.isNaN(t) ? null : new Date(t);
}

/** What the Durable client says of a run's instance now (null when there is no such instance). */
export interface InstanceSnapshot {
  readonly runtimeStatus: string;
  readonly customStatus: unknown;
  readonly output: unknown;
}

/** A record as shown: a running one carries the instance's live progress (its custom status). */
export type RunView = RunRecord & { readonly progress: unknown };

const ACTIVE = new Set(['Running', 'Pending', 'ContinuedAsNew']);

/**
 * Merges a record with its instance's current status. Only `running` records need it: the run
 * wrote its final record itself when it ended. A running record whose instance failed or was
 * terminated takes that status; one whose instance now runs another run (or is gone) was
 * abandoned (e.g. purged, or a crash of the history store at the end).
 */
export function runView(record: RunRecord, instance: InstanceSnapshot | null): RunView {
  if (record.status !== 'running') return { ...record, progress: null };
  if (instance === null) return { ...record, status: 'abandoned', progress: null };
  const custom = (instance.customStatus ?? {}) as { runId?: unknown };
  const same = custom.runId === record.runId;
  if (ACTIVE.has(instance.runtimeStatus))
    return same || custom.runId === undefined
      ? { ...record, progress: same ? instance.customStatus : null }
      : { ...record, status: 'abandoned', progress: null };
  if (!same) return { ...record, status: 'abandoned', progress: null };
  if (instance.runtimeStatus === 'Terminated') return { ...record, status: 'terminated', progress: null };
  if (instance.runtimeStatus === 'Failed') {
    const text = typeof instance.output === 'string' ? instance.output : JSON.stringify(instance.output);
    return { ...record, status: 'failed', error: (text ?? '').split('\n', 1)[0] ?? null, progress: null };
  }
  return { ...record, status: 'completed', progress: null };
}
