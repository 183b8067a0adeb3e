/**
 * The per-order coordinator's state machine (the `orderSync` entity; docs/order-sync.md), pure:
 * every operation takes the state, its input and `now`, and returns the new state and a decision
 * for the caller. The entity only stores the state; the orderIngest orchestration that called it
 * acts on the decision (run the saga, check a silent runner, or stop).
 *
 * Rules:
 * - a version at or below the last settled one (applied or failed for good) is stale; one already
 *   waiting or running is a duplicate: both are dropped;
 * - at most one apply runs (one "turn", held by the orchestration that runs it); versions that
 *   arrive meanwhile wait;
 * - the next apply takes the newest waiting version: every event is a full snapshot, so the older
 *   ones are coalesced into it and never applied. There is no wait for a missing version: a
 *   version that arrives after a newer one settled is stale and dropped, and the hub ends at the
 *   newest snapshot either way (docs/order-sync.md, "Why no gap wait");
 * - a turn is not owned forever: an offer that finds a turn older than `runnerCheckAfterMs` asks
 *   its caller to check the runner, and a runner that is no longer running (terminated, purged,
 *   failed outside its saga) is replaced by `takeOver`, which puts the version it was applying
 *   back in the queue.
 */
import type { OrderEvent } from './orderEvent.js';

export interface WaitingVersion {
  readonly version: number;
  readonly receivedAt: string;
  readonly event: OrderEvent;
}

export interface RunningApply {
  readonly version: number;
  /** The saga's id (`order-sea-1234-v7`): audit run id and snapshot key of the apply. */
  readonly sagaId: string;
  /** The orchestration holding the turn (it runs the saga and reports the outcome). */
  readonly runner: string;
  readonly startedAt: string;
  /** Waiting versions folded into this apply. */
  readonly coalesced: readonly number[];
  /** The event being applied: put back in the queue when the turn is taken over. */
  readonly event: OrderEvent;
}

export type VersionOutcome = 'applied' | 'failed' | 'stale' | 'duplicate' | 'coalesced' | 'taken-over';

export interface RecentOutcome {
  readonly version: number;
  readonly outcome: VersionOutcome;
  readonly at: string;
  readonly detail?: string;
}

export interface OrderSyncState {
  readonly region: string;
  readonly orderId: string;
  /** Newest version written to the hub by this coordinator. */
  readonly lastAppliedVersion: number | null;
  /** Newest version with a final outcome (applied, failed or stale): the version guard. */
  readonly settledVersion: number | null;
  readonly waiting: readonly WaitingVersion[];
  readonly running: RunningApply | null;
  /** The last {@link RECENT_OUTCOMES} outcomes, newest last. */
  readonly recent: readonly RecentOutcome[];
  readonly counts: {
    readonly received: number;
    readonly applied: number;
    readonly failed: number;
    readonly dropped: number;
    readonly coalesced: number;
    /** Turns taken from a runner that had stopped. */
    readonly takenOver: number;
  };
}

export const RECENT_OUTCOMES = 20;

export interface OrderSyncOptions {
  /**
   * How old a turn must be before an offer that finds it asks for a check of its runner. A healthy
   * apply takes well under a second; one in an outage backoff is alive and passes the check.
   */
  readonly runnerCheckAfterMs: number;
}

/** What the caller (an orderIngest orchestration) does next. */
export type OrderSyncDecision =
  /** Run the saga for this version; report back with `completed`. */
  | {
      readonly kind: 'run';
      readonly version: number;
      readonly sagaId: string;
      readonly event: OrderEvent;
      readonly coalesced: readonly number[];
    }
  /**
   * Another orchestration holds the turn. `check`: the turn is older than `runnerCheckAfterMs`, so
   * look whether `runner` still runs and call `takeOver` if not.
   */
  | {
      readonly kind: 'idle';
      readonly reason: 'running';
      readonly runner: string;
      readonly since: string;
      readonly check: boolean;
    }
  /** Nothing to do. */
  | { readonly kind: 'idle'; readonly reason: 'nothing-waiting' }
  | { readonly kind: 'dropped'; readonly reason: 'stale' | 'duplicate' };

export interface Step {
  readonly state: OrderSyncState;
  readonly decision: OrderSyncDecision;
}

