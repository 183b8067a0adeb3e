import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { AppRegistry } from '../worker/coreApi';
import type { TypedData } from '../worker/coreTypes';
import type { FunctionInvoker } from '../worker/invoker';
import { triggerBinding } from '../worker/invoker';
import { typedDataToValue } from '../worker/typedData';
import type { Action, HistoryEvent, OrchestratorState, RetryOptions } from './protocol';
import {
  ActionType,
  EventType,
  OrchestrationStatusCode,
  decodeReencodedInput,
  describeSignature,
  flattenUnits,
  historyEvent,
  isTerminal,
  replayJson,
  retryDelay,
  toJsonText,
  unitSignature,
} from './protocol';
import type { InboxRow, InstanceRow, NewActivity, NewMessage, TaskHubStore } from './store';

export interface EngineOptions {
  hubName: string;
  maxConcurrentActivityFunctions: number;
  maxConcurrentOrchestratorFunctions: number;
  /** host.json `maxEntityOperationBatchSize`: operations per entity invocation at most. */
  maxEntityOperationBatchSize: number;
}

/** An error the client API turns into an HTTP status (D.4). */
export class DurableApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Host bookkeeping kept in `instances.state` (B.7): retry chains and armed user timers. */
interface InstanceBookkeeping {
  /** Keyed by the task id of the running attempt, or of the retry timer being waited on. */
  retries?: Record<string, RetryChain>;
  /** Armed user timers: timer id → unit index, to disarm them when the code cancels them. */
  timers?: Record<string, number>;
  /** Task ids that were attempts of a retry chain (rewind leaves those alone). */
  retried?: number[];
  /** The critical section the orchestration holds or is acquiring (lock(), C.4). */
  lock?: { id: string; lockset: EntityRef[] };
}

interface EntityRef {
  name: string;
  key: string;
}

/**
 * A message to an entity (C.3, C.4): field names follow the extension's RequestMessage. `kind`
 * comes from the inbox row; an operation has `op`, a lock request `lockset`/`pos`.
 */
interface EntityMessage {
  kind: 'op' | 'lock' | 'release';
  op?: string;
  id: string;
  parent?: string;
  parentExecution?: string;
  signal?: boolean;
  input?: string | null;
  lockset?: EntityRef[];
  pos?: number;
}

/** An entity's scheduler state, kept in its row's `state` (C.3). */
interface EntityScheduler {
  exists: boolean;
  /** JSON text of the state, null when absent. */
  state: string | null;
  /** The orchestration holding the entity's lock. */
  lockedBy: string | null;
  /** Messages that arrived and wait (behind a lock, or behind a lock request). */
  queue: EntityMessage[];
}

/** What an entity function resolves with (C.2). */
interface EntityBatchResult {
  entityExists: boolean;
  entityState?: string;
  results: { isError: boolean; result?: string }[];
  signals: { target: EntityRef; name: string; input?: string }[];
}

const LOCK_ACQUIRED = JSON.stringify({ result: 'Lock Acquisition Completed' });

/** `@name@key` with the name lower-cased, as Azure's EntityId does (C.1). */
export function entityInstanceId(name: string, key: string): string {
  return `@${name.toLowerCase()}@${key}`;
}

export function parseEntityInstanceId(id: string): EntityRef {
  const at = id.indexOf('@', 1);
  return { name: id.slice(1, at), key: id.slice(at + 1) };
}

interface RetryChain {
  phase: 'attempt' | 'timer';
  kind: 'activity' | 'orchestration';
  name: string;
  input: unknown;
  instanceId?: string;
  version?: string;
  options: RetryOptions;
  attempt: number;
  firstAttemptAt: number;
  lastFailure?: Record<string, unknown>;
}

interface HistoryCache {
  executionId: string;
  count: number;
  /** The events of earlier episodes in replay form (IsPlayed true), comma-joined. */
  played: string;
  sigs: string[];
}

/** What an episode decided, applied in one transaction (protocol E). */
class EpisodePlan {
  readonly appended: HistoryEvent[] = [];
  readonly newSigs: string[] = [];
  readonly messages: NewMessage[] = [];
  readonly activities: NewActivity[] = [];
  readonly children: InstanceRow[] = [];
  readonly disarm: number[] = [];
  failure: string | undefined;
  constructor(
    public row: InstanceRow,
    readonly book: InstanceBookkeeping,
    readonly ts: number,
  ) {}
  allocate(): number {
    return this.row.next_event_id++;
  }
}

type DurableFunctionKind = 'activity' | 'orchestrator' | 'entity';
const TRIGGER_OF: Record<DurableFunctionKind, string> = {
  activity: 'activityTrigger',
  orchestrator: 'orchestrationTrigger',
  entity: 'entityTrigger',
};

const OUT_OF_PROC_LABEL = '\n\n$OutOfProcData$:';
const MAX_BATCH = 500;
const CACHE_LIMIT = 256;

