/**
 * The per-order coordinator's state machine (the `orderSync` entity, ARCHITECTURE §6.3), pure:
 * every operation takes the state, its input and `now`, and returns the new state and a decision
 * for the caller. The entity only stores the state; the orderIngest orchestration acts on the
 * decision (run a saga, wait for a missing version, or stop).
 *
 * Rules:
 * - a version at or below the last settled one (applied or failed for good) is stale; one already
 *   waiting or running is a duplicate: both are dropped;
 * - at most one apply runs; versions that arrive meanwhile wait;
 * - the next apply takes the newest version of the contiguous run after the settled one (each event
 *   is a full snapshot, so the older ones of that run are coalesced into it and never applied);
 * - when the version right after the settled one is missing, the waiting ones are held until it
 *   arrives or `gapWaitMs` has passed since the hold began; then the newest waiting one is applied.
 *   The very first version of an order is 1, so an order first seen at version 3 waits for 1 and 2.
 */
import type { OrderEvent } from './orderEvent.js';

export interface WaitingVersion {
  readonly version: number;
  readonly receivedAt: string;
  readonly event: OrderEvent;
}

export interface RunningApply {
  readonly version: number;
  /** The saga's instance id (`order-sea-1234-v7`). */
  readonly instanceId: string;
  /** The ingest orchestration driving it (it reports the outcome). */
  readonly runner: string;
  readonly startedAt: string;
  /** Waiting versions folded into this apply. */
  readonly coalesced: readonly number[];
}

export type VersionOutcome =
  'applied' | 'failed' | 'stale' | 'duplicate' | 'coalesced' | 'skipped-after-wait';

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
  /** Newest version with a final outcome (applied or failed): the version guard. */
  readonly settledVersion: number | null;
  readonly waiting: readonly WaitingVersion[];
  readonly running: RunningApply | null;
  /** Set while waiting versions are held for a missing one. */
  readonly hold: { readonly since: string; readonly until: string; readonly holder: string } | null;
  /** The last {@link RECENT_OUTCOMES} outcomes, newest last. */
  readonly recent: readonly RecentOutcome[];
  readonly counts: {
    readonly received: number;
    readonly applied: number;
    readonly failed: number;
    readonly dropped: number;
    readonly coalesced: number;
  };
}

export const RECENT_OUTCOMES = 20;

export interface OrderSyncOptions {
  /** How long versions ahead of a missing one wait for it. */
  readonly gapWaitMs: number;
}

/** What the caller (an orderIngest orchestration) does next. */
export type OrderSyncDecision =
  /** Run the saga for this version; report back with `completed`. */
  | {
      readonly kind: 'run';
      readonly version: number;
      readonly instanceId: string;
      readonly event: OrderEvent;
      readonly coalesced: readonly number[];
    }
  /** Wait until `until`, then call `gapExpired`. */
  | { readonly kind: 'hold'; readonly until: string }
  /** Nothing to do: someone else runs or holds, or nothing waits. */
  | { readonly kind: 'idle'; readonly reason: 'running' | 'held' | 'nothing-waiting' }
  | { readonly kind: 'dropped'; readonly reason: 'stale' | 'duplicate' };

export interface Step {
  readonly state: OrderSyncState;
  readonly decision: OrderSyncDecision;
}

/** The saga's business instance id: `order-sea-1234-v7`. */
export function applyInstanceId(region: string, orderId: string, version: number): string {
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
    hold: null,
    recent: [],
    counts: { received: 0, applied: 0, failed: 0, dropped: 0, coalesced: 0 },
  };
}

function remember(state: OrderSyncState, outcomes: readonly RecentOutcome[]): OrderSyncState {
  if (outcomes.length === 0) return state;
  return { ...state, recent: [...state.recent, ...outcomes].slice(-RECENT_OUTCOMES) };
}

const plusMs = (iso: string, ms: number): string => new Date(Date.parse(iso) + ms).toISOString();

/**
 * With nothing running: start the next apply, or hold, or idle. `runner` is who will act on the
 * decision; `force` applies the newest waiting version even across a gap (the wait has passed).
 */