/** The saga id of an applied version: `order-sea-1234-v7` (audit run id, snapshot key). */
export function sagaIdOf(region: string, orderId: string, version: number): string {
  return `order-${region}-${orderId}-v${version}`;
}

/** The entity key of an order: `sea:1234` (the session id). */
export function orderEntityKey(region: string, orderId: string): string {
  return `${region}:${orderId}`;
}

export function initialOrderSyncState(region: string, orderId: string): OrderSyncState {
  return {
    region,
    orderId,
    lastAppliedVersion: null,
    settledVersion: null,
    waiting: [],
    running: null,
    recent: [],
    counts: { received: 0, applied: 0, failed: 0, dropped: 0, coalesced: 0, takenOver: 0 },
  };
}

/**
 * A state as stored, brought to the current shape: states written before turns could be taken
 * over have no `takenOver` count and may carry a gap-wait `hold` (dropped: no version waits for a
 * missing one any more).
 */
export function upgradeOrderSyncState(stored: OrderSyncState): OrderSyncState {
  type StoredRunning = Omit<RunningApply, 'sagaId'> & { sagaId?: string; instanceId?: string };
  type Stored = Omit<OrderSyncState, 'running' | 'counts'> & {
    hold?: unknown;
    running: StoredRunning | null;
    counts: Omit<OrderSyncState['counts'], 'takenOver'> & { takenOver?: number };
  };
  const { hold: _hold, running, ...rest } = stored as Stored;
  return {
    ...rest,
    running: running === null ? null : { ...running, sagaId: running.sagaId ?? running.instanceId ?? '' },
    counts: { ...rest.counts, takenOver: rest.counts.takenOver ?? 0 },
  };
}

function remember(state: OrderSyncState, outcomes: readonly RecentOutcome[]): OrderSyncState {
  if (outcomes.length === 0) return state;
  return { ...state, recent: [...state.recent, ...outcomes].slice(-RECENT_OUTCOMES) };
}

function busy(
  running: RunningApply,
  now: string,
  opts: OrderSyncOptions,
): Extract<OrderSyncDecision, { reason: 'running' }> {
  return {
    kind: 'idle',
    reason: 'running',
    runner: running.runner,
    since: running.startedAt,
    check: Date.parse(now) - Date.parse(running.startedAt) >= opts.runnerCheckAfterMs,
  };
}

/** With nothing running: hand `runner` the turn for the newest waiting version, or idle. */
function next(state: OrderSyncState, runner: string, now: string, opts: OrderSyncOptions): Step {
  if (state.running !== null) return { state, decision: busy(state.running, now, opts) };
  if (state.waiting.length === 0) return { state, decision: { kind: 'idle', reason: 'nothing-waiting' } };
  const sorted = [...state.waiting].sort((a, b) => a.version - b.version);
  const chosen = sorted[sorted.length - 1] as WaitingVersion;
  const folded = sorted.slice(0, -1).map((w) => w.version);
  const sagaId = sagaIdOf(state.region, state.orderId, chosen.version);
  const running: RunningApply = {
    version: chosen.version,
    sagaId,
    runner,
    startedAt: now,
    coalesced: folded,
    event: chosen.event,
  };
  const updated = remember(
    {
      ...state,
      waiting: [],
      running,
      counts: { ...state.counts, coalesced: state.counts.coalesced + folded.length },
    },
    folded.map((v) => ({ version: v, outcome: 'coalesced', at: now, detail: `into v${chosen.version}` })),
  );
  return {
    state: updated,
    decision: { kind: 'run', version: chosen.version, sagaId, event: chosen.event, coalesced: folded },
  };
}