export const PAYLOAD_SETTINGS = {
  upperSchemaVersion: 1,
  // V4 so lock() works; with a huge maximumShortTimerDuration the library never splits timers (B.5).
  upperSchemaVersionNew: 3,
  longRunningTimerIntervalDuration: '3.00:00:00',
  maximumShortTimerDuration: '36500.00:00:00',
  defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
};
const PAYLOAD_TAIL = Object.entries(PAYLOAD_SETTINGS)
  .map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v)}`)
  .join('');

/**
 * The Durable Task backend: runs orchestration episodes and activities from the SQLite task hub,
 * through the app's own durable-functions library, with one process holding the hub at a time.
 */
export class DurableEngine {
  readonly events = new EventEmitter();
  readonly owner = randomUUID();
  readonly #ready = new Set<string>();
  readonly #running = new Set<string>();
  readonly #again = new Set<string>();
  readonly #activityQueue: number[] = [];
  readonly #cache = new Map<string, HistoryCache>();
  #runningActivities = 0;
  #stopped = true;
  #timerAt: number | undefined;
  #cancelTimer: (() => void) | undefined;
  readonly #inflight = new Set<Promise<unknown>>();
  #idleWaiters: (() => void)[] = [];

  constructor(
    readonly store: TaskHubStore,
    private readonly invoker: FunctionInvoker,
    private readonly registry: AppRegistry,
    private readonly clock: Clock,
    private readonly logger: Logger,
    readonly options: EngineOptions,
  ) {
    this.events.setMaxListeners(0);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Takes the hub (refusing when another live devhost holds it) and makes work a dead owner left
   * running runnable again. Runs nothing yet: clients may queue work, start() dispatches it.
   */
  open(): void {
    this.#takeOwnership();
    const released = this.store.releaseActivityLocks(this.owner);
    if (released > 0) {
      this.logger.warn(
        'Host.Durable',
        `${released} activity work item(s) were running when the previous devhost stopped; running them again.`,
      );
    }
  }

  /** Starts dispatching everything queued in the hub: episodes, activities, due timers. */
  start(): void {
    this.#stopped = false;
    // Work queued since open() is in the hub too; the queue is rebuilt from it.
    this.#activityQueue.length = 0;
    for (const id of this.store.unlockedActivityIds()) this.#activityQueue.push(id);
    for (const id of this.store.instancesWithVisibleMessages(this.clock.now())) this.#ready.add(id);
    this.#armTimer();
    this.#pump();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    await Promise.allSettled([...this.#inflight]);
    this.store.releaseOwner(this.owner);
  }

  /**
   * Takes the hub's process lock, or refuses with who holds it. The lock, not the owner row, is
   * the truth: the row only names the holder for the message.
   */
  #takeOwnership(): void {
    const store = this.store;
    let locked = store.acquireLock(0);
    if (!locked) {
      const holder = store.readOwner();
      // A holder that is gone (or a zombie) is still releasing its files: give it time. A live one
      // gets a moment too, in case a kill -9 is being delivered right now.
      locked = store.acquireLock(holder && processAlive(holder.pid) ? 2_000 : 10_000);
      if (!locked) {
        const who = holder ? `another devhost (pid ${holder.pid})` : 'another devhost';
        const stop = holder
          ? `Stop it first (Ctrl+C in its terminal, or kill ${holder.pid})`
          : 'Stop it first';
        throw new Error(
          `The task hub "${this.options.hubName}" in ${store.file} is in use by ${who}. ${stop}, ` +
            `or start this one with another --data-dir.`,
        );
      }
    }
    store.writeOwner(this.owner, process.pid, Date.now());
  }

  /** Resolves once nothing is running, queued or due (tests and benchmarks). */
  async idle(): Promise<void> {
    for (;;) {
      if (this.#isIdle()) return;
      await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    }
  }

  #isIdle(): boolean {
    return (
      this.#running.size === 0 &&
      this.#ready.size === 0 &&
      this.#runningActivities === 0 &&
      this.#activityQueue.length === 0
    );
  }

  #notifyIdle(): void {
    if (!this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  // ---------------------------------------------------------------- scheduling

  markReady(instanceId: string): void {
    if (this.#running.has(instanceId)) this.#again.add(instanceId);
    else this.#ready.add(instanceId);
    this.#pump();
  }

  #track(work: Promise<unknown>): void {
    this.#inflight.add(work);
    void work.finally(() => this.#inflight.delete(work));
  }

  #pump(): void {
    if (this.#stopped) return;
    for (const id of this.#ready) {
      if (this.#running.size >= this.options.maxConcurrentOrchestratorFunctions) break;
      this.#ready.delete(id);
      if (this.#running.has(id)) {
        this.#again.add(id);
        continue;
      }
      this.#running.add(id);
      const work = this.#step(id)
        .catch((err: unknown) => {
          this.logger.error(
            'Host.Durable',
            `Episode of '${id}' crashed: ${(err as Error).stack ?? String(err)}`,
          );
          return false;
        })
        .then((progress) => {
          this.#running.delete(id);
          const again = this.#again.delete(id);
          if (!this.#stopped && (again || (progress && this.store.hasVisibleMessage(id, this.clock.now())))) {
            this.#ready.add(id);
          }
          this.#pump();
          this.#notifyIdle();
        });
      this.#track(work);
    }
    while (
      this.#runningActivities < this.options.maxConcurrentActivityFunctions &&
      this.#activityQueue.length > 0
    ) {
      const id = this.#activityQueue.shift()!;
      this.#runningActivities++;
      const work = this.#runActivity(id)
        .catch((err: unknown) => {
          this.logger.error(
            'Host.Durable',
            `Activity work item ${id} crashed: ${(err as Error).stack ?? String(err)}`,
          );
        })
        .finally(() => {
          this.#runningActivities--;
          this.#pump();
          this.#notifyIdle();
        });
      this.#track(work);
    }
  }

  /** Keeps one clock callback armed at the earliest future inbox message (durable timers). */
  #armTimer(at?: number): void {
    if (this.#stopped) return;
    const next = at ?? this.store.nextVisibleAt(this.clock.now());
    if (next === undefined || next === null) return;
    if (this.#timerAt !== undefined && this.#timerAt <= next) return;
    this.#cancelTimer?.();
    this.#timerAt = next;
    this.#cancelTimer = this.clock.schedule(next, () => {
      this.#timerAt = undefined;
      this.#cancelTimer = undefined;
      if (this.#stopped) return;
      for (const id of this.store.instancesWithVisibleMessages(this.clock.now())) this.markReady(id);
      this.#armTimer();
    });
  }

  #afterCommit(messages: NewMessage[], activityIds: number[], changed: string[]): void {
    const now = this.clock.now();
    for (const m of messages) {
      if (m.visibleAt <= now) this.markReady(m.instanceId);
      else this.#armTimer(m.visibleAt);
    }
    for (const id of activityIds) this.#activityQueue.push(id);
    for (const id of changed) this.events.emit('changed', id);
    this.#pump();
  }

  // ---------------------------------------------------------------- client operations

  /** Creates (or replaces a finished) instance and queues its ExecutionStarted (D.3 startNew). */
  startOrchestration(name: string, instanceId: string | undefined, input: unknown, version?: string): string {
    const problem = this.#missingFunction(name, 'orchestrator');
    if (problem) throw new DurableApiError(400, problem);
    const fn = this.registry.get(name)!;
    const id = instanceId ?? randomUUID().replace(/-/g, '');
    const messages: NewMessage[] = [];
    this.store.transaction(() => {
      const existing = this.store.getInstance(id);
      if (existing && !isTerminal(existing.status)) {
        // DTFx refuses the start (default overridableExistingInstanceStates); the HTTP API surfaces it as 500.
        throw new DurableApiError(
          500,
          `An Orchestration instance with the status ${existing.status} already exists.`,
        );
      }
      if (existing) this.store.deleteInstance(id);
      const row = this.#newInstanceRow(
        id,
        fn.metadata.name,
        toJsonText(input),
        version ?? null,
        this.clock.now(),
      );
      this.store.putInstance(row);
      const message = this.#startMessage(row, this.clock.now());
      this.store.insertMessage(message);
      messages.push(message);
    });
    this.#cache.delete(id);
    this.#afterCommit(messages, [], [id]);
    return id;
  }

  raiseEvent(instanceId: string, eventName: string, inputJson: string | null): void {
    const row = this.store.getInstance(instanceId);
    if (!row) throw new DurableApiError(404, `No instance with ID '${instanceId}' found.`);
    if (isTerminal(row.status)) {
      throw new DurableApiError(
        410,
        `The instance '${instanceId}' is in the ${row.status} state and cannot receive events.`,
      );
    }
    const event = historyEvent(EventType.EventRaised, this.clock.now(), {
      Name: eventName,
      Input: inputJson,
    });
    const message: NewMessage = {
      instanceId,
      executionId: null,
      kind: 'event',
      body: JSON.stringify(event),
      visibleAt: this.clock.now(),
    };
    this.store.insertMessage(message);
    this.#afterCommit([message], [], []);
  }

  /** Terminate, suspend, resume and rewind are queued like DTFx control messages. */
  control(instanceId: string, type: 'terminate' | 'suspend' | 'resume' | 'rewind', reason: string): void {
    const row = this.store.getInstance(instanceId);
    if (!row) throw new DurableApiError(404, `No instance with ID '${instanceId}' found.`);
    if (type === 'rewind') {
      if (row.status !== 'Failed') {
        throw new DurableApiError(
          isTerminal(row.status) ? 410 : 412,
          `The rewind operation is only supported on failed orchestration instances; '${instanceId}' is ${row.status}.`,
        );
      }
    } else if (isTerminal(row.status)) {
      throw new DurableApiError(410, `The instance '${instanceId}' has already ended (${row.status}).`);
    }
    const message: NewMessage = {
      instanceId,
      executionId: null,
      kind: 'control',
      body: JSON.stringify({ type, reason }),
      visibleAt: this.clock.now(),
    };
    this.store.insertMessage(message);
    this.#afterCommit([message], [], []);
  }

  /**
   * Deletes an instance and everything addressed to it. By id, Azure Storage's backend purges an
   * instance in any state (the HTTP API answers 200); filters purge finished instances only.
   */
  purge(instanceId: string, options: { evenIfRunning?: boolean } = {}): number {
    const row = this.store.getInstance(instanceId);
    if (!row || (!isTerminal(row.status) && !options.evenIfRunning)) return 0;
    this.#ready.delete(instanceId);
    const n = this.store.transaction(() => this.store.deleteInstance(instanceId));
    this.#cache.delete(instanceId);
    return n;
  }

  historyOf(row: InstanceRow): HistoryEvent[] {
    return this.store
      .loadHistory(row.instance_id, row.execution_id)
      .map((e) => JSON.parse(e) as HistoryEvent);
  }

  /** Resolves when the instance is no longer Pending/Running, or after `timeoutMs`. */
  async waitForEnd(instanceId: string, timeoutMs: number): Promise<InstanceRow | undefined> {
    const done = () => {
      const row = this.store.getInstance(instanceId);
      return row && isTerminal(row.status) ? row : undefined;
    };
    const first = done();
    if (first || timeoutMs <= 0) return first ?? this.store.getInstance(instanceId);
    return new Promise((resolve) => {
      const onChange = (id: string) => {
        if (id !== instanceId) return;
        const row = done();
        if (row) finish(row);
      };
      const timer = setTimeout(() => finish(this.store.getInstance(instanceId)), timeoutMs);
      const finish = (row: InstanceRow | undefined) => {
        clearTimeout(timer);
        this.events.off('changed', onChange);
        resolve(row);
      };
      this.events.on('changed', onChange);
    });
  }

  // ---------------------------------------------------------------- episodes

  /** One unit of progress for an instance: its control messages, or one episode. */
  async #step(instanceId: string): Promise<boolean> {
    const now = this.clock.now();
    const messages = this.store.visibleMessages(instanceId, now, MAX_BATCH);
    if (messages.length === 0) return false;
    const row = this.store.getInstance(instanceId);
    if (!row) {
      this.store.transaction(() => messages.forEach((m) => this.store.deleteMessage(m.id)));
      return false;
    }
    if (instanceId.startsWith('@')) return this.#entityStep(row, messages, now);
    const control = messages.find((m) => m.kind === 'control');
    if (control) {
      this.#applyControl(row, control);
      return true;
    }
    if (isTerminal(row.status)) {
      this.store.transaction(() => messages.forEach((m) => this.store.deleteMessage(m.id)));
      return false;
    }
    if (row.status === 'Suspended') return false;
    return this.#episode(row, messages, now);
  }

  async #episode(row: InstanceRow, messages: InboxRow[], now: number): Promise<boolean> {
    const stale: InboxRow[] = [];
    const current: { msg: InboxRow; event: HistoryEvent }[] = [];
    for (const msg of messages) {
      if (msg.execution_id !== null && msg.execution_id !== row.execution_id) stale.push(msg);
      else current.push({ msg, event: JSON.parse(msg.body) as HistoryEvent });
    }
    const book = JSON.parse(row.state) as InstanceBookkeeping;
    // Batch: the first episode takes ExecutionStarted and the external events already waiting;
    // later ones take completions in arrival order, stopping after one that makes the host
    // allocate ids itself (retry timers and attempts), so numbering stays unambiguous (B.6d).
    let batch: { msg: InboxRow; event: HistoryEvent }[] = [];
    if (row.history_count === 0) {
      const start = current.find((c) => c.event.EventType === EventType.ExecutionStarted);
      if (!start) {
        if (stale.length > 0)
          this.store.transaction(() => stale.forEach((m) => this.store.deleteMessage(m.id)));
        return false;
      }
      batch = [start, ...current.filter((c) => c.event.EventType === EventType.EventRaised)];
    } else {
      for (const c of current) {
        if (c.event.EventType === EventType.ExecutionStarted) {
          stale.push(c.msg);
          continue;
        }
        batch.push(c);
        if (this.#allocates(book, c.event)) break;
      }
    }
    if (batch.length === 0) {
      this.store.transaction(() => stale.forEach((m) => this.store.deleteMessage(m.id)));
      return stale.length > 0;
    }

    let ts = Math.max(now, row.last_ts + 1);
    for (const { event } of batch) {
      if (event.EventType === EventType.TimerFired && typeof event.FireAt === 'string') {
        ts = Math.max(ts, Date.parse(event.FireAt));
      }
    }
    const cache = this.#historyCache(row);
    const plan = new EpisodePlan({ ...row }, book, ts);
    plan.appended.push(historyEvent(EventType.OrchestratorStarted, ts));
    for (const { event } of batch) plan.appended.push({ ...event, IsPlayed: false });
    if (row.status === 'Pending') plan.row.status = 'Running';

    const newJson = plan.appended
      .map((e) => replayJson(e, false))
      .filter((j) => j !== undefined)
      .join(',');
    const history = cache.played ? `${cache.played},${newJson}` : newJson;
    const payload =
      `{"history":[${history}],"input":${row.input ?? 'null'},"instanceId":${JSON.stringify(row.instance_id)}` +
      `,"isReplaying":false,"parentInstanceId":${JSON.stringify(row.parent_instance_id)}${PAYLOAD_TAIL}}`;

    let state: OrchestratorState | undefined;
    const missing = this.#missingFunction(row.name, 'orchestrator');
    if (missing) {
      plan.failure = missing;
    } else {
      if (!this.invoker.accepting) return false;
      const outcome = await this.invoker.invoke({
        functionName: row.name,
        triggerData: { string: payload },
        raw: true,
      });
      if (this.#stopped && !this.invoker.accepting) return false;
      if (outcome.error) {
        const message = outcome.error.message;
        const at = message.indexOf(OUT_OF_PROC_LABEL);
        if (at >= 0) {
          state = JSON.parse(message.slice(at + OUT_OF_PROC_LABEL.length)) as OrchestratorState;
          plan.failure = state.error ?? 'The orchestrator failed without an error message.';
        } else {
          plan.failure = message;
        }
      } else {
        state = outcome.result as OrchestratorState;
        if (!state || !Array.isArray(state.actions)) {
          plan.failure =
            'The orchestrator function did not return an orchestration state; is it registered with df.app.orchestration?';
          state = undefined;
        }
      }
    }

    if (state && state.customStatus !== undefined)
      plan.row.custom_status = JSON.stringify(state.customStatus);
    const units = state ? flattenUnits(state.actions) : [];
    let continueAsNew: Action | undefined;
    if (!plan.failure) {
      plan.failure = this.#checkDeterminism(row, cache, units);
    }
    if (!plan.failure) {
      for (let i = row.units_seen; i < units.length && !plan.failure; i++) {
        const unit = units[i]!;
        plan.newSigs.push(unitSignature(unit));
        if (unit.actionType === ActionType.ContinueAsNew) continueAsNew = unit;
        plan.failure = this.#scheduleUnit(plan, unit, i);
      }
      plan.row.units_seen = units.length;
    }
    // Host-driven allocations of the delivered event come after the new units (B.6d): only the last
    // event of a batch may cause them, and such an event never resumes user code.
    const last = batch[batch.length - 1]!.event;
    if (!plan.failure) this.#hostAllocations(plan, last);
    if (!plan.failure)
      this.#disarmCanceledTimers(
        plan,
        units,
        batch.map((b) => b.event),
      );
    plan.appended.push(historyEvent(EventType.OrchestratorCompleted, ts));

    const done = !plan.failure && state?.isDone === true;
    let end: 'Completed' | 'Failed' | 'ContinuedAsNew' | undefined;
    if (plan.failure) {
      end = 'Failed';
      const output = `Orchestrator function '${row.name}' failed: ${plan.failure}`;
      plan.appended.push(
        historyEvent(EventType.ExecutionCompleted, ts, {
          OrchestrationStatus: OrchestrationStatusCode.Failed,
          Result: output,
        }),
      );
      this.#finish(plan, 'Failed', JSON.stringify(output), {
        Reason: output,
        Details: `Message: ${plan.failure}, StackTrace: `,
      });
    } else if (done && continueAsNew) {
      end = 'ContinuedAsNew';
    } else if (done) {
      end = 'Completed';
      const outputJson = state?.output === undefined ? 'null' : JSON.stringify(state.output);
      plan.appended.push(
        historyEvent(EventType.ExecutionCompleted, ts, {
          OrchestrationStatus: OrchestrationStatusCode.Completed,
          Result: outputJson,
        }),
      );
      this.#finish(plan, 'Completed', outputJson);
    }

    plan.row.last_ts = ts;
    plan.row.updated_at = Math.max(this.clock.now(), ts);
    plan.row.state = JSON.stringify(plan.book);
    const appendedJson = plan.appended.map((e) => JSON.stringify(e));
    const oldCount = row.history_count;
    plan.row.history_count = oldCount + appendedJson.length;
    const outgoing = [...plan.messages];
    if (end === 'ContinuedAsNew') {
      this.#releaseLocks(plan.book, plan.row, outgoing, ts);
      const newRow = this.#continueAsNew(plan, continueAsNew!);
      outgoing.push(this.#startMessage(newRow, ts));
      plan.row = newRow;
    }
    const activityIds: number[] = [];
    const committed = this.store.transaction(() => {
      // Purged while the orchestrator ran (Azure purges running instances too): nothing to write.
      if (this.store.getInstance(row.instance_id)?.execution_id !== row.execution_id) return false;
      for (const { msg } of batch) this.store.deleteMessage(msg.id);
      for (const msg of stale) this.store.deleteMessage(msg.id);
      if (end === 'ContinuedAsNew') {
        this.store.putInstance(plan.row);
        this.store.deleteOtherExecutions(row.instance_id, plan.row.execution_id);
        this.store.deleteEventMessages(row.instance_id);
        // Unprocessed external events carry over to the new execution (B.8.7).
        for (const c of current) {
          if (c.event.EventType === EventType.EventRaised && !batch.includes(c)) {
            this.store.insertMessage({
              instanceId: row.instance_id,
              executionId: null,
              kind: 'event',
              body: c.msg.body,
              visibleAt: c.msg.visible_at,
            });
          }
        }
      } else {
        this.store.appendHistory(row.instance_id, row.execution_id, oldCount, appendedJson);
        this.store.appendUnits(row.instance_id, row.execution_id, row.units_seen, plan.newSigs);
        this.store.putInstance(plan.row);
        for (const timerId of plan.disarm) this.store.deleteTimer(row.instance_id, row.execution_id, timerId);
        if (end) this.store.deleteEventMessages(row.instance_id);
      }
      for (const child of plan.children) {
        this.store.deleteInstance(child.instance_id);
        this.store.putInstance(child);
      }
      for (const m of outgoing) this.store.insertMessage(m);
      for (const a of plan.activities) activityIds.push(this.store.insertActivity(a));
      return true;
    });
    if (!committed) {
      this.#cache.delete(row.instance_id);
      return false;
    }

    if (end) {
      this.#cache.delete(row.instance_id);
    } else {
      const played = plan.appended
        .map((e) => replayJson(e, true))
        .filter((j) => j !== undefined)
        .join(',');
      if (played) cache.played = cache.played ? `${cache.played},${played}` : played;
      cache.count += appendedJson.length;
      cache.sigs.push(...plan.newSigs);
    }
    for (const child of plan.children) this.#cache.delete(child.instance_id);
    this.#afterCommit(outgoing, activityIds, [row.instance_id]);
    return true;
  }

  #historyCache(row: InstanceRow): HistoryCache {
    let cache = this.#cache.get(row.instance_id);
    if (cache && (cache.executionId !== row.execution_id || cache.count !== row.history_count))
      cache = undefined;
    if (!cache) {
      const events = this.store.loadHistory(row.instance_id, row.execution_id);
      cache = {
        executionId: row.execution_id,
        count: events.length,
        played: events
          .map((e) => replayJson(JSON.parse(e) as HistoryEvent, true))
          .filter((j) => j !== undefined)
          .join(','),
        sigs: this.store.loadUnits(row.instance_id, row.execution_id),
      };
    }
    this.#cache.delete(row.instance_id);
    this.#cache.set(row.instance_id, cache);
    if (this.#cache.size > CACHE_LIMIT) this.#cache.delete(this.#cache.keys().next().value!);
    return cache;
  }

  /** Units already seen must come back the same on replay; DTFx fails such instances too. */
  #checkDeterminism(row: InstanceRow, cache: HistoryCache, units: Action[]): string | undefined {
    const seen = row.units_seen;
    for (let i = 0; i < Math.min(seen, units.length); i++) {
      const sig = unitSignature(units[i]!);
      if (sig !== cache.sigs[i]) {
        return (
          `Non-Deterministic workflow detected: a previous execution of this orchestration scheduled ` +
          `${describeSignature(cache.sigs[i] ?? '')} at position ${i}, but the current replay scheduled ` +
          `${describeSignature(sig)}. Was a change made to the orchestrator code after this instance had already started running?`
        );
      }
    }
    if (units.length < seen) {
      return (
        `Non-Deterministic workflow detected: a previous execution of this orchestration scheduled ` +
        `${describeSignature(cache.sigs[units.length] ?? '')} at position ${units.length}, but the current replay ` +
        `execution hasn't scheduled it. Was a change made to the orchestrator code after this instance had already started running?`
      );
    }
    return undefined;
  }

  /** Allocates ids for a new unit and dispatches its work (B.6c, B.8). Returns a failure message. */
  #scheduleUnit(plan: EpisodePlan, unit: Action, index: number): string | undefined {
    const { row, ts } = plan;
    switch (unit.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry: {
        const name = unit.functionName ?? '';
        const problem = this.#missingFunction(name, 'activity');
        if (problem) return problem;
        const id = plan.allocate();
        if (unit.actionType === ActionType.CallActivityWithRetry) {
          this.#startRetryChain(plan, id, 'activity', unit);
        }
        this.#scheduleActivity(plan, id, name, unit.input);
        return undefined;
      }
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry: {
        const name = unit.functionName ?? '';
        const problem = this.#missingFunction(name, 'orchestrator');
        if (problem) return problem;
        const id = plan.allocate();
        if (unit.actionType === ActionType.CallSubOrchestratorWithRetry) {
          this.#startRetryChain(plan, id, 'orchestration', unit);
        }
        this.#scheduleSubOrchestration(plan, id, name, unit.instanceId, unit.input, unit.version);
        return undefined;
      }
      case ActionType.CreateTimer: {
        const id = plan.allocate();
        // The raw action holds a Date: String(date) would drop its milliseconds.
        const fireAt = unit.fireAt instanceof Date ? unit.fireAt.getTime() : Date.parse(String(unit.fireAt));
        plan.appended.push(historyEvent(EventType.TimerCreated, ts, { FireAt: iso(fireAt) }, id));
        if (!unit.isCanceled) {
          this.#armDurableTimer(plan, id, fireAt);
          (plan.book.timers ??= {})[id] = index;
        }
        return undefined;
      }
      case ActionType.ContinueAsNew:
      case ActionType.WaitForExternalEvent:
        return undefined;
      case ActionType.CallHttp: {
        const id = plan.allocate();
        plan.appended.push(
          historyEvent(EventType.TaskScheduled, ts, { Name: 'BuiltIn::HttpActivity', Input: null }, id),
        );
        plan.messages.push(
          this.#completionMessage(
            row,
            historyEvent(EventType.TaskFailed, ts, {
              TaskScheduledId: id,
              Reason: 'callHttp is not supported by devhost.',
              Details:
                'devhost runs no built-in HTTP activity; call the endpoint from an activity function instead.',
            }),
          ),
        );
        return undefined;
      }
      case ActionType.CallEntity:
      case ActionType.SignalEntity: {
        const target = String(unit.instanceId ?? '');
        const problem = this.#missingFunction(parseEntityInstanceId(target).name, 'entity');
        if (problem) return problem;
        const id = plan.allocate();
        const request: Record<string, unknown> = {
          op: unit.operation ?? '',
          id: randomUUID(),
          parent: row.instance_id,
          parentExecution: row.execution_id,
        };
        if (unit.actionType === ActionType.SignalEntity) request.signal = true;
        // The action's raw input is JSON-encoded once; the entity's getInput parses it (C.4).
        if (unit.input !== undefined && unit.input !== null) request.input = JSON.stringify(unit.input);
        this.#sendToEntity(plan, id, 'op', target, request);
        return undefined;
      }
      case ActionType.LockEntities: {
        const lockset = ((unit.lockSet ?? []) as EntityRef[]).map((e) => ({
          name: String(e.name).toLowerCase(),
          key: String(e.key),
        }));
        for (const e of lockset) {
          const problem = this.#missingFunction(e.name, 'entity');
          if (problem) return problem;
        }
        const id = plan.allocate();
        const lockId = String(unit.lockRequestId);
        plan.book.lock = { id: lockId, lockset };
        if (lockset.length === 0) return undefined;
        this.#sendToEntity(plan, id, 'lock', entityInstanceId(lockset[0]!.name, lockset[0]!.key), {
          id: lockId,
          parent: row.instance_id,
          parentExecution: row.execution_id,
          lockset,
          pos: 0,
        });
        return undefined;
      }
      case ActionType.ReleaseEntities: {
        const lock = plan.book.lock;
        if (!lock) return 'The orchestration released a lock it does not hold.';
        delete plan.book.lock;
        // One id per locked entity, in lock-set order (B.6c).
        for (const e of lock.lockset) {
          const id = plan.allocate();
          this.#sendToEntity(plan, id, 'release', entityInstanceId(e.name, e.key), {
            parent: row.instance_id,
            id: lock.id,
          });
        }
        return undefined;
      }
      default:
        return `Unknown orchestrator action type ${unit.actionType}.`;
    }
  }

  /**
   * Why `name` cannot run as `kind`, in the extension's words (GetInvalid*FunctionMessage), or
   * undefined when it can. A disabled function is unknown to the extension, as on Azure.
   */
  #missingFunction(name: string, kind: DurableFunctionKind): string | undefined {
    const trigger = TRIGGER_OF[kind];
    const fn = this.registry.get(name);
    if (fn && triggerBinding(fn)[1].type === trigger && !this.invoker.disabledReason(fn.metadata.name))
      return undefined;
    const known = this.registry
      .list()
      .filter((f) => triggerBinding(f)[1].type === trigger && !this.invoker.disabledReason(f.metadata.name))
      .map((f) => f.metadata.name);
    return (
      `The function '${name}' doesn't exist, is disabled, or is not an ${kind} function. Additional info: ` +
      (known.length > 0
        ? `The following are the known ${kind} functions: '${known.join("', '")}'.`
        : `No ${kind} functions are currently registered!`)
    );
  }

  #scheduleActivity(plan: EpisodePlan, id: number, name: string, input: unknown): void {
    const inputJson = input === undefined ? null : JSON.stringify(input);
    plan.appended.push(historyEvent(EventType.TaskScheduled, plan.ts, { Name: name, Input: inputJson }, id));
    plan.activities.push({
      instanceId: plan.row.instance_id,
      executionId: plan.row.execution_id,
      taskId: id,
      name,
      input: inputJson,
      createdAt: plan.ts,
    });
  }

  #scheduleSubOrchestration(
    plan: EpisodePlan,
    id: number,
    name: string,
    explicitId: string | undefined,
    input: unknown,
    version: string | undefined,
  ): void {
    const { row, ts } = plan;
    const childId = explicitId ?? `${row.execution_id}:${id}`;
    const inputJson = toJsonText(input);
    plan.appended.push(
      historyEvent(
        EventType.SubOrchestrationInstanceCreated,
        ts,
        { Name: name, InstanceId: childId, Input: inputJson, ...(version ? { Version: version } : {}) },
        id,
      ),
    );
    const existing = this.store.getInstance(childId);
    const planned = plan.children.some((c) => c.instance_id === childId);
    if ((existing && !isTerminal(existing.status)) || planned || childId === row.instance_id) {
      plan.messages.push(
        this.#completionMessage(
          row,
          historyEvent(EventType.SubOrchestrationInstanceFailed, ts, {
            TaskScheduledId: id,
            Reason: `An orchestration with instance ID '${childId}' already exists and is not finished.`,
            Details: '',
          }),
        ),
      );
      return;
    }
    const child = this.#newInstanceRow(childId, name, inputJson, version ?? null, ts);
    child.parent_instance_id = row.instance_id;
    child.parent_execution_id = row.execution_id;
    child.parent_task_id = id;
    plan.children.push(child);
    plan.messages.push(this.#startMessage(child, ts));
  }

  #startRetryChain(plan: EpisodePlan, id: number, kind: 'activity' | 'orchestration', unit: Action): void {
    (plan.book.retries ??= {})[id] = {
      phase: 'attempt',
      kind,
      name: unit.functionName ?? '',
      input: unit.input,
      ...(unit.instanceId ? { instanceId: unit.instanceId } : {}),
      ...(unit.version ? { version: unit.version } : {}),
      options: unit.retryOptions!,
      attempt: 1,
      firstAttemptAt: plan.ts,
    };
    (plan.book.retried ??= []).push(id);
  }

  /** Does delivering this event make the host allocate ids (B.8.3)? */
  #allocates(book: InstanceBookkeeping, event: HistoryEvent): boolean {
    const retries = book.retries;
    if (!retries) return false;
    if (
      event.EventType === EventType.TaskFailed ||
      event.EventType === EventType.SubOrchestrationInstanceFailed
    ) {
      return retries[String(event.TaskScheduledId)]?.phase === 'attempt';
    }
    if (event.EventType === EventType.TimerFired) return retries[String(event.TimerId)]?.phase === 'timer';
    return false;
  }

  #hostAllocations(plan: EpisodePlan, event: HistoryEvent): void {
    const retries = plan.book.retries;
    if (!retries) return;
    if (
      event.EventType === EventType.TaskCompleted ||
      event.EventType === EventType.SubOrchestrationInstanceCompleted
    ) {
      delete retries[String(event.TaskScheduledId)];
      return;
    }
    if (!this.#allocates(plan.book, event)) return;
    if (event.EventType === EventType.TimerFired) {
      const key = String(event.TimerId);
      const chain = retries[key]!;
      delete retries[key];
      if (chain.attempt >= chain.options.maxNumberOfAttempts) return; // the library rethrows the last failure
      const id = plan.allocate();
      chain.attempt++;
      chain.phase = 'attempt';
      retries[id] = chain;
      (plan.book.retried ??= []).push(id);
      const timeout = chain.options.retryTimeoutInMilliseconds;
      if (chain.kind === 'activity') {
        this.#scheduleActivity(plan, id, chain.name, chain.input);
      } else {
        this.#scheduleSubOrchestration(plan, id, chain.name, chain.instanceId, chain.input, chain.version);
      }
      // Past the retry timeout, every further attempt fails at once with the last failure, so the
      // library exhausts its attempts instead of waiting for a timer DTFx would never create (B.8.3).
      if (
        timeout !== undefined &&
        timeout > 0 &&
        plan.ts - chain.firstAttemptAt >= timeout &&
        chain.lastFailure
      ) {
        if (chain.kind === 'activity') plan.activities.pop();
        else {
          const child = plan.children.pop();
          if (child) plan.messages.pop();
        }
        plan.messages.push(
          this.#completionMessage(
            plan.row,
            historyEvent(
              chain.kind === 'activity' ? EventType.TaskFailed : EventType.SubOrchestrationInstanceFailed,
              plan.ts,
              { ...chain.lastFailure, TaskScheduledId: id },
            ),
          ),
        );
      }
      return;
    }
    // A failed attempt: a timer follows every failed attempt, the last one included (B.8.3).
    const key = String(event.TaskScheduledId);
    const chain = retries[key]!;
    delete retries[key];
    const timerId = plan.allocate();
    const fireAt = plan.ts + retryDelay(chain.options, chain.attempt);
    chain.phase = 'timer';
    chain.lastFailure = pickFailure(event);
    retries[timerId] = chain;
    plan.appended.push(historyEvent(EventType.TimerCreated, plan.ts, { FireAt: iso(fireAt) }, timerId));
    this.#armDurableTimer(plan, timerId, fireAt);
  }

  #disarmCanceledTimers(plan: EpisodePlan, units: Action[], delivered: HistoryEvent[]): void {
    const timers = plan.book.timers;
    if (!timers) return;
    for (const event of delivered) {
      if (event.EventType === EventType.TimerFired) delete timers[String(event.TimerId)];
    }
    for (const [timerId, index] of Object.entries(timers)) {
      if (units[index]?.isCanceled) {
        plan.disarm.push(Number(timerId));
        delete timers[timerId];
      }
    }
  }

  #armDurableTimer(plan: EpisodePlan, timerId: number, fireAt: number): void {
    const event = historyEvent(EventType.TimerFired, fireAt, { TimerId: timerId, FireAt: iso(fireAt) });
    plan.messages.push({
      instanceId: plan.row.instance_id,
      executionId: plan.row.execution_id,
      kind: 'event',
      body: JSON.stringify(event),
      visibleAt: fireAt,
      timerId,
    });
  }

  #completionMessage(row: InstanceRow, event: HistoryEvent): NewMessage {
    return {
      instanceId: row.instance_id,
      executionId: row.execution_id,
      kind: 'event',
      body: JSON.stringify(event),
      visibleAt: this.clock.now(),
    };
  }

  /** Marks the instance ended and tells its parent (B.8.6). */
  #finish(
    plan: EpisodePlan,
    status: 'Completed' | 'Failed' | 'Terminated',
    outputJson: string,
    failure?: { Reason: string; Details: string },
  ): void {
    const row = plan.row;
    row.status = status;
    row.output = outputJson;
    const book = plan.book;
    delete book.retries;
    delete book.timers;
    this.#releaseLocks(book, row, plan.messages, plan.ts);
    const parent = this.#parentNotification(row, status, outputJson, failure, plan.ts);
    if (parent) plan.messages.push(parent);
  }

  #parentNotification(
    row: InstanceRow,
    status: 'Completed' | 'Failed' | 'Terminated',
    outputJson: string,
    failure: { Reason: string; Details: string } | undefined,
    ts: number,
  ): NewMessage | undefined {
    if (!row.parent_instance_id || row.parent_task_id === null) return undefined;
    const event =
      status === 'Completed'
        ? historyEvent(EventType.SubOrchestrationInstanceCompleted, ts, {
            TaskScheduledId: row.parent_task_id,
            Result: outputJson,
          })
        : historyEvent(EventType.SubOrchestrationInstanceFailed, ts, {
            TaskScheduledId: row.parent_task_id,
            ...(failure ?? {
              Reason: `Orchestration '${row.instance_id}' was terminated: ${String(JSON.parse(outputJson))}`,
              Details: '',
            }),
          });
    return {
      instanceId: row.parent_instance_id,
      executionId: row.parent_execution_id,
      kind: 'event',
      body: JSON.stringify(event),
      visibleAt: this.clock.now(),
    };
  }

  #continueAsNew(plan: EpisodePlan, action: Action): InstanceRow {
    const input = decodeReencodedInput(action.input);
    return {
      ...plan.row,
      execution_id: randomUUID().replace(/-/g, ''),
      status: 'Running',
      input: toJsonText(input),
      output: null,
      next_event_id: 0,
      units_seen: 0,
      history_count: 0,
      state: '{}',
    };
  }

  #newInstanceRow(
    id: string,
    name: string,
    inputJson: string,
    version: string | null,
    now: number,
  ): InstanceRow {
    return {
      instance_id: id,
      name,
      version,
      execution_id: randomUUID().replace(/-/g, ''),
      status: 'Pending',
      input: inputJson,
      output: null,
      custom_status: null,
      created_at: now,
      updated_at: now,
      parent_instance_id: null,
      parent_execution_id: null,
      parent_task_id: null,
      next_event_id: 0,
      units_seen: 0,
      history_count: 0,
      last_ts: 0,
      state: '{}',
    };
  }

  #startMessage(row: InstanceRow, ts: number): NewMessage {
    const event = historyEvent(EventType.ExecutionStarted, ts, {
      Name: row.name,
      Version: row.version ?? '',
      Input: row.input,
      OrchestrationInstance: { InstanceId: row.instance_id, ExecutionId: row.execution_id },
      ParentInstance: row.parent_instance_id
        ? {
            Name: null,
            OrchestrationInstance: {
              InstanceId: row.parent_instance_id,
              ExecutionId: row.parent_execution_id,
            },
            TaskScheduleId: row.parent_task_id,
          }
        : null,
    });
    return {
      instanceId: row.instance_id,
      executionId: row.execution_id,
      kind: 'event',
      body: JSON.stringify(event),
      visibleAt: ts,
    };
  }

  // ---------------------------------------------------------------- entities (protocol C)

  /** An orchestration's message to an entity: EventSent after the delivered events (C.4, B.7.5). */
  #sendToEntity(
    plan: EpisodePlan,
    eventId: number,
    kind: 'op' | 'lock' | 'release',
    target: string,
    request: Record<string, unknown>,
  ): void {
    const body = JSON.stringify(request);
    plan.appended.push(
      historyEvent(
        EventType.EventSent,
        plan.ts,
        { Name: kind === 'release' ? 'release' : 'op', InstanceId: target, Input: body },
        eventId,
      ),
    );
    plan.messages.push({
      instanceId: target,
      executionId: null,
      kind,
      body,
      visibleAt: this.clock.now(),
    });
  }

  /** An orchestration that ends (or continues as new) gives back the locks it holds. */
  #releaseLocks(book: InstanceBookkeeping, row: InstanceRow, out: NewMessage[], ts: number): void {
    const lock = book.lock;
    if (!lock) return;
    delete book.lock;
    for (const e of lock.lockset) {
      out.push({
        instanceId: entityInstanceId(e.name, e.key),
        executionId: null,
        kind: 'release',
        body: JSON.stringify({ parent: row.instance_id, id: lock.id }),
        visibleAt: Math.min(ts, this.clock.now()),
      });
    }
  }

  /** A client signal (D.3 signalEntity, D.4 POST/DELETE entities/{name}/{key}). */
  signalEntity(name: string, key: string, operation: string, inputJson: string | null): void {
    const problem = this.#missingFunction(name, 'entity');
    if (problem) throw new DurableApiError(400, problem);
    const request: Record<string, unknown> = { op: operation, id: randomUUID(), signal: true };
    if (inputJson !== null) request.input = inputJson;
    const message: NewMessage = {
      instanceId: entityInstanceId(name, key),
      executionId: null,
      kind: 'op',
      body: JSON.stringify(request),
      visibleAt: this.clock.now(),
    };
    this.store.insertMessage(message);
    this.#afterCommit([message], [], []);
  }

  /** The entity's state as JSON text, or undefined when it does not exist (D.3 readEntityState). */
  readEntity(name: string, key: string): { stateJson: string | null } | undefined {
    const row = this.store.getInstance(entityInstanceId(name, key));
    if (!row) return undefined;
    const scheduler = entityScheduler(row);
    return scheduler.exists ? { stateJson: scheduler.state } : undefined;
  }

  /**
   * One round of an entity's scheduler (C.3), committed in one transaction: messages arrive in
   * inbox order (a release from the holder unlocks at once, the holder's requests go ahead of the
   * waiting ones), then either a lock request is granted, or the operations at the front of the
   * queue run as one batch in one invocation of the entity function.
   */
  async #entityStep(row: InstanceRow, messages: InboxRow[], now: number): Promise<boolean> {
    const scheduler = entityScheduler(row);
    const queue = [...scheduler.queue];
    let lockedBy = scheduler.lockedBy;
    const consumed: number[] = [];
    const batch: EntityMessage[] = [];
    let lockRequest: EntityMessage | undefined;
    const cap = this.options.maxEntityOperationBatchSize;
    const arrive = (message: EntityMessage) => {
      if (message.kind === 'release') {
        if (lockedBy !== null && message.parent === lockedBy) lockedBy = null;
        // A lock given back before it was granted (the orchestration ended) is no longer wanted.
        const waiting = queue.findIndex(
          (m) => m.kind === 'lock' && m.parent === message.parent && m.id === message.id,
        );
        if (waiting >= 0) queue.splice(waiting, 1);
        return;
      }
      if (lockedBy !== null && message.parent === lockedBy) {
        const at = queue.findIndex((m) => m.parent !== lockedBy);
        queue.splice(at < 0 ? queue.length : at, 0, message);
      } else {
        queue.push(message);
      }
    };
    const take = () => {
      while (queue.length > 0 && batch.length < cap) {
        const head = queue[0]!;
        if (lockedBy !== null && head.parent !== lockedBy) return;
        if (head.kind === 'lock') {
          if (batch.length === 0) lockRequest = queue.shift();
          return;
        }
        batch.push(queue.shift()!);
      }
    };
    for (let next = 0; ;) {
      take();
      if (lockRequest || batch.length >= cap || next >= messages.length) break;
      const message = messages[next++]!;
      consumed.push(message.id);
      if (message.kind === 'op' || message.kind === 'lock' || message.kind === 'release') {
        arrive({ ...(JSON.parse(message.body) as EntityMessage), kind: message.kind });
      } else {
        this.logger.warn('Host.Durable', `Entity '${row.instance_id}' dropped a ${message.kind} message.`);
      }
    }

    const outgoing: NewMessage[] = [];
    const next: EntityScheduler = { ...scheduler, queue, lockedBy };
    const self = parseEntityInstanceId(row.instance_id);
    if (lockRequest) {
      next.lockedBy = lockRequest.parent ?? null;
      const lockset = lockRequest.lockset ?? [];
      const pos = (lockRequest.pos ?? 0) + 1;
      if (pos < lockset.length) {
        const { kind: _kind, ...request } = lockRequest;
        outgoing.push({
          instanceId: entityInstanceId(lockset[pos]!.name, lockset[pos]!.key),
          executionId: null,
          kind: 'lock',
          body: JSON.stringify({ ...request, pos }),
          visibleAt: now,
        });
      } else if (lockRequest.parent) {
        outgoing.push(this.#entityResponse(lockRequest, LOCK_ACQUIRED, now));
      }
    } else if (batch.length > 0) {
      const problem = this.#missingFunction(self.name, 'entity');
      const fn = problem ? undefined : this.registry.get(self.name);
      let result: EntityBatchResult;
      if (!fn) {
        this.logger.error('Host.Durable', `Entity '${row.instance_id}': ${problem}`);
        result = failedBatch(scheduler, batch.length, problem ?? '');
      } else {
        if (!this.invoker.accepting) return false;
        const request = {
          self,
          exists: scheduler.exists,
          state: scheduler.state,
          batch: batch.map((m) => ({
            name: m.op ?? '',
            input: m.input ?? null,
            isSignal: m.signal === true,
            id: m.id,
          })),
        };
        const outcome = await this.invoker.invoke({
          functionName: fn.metadata.name,
          triggerData: { string: JSON.stringify(request) },
          raw: true,
        });
        if (this.#stopped && !this.invoker.accepting) return false; // the next devhost runs the batch
        if (outcome.error) {
          this.logger.error(
            'Host.Durable',
            `Entity '${row.instance_id}' failed its batch: ${outcome.error.message}`,
          );
          result = failedBatch(scheduler, batch.length, outcome.error.message);
        } else {
          result = outcome.result as EntityBatchResult;
        }
      }
      next.exists = result.entityExists === true;
      next.state = next.exists ? (result.entityState ?? null) : null;
      const at = this.clock.now();
      batch.forEach((m, i) => {
        if (m.signal || !m.parent) return;
        const r = result.results?.[i];
        // Answer of a call (C.3 step 4): the result's JSON text, and the exception type on errors.
        const answer = JSON.stringify({
          result: r?.result,
          ...(r?.isError ? { exceptionType: 'Error' } : {}),
        });
        outgoing.push(this.#entityResponse(m, answer, at));
      });
      for (const signal of result.signals ?? []) {
        outgoing.push({
          instanceId: entityInstanceId(String(signal.target.name), String(signal.target.key)),
          executionId: null,
          kind: 'op',
          body: JSON.stringify({
            op: signal.name,
            id: randomUUID(),
            parent: row.instance_id,
            signal: true,
            ...(signal.input !== undefined ? { input: signal.input } : {}),
          }),
          visibleAt: at,
        });
      }
    } else if (consumed.length === 0) {
      return false;
    }

    const updated: InstanceRow = {
      ...row,
      state: JSON.stringify(next),
      updated_at: batch.length > 0 ? Math.max(this.clock.now(), row.updated_at) : row.updated_at,
    };
    this.store.transaction(() => {
      for (const id of consumed) this.store.deleteMessage(id);
      this.store.putInstance(updated);
      for (const m of outgoing) this.store.insertMessage(m);
    });
    this.#afterCommit(outgoing, [], [row.instance_id]);
    if (processable(next)) this.markReady(row.instance_id);
    return true;
  }

  #entityResponse(request: EntityMessage, answerJson: string, at: number): NewMessage {
    return {
      instanceId: request.parent!,
      executionId: request.parentExecution ?? null,
      kind: 'event',
      body: JSON.stringify(historyEvent(EventType.EventRaised, at, { Name: request.id, Input: answerJson })),
      visibleAt: at,
    };
  }

  // ---------------------------------------------------------------- control messages

  #applyControl(row: InstanceRow, control: InboxRow): void {
    const { type, reason } = JSON.parse(control.body) as { type: string; reason: string };
    const now = Math.max(this.clock.now(), row.last_ts + 1);
    const outgoing: NewMessage[] = [];
    const activityIds: number[] = [];
    this.store.transaction(() => {
      this.store.deleteMessage(control.id);
      const next = { ...row, updated_at: this.clock.now() };
      if (type === 'terminate' && !isTerminal(row.status)) {
        next.status = 'Terminated';
        next.output = JSON.stringify(reason);
        next.state = '{}';
        const events = [
          historyEvent(EventType.ExecutionTerminated, now, { Input: reason }),
          historyEvent(EventType.ExecutionCompleted, now, {
            OrchestrationStatus: OrchestrationStatusCode.Terminated,
            Result: next.output,
          }),
        ].map((e) => JSON.stringify(e));
        this.store.appendHistory(row.instance_id, row.execution_id, row.history_count, events);
        next.history_count += events.length;
        this.store.deleteEventMessages(row.instance_id);
        this.store.deleteQueuedActivities(row.instance_id);
        this.#releaseLocks(JSON.parse(row.state) as InstanceBookkeeping, row, outgoing, now);
        const parent = this.#parentNotification(next, 'Terminated', next.output, undefined, now);
        if (parent) outgoing.push(parent);
      } else if (type === 'suspend' && !isTerminal(row.status) && row.status !== 'Suspended') {
        next.status = 'Suspended';
      } else if (type === 'resume' && row.status === 'Suspended') {
        next.status = row.history_count > 0 ? 'Running' : 'Pending';
      } else if (type === 'rewind' && row.status === 'Failed') {
        this.#rewind(next, outgoing, activityIds);
      } else {
        return;
      }
      this.store.putInstance(next);
      for (const m of outgoing) this.store.insertMessage(m);
    });
    this.#cache.delete(row.instance_id);
    this.#afterCommit(outgoing, activityIds, [row.instance_id]);
  }

  /**
   * Rewind of a failed instance (inside the control transaction): the failure events of its failed
   * tasks become generic events, the failed activities run again under their old task ids, failed
   * sub-orchestrations are rewound too, and the final failure is removed from history. Tasks that
   * belonged to a retry chain are left alone (their numbering cannot be replayed differently).
   */
  #rewind(row: InstanceRow, outgoing: NewMessage[], activityIds: number[]): void {
    const book = JSON.parse(row.state) as InstanceBookkeeping;
    const retried = new Set(book.retried ?? []);
    const events = this.store
      .loadHistory(row.instance_id, row.execution_id)
      .map((e) => JSON.parse(e) as HistoryEvent);
    const scheduled = new Map<number, HistoryEvent>();
    let end = events.length;
    events.forEach((event, seq) => {
      if (
        event.EventType === EventType.TaskScheduled ||
        event.EventType === EventType.SubOrchestrationInstanceCreated
      ) {
        scheduled.set(event.EventId, event);
      }
      if (event.EventType === EventType.ExecutionCompleted && end === events.length) end = seq;
      const failed =
        event.EventType === EventType.TaskFailed ||
        event.EventType === EventType.SubOrchestrationInstanceFailed;
      const taskId = Number(event.TaskScheduledId);
      if (!failed || retried.has(taskId)) return;
      const rewound = historyEvent(EventType.GenericEvent, Date.parse(event.Timestamp), {
        Data: `Rewound: ${String(event.Reason)}`,
      });
      rewound.IsPlayed = false;
      this.store.replaceHistoryEvent(row.instance_id, row.execution_id, seq, JSON.stringify(rewound));
      const origin = scheduled.get(taskId);
      if (!origin) return;
      if (origin.EventType === EventType.TaskScheduled) {
        activityIds.push(
          this.store.insertActivity({
            instanceId: row.instance_id,
            executionId: row.execution_id,
            taskId,
            name: String(origin.Name),
            input: (origin.Input as string | null) ?? null,
            createdAt: this.clock.now(),
          }),
        );
      } else {
        const childId = String(origin.InstanceId);
        const child = this.store.getInstance(childId);
        if (child?.status === 'Failed') {
          outgoing.push({
            instanceId: childId,
            executionId: null,
            kind: 'control',
            body: JSON.stringify({ type: 'rewind', reason: 'parent rewound' }),
            visibleAt: this.clock.now(),
          });
        }
      }
    });
    this.store.truncateHistory(row.instance_id, row.execution_id, end);
    row.history_count = end;
    row.status = 'Running';
    row.output = null;
    if (activityIds.length === 0 && !outgoing.some((m) => m.kind === 'control')) {
      // The orchestrator itself threw: replay it once more (nothing else will wake it).
      const nudge = historyEvent(EventType.GenericEvent, this.clock.now(), { Data: 'Rewound' });
      outgoing.push({
        instanceId: row.instance_id,
        executionId: row.execution_id,
        kind: 'event',
        body: JSON.stringify(nudge),
        visibleAt: this.clock.now(),
      });
    }
  }

  // ---------------------------------------------------------------- activities

  async #runActivity(workItemId: number): Promise<void> {
    const item = this.store.getActivity(workItemId);
    // Stopping: leave the item unlocked in the hub for the next start (it never ran).
    if (!this.invoker.accepting) return;
    if (!item || !this.store.lockActivity(workItemId, this.owner)) return;
    const input = item.input === null ? undefined : (JSON.parse(item.input) as unknown);
    const triggerData: TypedData =
      input === undefined
        ? {}
        : typeof input === 'string'
          ? { string: input }
          : { json: JSON.stringify(input) };
    // Scheduled while the function ran here, but disabled or gone now (a changed app after a
    // restart): the task fails, as DTFx fails a work item whose activity it cannot find.
    const missing = this.#missingFunction(item.name, 'activity');
    const outcome = missing ? undefined : await this.invoker.invoke({ functionName: item.name, triggerData });
    if (this.#stopped && !this.invoker.accepting && outcome?.error) return; // resumed by the next devhost
    const now = this.clock.now();
    let event: HistoryEvent;
    if (!outcome) {
      event = historyEvent(EventType.TaskFailed, now, {
        TaskScheduledId: item.task_id,
        Reason: missing,
        Details: '',
      });
    } else if (outcome.error) {
      event = historyEvent(EventType.TaskFailed, now, {
        TaskScheduledId: item.task_id,
        ...activityFailure(item.name, outcome.error),
      });
    } else {
      const value = typedDataToValue(outcome.response?.returnValue);
      event = historyEvent(EventType.TaskCompleted, now, {
        TaskScheduledId: item.task_id,
        Result: value === undefined ? null : JSON.stringify(value),
      });
    }
    const message: NewMessage = {
      instanceId: item.instance_id,
      executionId: item.execution_id,
      kind: 'event',
      body: JSON.stringify(event),
      visibleAt: now,
    };
    const delivered = this.store.transaction(() => {
      if (!this.store.deleteActivity(workItemId)) return false;
      this.store.insertMessage(message);
      return true;
    });
    if (delivered) this.#afterCommit([message], [], []);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function pickFailure(event: HistoryEvent): Record<string, unknown> {
  const failure: Record<string, unknown> = { Reason: event.Reason, Details: event.Details };
  if (event.FailureDetails !== undefined) failure.FailureDetails = event.FailureDetails;
  return failure;
}