function next(
  state: OrderSyncState,
  runner: string,
  now: string,
  opts: OrderSyncOptions,
  force: boolean,
): Step {
  if (state.running !== null) return { state, decision: { kind: 'idle', reason: 'running' } };
  if (state.waiting.length === 0)
    return { state: { ...state, hold: null }, decision: { kind: 'idle', reason: 'nothing-waiting' } };
  const sorted = [...state.waiting].sort((a, b) => a.version - b.version);
  let expected = (state.settledVersion ?? 0) + 1;
  let pick: WaitingVersion | null = null;
  for (const w of sorted) {
    if (w.version !== expected) break;
    pick = w;
    expected++;
  }
  let skipped = false;
  if (pick === null) {
    if (!force) {
      if (state.hold !== null) return { state, decision: { kind: 'idle', reason: 'held' } };
      const until = plusMs(now, opts.gapWaitMs);
      return {
        state: { ...state, hold: { since: now, until, holder: runner } },
        decision: { kind: 'hold', until },
      };
    }
    pick = sorted[sorted.length - 1] as WaitingVersion;
    skipped = true;
  }
  const chosen = pick;
  const folded = sorted.filter((w) => w.version < chosen.version).map((w) => w.version);
  const outcomes: RecentOutcome[] = folded.map((v) => ({
    version: v,
    outcome: 'coalesced',
    at: now,
    detail: `into v${chosen.version}`,
  }));
  if (skipped) {
    const from = (state.settledVersion ?? 0) + 1;
    const missing: number[] = [];
    const present = new Set(sorted.map((w) => w.version));
    for (let v = from; v < chosen.version; v++) if (!present.has(v)) missing.push(v);
    outcomes.push({
      version: chosen.version,
      outcome: 'skipped-after-wait',
      at: now,
      detail: `applied without v${missing.join(', v')} after waiting ${opts.gapWaitMs} ms`,
    });
  }
  const instanceId = applyInstanceId(state.region, state.orderId, chosen.version);
  const running: RunningApply = {
    version: chosen.version,
    instanceId,
    runner,
    startedAt: now,
    coalesced: folded,
  };
  const updated = remember(
    {
      ...state,
      waiting: sorted.filter((w) => w.version > chosen.version),
      running,
      hold: null,
      counts: { ...state.counts, coalesced: state.counts.coalesced + folded.length },
    },
    outcomes,
  );
  return {
    state: updated,
    decision: { kind: 'run', version: chosen.version, instanceId, event: chosen.event, coalesced: folded },
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
  if (state.waiting.some((w) => w.version === event.version)) return drop('duplicate', 'already waiting');
  const waiting = [...state.waiting, { version: event.version, receivedAt: now, event }];
  return next({ ...counted, waiting }, input.runner, now, opts, false);
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
  if (state.running === null || state.running.version !== input.version) {
    // A report for an apply this state does not know as running (a replayed signal): ignore it.
    return {
      state,
      decision: { kind: 'idle', reason: state.running === null ? 'nothing-waiting' : 'running' },
    };
  }
  const applied = input.outcome === 'applied';
  const settled = Math.max(state.settledVersion ?? 0, input.version);
  const updated = remember(
    {
      ...state,
      running: null,
      settledVersion: settled,
      lastAppliedVersion: applied
        ? Math.max(state.lastAppliedVersion ?? 0, input.version)
        : state.lastAppliedVersion,
      // Versions that arrived during the apply and are now behind it are dropped as stale.
      waiting: state.waiting.filter((w) => w.version > settled),
      counts: {
        ...state.counts,
        applied: state.counts.applied + (applied ? 1 : 0),
        failed: state.counts.failed + (input.outcome === 'failed' ? 1 : 0),
      },
    },
    [
      {
        version: input.version,
        outcome: input.outcome,
        at: input.now,
        ...(input.detail === undefined ? {} : { detail: input.detail }),
      },
    ],
  );
  return next(updated, input.runner, input.now, opts, false);
}

/** The holder's wait is over: apply the newest waiting version if the gap is still open. */
export function gapExpired(
  state: OrderSyncState,
  input: { readonly runner: string; readonly now: string },
  opts: OrderSyncOptions,
): Step {
  if (state.hold === null || state.hold.holder !== input.runner)
    return {
      state,
      decision: { kind: 'idle', reason: state.running !== null ? 'running' : 'nothing-waiting' },
    };
  if (Date.parse(input.now) < Date.parse(state.hold.until))
    return { state, decision: { kind: 'hold', until: state.hold.until } };
  return next({ ...state, hold: null }, input.runner, input.now, opts, true);
}