/** A new version arrives (from the trigger, or a dead-letter replay). */
export function offer(
  state: OrderSyncState,
  input: { readonly event: OrderEvent; readonly runner: string; readonly now: string },
  opts: OrderSyncOptions,
): Step {
  const { event, now } = input;
  const counted = { ...state, counts: { ...state.counts, received: state.counts.received + 1 } };
  const drop = (reason: 'stale' | 'duplicate', detail: string): Step => ({
    state: remember({ ...counted, counts: { ...counted.counts, dropped: counted.counts.dropped + 1 } }, [
      { version: event.version, outcome: reason, at: now, detail },
    ]),
    decision: { kind: 'dropped', reason },
  });
  if (state.settledVersion !== null && event.version <= state.settledVersion)
    return event.version === state.settledVersion
      ? drop('duplicate', `v${event.version} already settled`)
      : drop('stale', `settled at v${state.settledVersion}`);
  if (state.running?.version === event.version) return drop('duplicate', 'being applied');
  if (state.running !== null && event.version < state.running.version)
    return drop('stale', `v${state.running.version} is being applied`);
  if (state.waiting.some((w) => w.version === event.version)) return drop('duplicate', 'already waiting');
  const waiting = [...state.waiting, { version: event.version, receivedAt: now, event }];
  return next({ ...counted, waiting }, input.runner, now, opts);
}

/** The running apply ended; `outcome` is final for that version. */
export function completed(
  state: OrderSyncState,
  input: {
    readonly version: number;
    /** `stale`: the hub already held a newer version (e.g. from the nightly safety net). */
    readonly outcome: 'applied' | 'failed' | 'stale';
    readonly detail?: string;
    readonly runner: string;
    readonly now: string;
  },
  opts: OrderSyncOptions,
): Step {
  if (
    state.running === null ||
    state.running.version !== input.version ||
    state.running.runner !== input.runner
  ) {
    // A report for a turn this state does not know as the caller's (a replayed call, or a runner
    // whose turn was taken over): ignore it and hand it nothing.
    return { state, decision: { kind: 'idle', reason: 'nothing-waiting' } };
  }
  const applied = input.outcome === 'applied';
  const settled = Math.max(state.settledVersion ?? 0, input.version);
  const dropped = state.waiting.filter((w) => w.version <= settled);
  const updated = remember(
    {
      ...state,
      running: null,
      settledVersion: settled,
      lastAppliedVersion: applied
        ? Math.max(state.lastAppliedVersion ?? 0, input.version)
        : state.lastAppliedVersion,
      waiting: state.waiting.filter((w) => w.version > settled),
      counts: {
        ...state.counts,
        applied: state.counts.applied + (applied ? 1 : 0),
        failed: state.counts.failed + (input.outcome === 'failed' ? 1 : 0),
        dropped: state.counts.dropped + dropped.length,
      },
    },
    [
      {
        version: input.version,
        outcome: input.outcome,
        at: input.now,
        ...(input.detail === undefined ? {} : { detail: input.detail }),
      },
      ...dropped.map((w) => ({
        version: w.version,
        outcome: 'stale' as const,
        at: input.now,
        detail: `settled at v${settled}`,
      })),
    ],
  );
  return next(updated, input.runner, input.now, opts);
}

/**
 * `runner` takes the turn from `staleRunner`, which a check found no longer running (`reason`
 * says how it ended). The version it was applying goes back to the queue (its saga steps are
 * idempotent under the same saga id, so running it again is safe). Anyone else's turn, or no
 * turn, is left alone; with nothing running, `runner` simply gets the next turn if one waits.
 */
export function takeOver(
  state: OrderSyncState,
  input: {
    readonly staleRunner: string;
    readonly reason: string;
    readonly runner: string;
    readonly now: string;
  },
  opts: OrderSyncOptions,
): Step {
  const running = state.running;
  if (running === null) return next(state, input.runner, input.now, opts);
  if (running.runner !== input.staleRunner)
    return { state, decision: { ...busy(running, input.now, opts), check: false } };
  // (A turn stored before turns carried their event cannot be requeued; a newer event covers it.)
  const requeued =
    (running.event as OrderEvent | undefined) === undefined ||
    state.waiting.some((w) => w.version >= running.version)
      ? state.waiting
      : [...state.waiting, { version: running.version, receivedAt: running.startedAt, event: running.event }];
  const freed = remember(
    {
      ...state,
      running: null,
      waiting: requeued,
      counts: { ...state.counts, takenOver: state.counts.takenOver + 1 },
    },
    [
      {
        version: running.version,
        outcome: 'taken-over',
        at: input.now,
        detail: `runner ${running.runner} ${input.reason}; ${input.runner} continues`,
      },
    ],
  );
  return next(freed, input.runner, input.now, opts);
}