/**
 * Reason/Details as every deployed extension produces them (B.8.2). When the app's
 * exception-properties provider turned the message into structured JSON, FailureDetails too.
 */
function activityFailure(name: string, error: Error): Record<string, unknown> {
  const failure: Record<string, unknown> = {
    Reason: `Activity function '${name}' failed: ${error.message}`,
    Details: JSON.stringify({ Message: error.message, StackTrace: error.stack ?? '' }),
  };
  try {
    const parsed = JSON.parse(error.message) as Record<string, unknown>;
    if (parsed && typeof parsed.errorType === 'string' && typeof parsed.errorMessage === 'string') {
      failure.Reason = `Activity function '${name}' failed: ${parsed.errorMessage}`;
      failure.FailureDetails = {
        ErrorType: parsed.errorType,
        ErrorMessage: parsed.errorMessage,
        StackTrace: typeof parsed.stackTrace === 'string' ? parsed.stackTrace : (error.stack ?? null),
        IsNonRetriable: parsed.isNonRetriable === true,
        ...(parsed.properties ? { Properties: parsed.properties } : {}),
      };
    }
  } catch {
    // An ordinary message.
  }
  return failure;
}

function entityScheduler(row: InstanceRow): EntityScheduler {
  const parsed = JSON.parse(row.state) as Partial<EntityScheduler>;
  return {
    exists: parsed.exists === true,
    state: parsed.state ?? null,
    lockedBy: parsed.lockedBy ?? null,
    queue: parsed.queue ?? [],
  };
}

/** Can the queue's head run now (not held back by another orchestration's lock)? */
function processable(scheduler: EntityScheduler): boolean {
  const head = scheduler.queue[0];
  if (!head) return false;
  return scheduler.lockedBy === null || head.parent === scheduler.lockedBy;
}

/** The whole invocation failed (not one operation): every operation fails, the state stays. */
function failedBatch(scheduler: EntityScheduler, size: number, message: string): EntityBatchResult {
  return {
    entityExists: scheduler.exists,
    ...(scheduler.state !== null ? { entityState: scheduler.state } : {}),
    results: Array.from({ length: size }, () => ({ isError: true, result: JSON.stringify(message) })),
    signals: [],
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
