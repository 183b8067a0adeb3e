/**
 * Drives one orchestrator through constructed durable histories, in memory and in milliseconds.
 *
 * The orchestrator is registered as the app registers it (`registerOrchestration`, over the real
 * `df.app.orchestration`), captured through a test registry standing in for
 * `@azure/functions-core` as the Node worker's does, and every episode
 * invokes the handler the library registered with the whole history of the execution, the way the
 * Durable extension does (docs: /work/shared/design/durable-host-protocol.md B.1-B.7). The test
 * answers the tasks the orchestrator scheduled (`complete`, `fail`, `fireTimer`, `answerEntity`),
 * one message per episode, and reads back what the library returned: new tasks, custom status,
 * output, failure, continue-as-new. Event ids are allocated as the library allocates them (B.6),
 * so a history built here replays exactly like one a host recorded.
 */
import { format } from 'node:util';
import * as df from 'durable-functions';
import type { OrchestratorContract } from '../../orchestrators/contracts';
import type { OrchestratorHandler } from '../../orchestrators/registration';
import { registerOrchestration } from '../../orchestrators/registration';
import { PAYLOAD_SETTINGS } from '../../devhost/durable/engine';
import type { Action, HistoryEvent, OrchestratorState, RetryOptions } from '../../devhost/durable/protocol';
import { ActionType, EventType, decodeReencodedInput, flattenUnits } from '../../devhost/durable/protocol';
import { captureRegistrations, registeredFunction } from './registrations';

/** Anything named like a contract: activity and orchestrator contracts, with phantom types. */
export interface Named<I = unknown, O = unknown> {
  readonly name: string;
  readonly _in?: I;
  readonly _out?: O;
}

export type TaskKind = 'activity' | 'subOrchestration' | 'timer' | 'entity';

/** A durable task the orchestrator scheduled. `I`/`O` are its contract's input and output. */
export interface ScheduledTask<I = unknown, O = unknown> {
  readonly kind: TaskKind;
  /** Activity or orchestrator name, entity operation, or `timer`. */
  readonly name: string;
  readonly input: I;
  /** Sub-orchestration instance id, or the entity's scheduler id (`@orderSync@sea:1`). */
  readonly instanceId?: string;
  readonly fireAt?: string;
  readonly retry?: RetryOptions;
  /** The action as the library returned it (JSON form). */
  readonly action: Action;
  /** Phantom: the output `complete` takes. */
  readonly _out?: O;
}

export interface LogLine {
  readonly level: string;
  readonly message: string;
}

export interface ReplayOptions {
  readonly instanceId?: string;
  /** Time of the first episode; each later episode is one second later (a timer: its fireAt). */
  readonly startedAt?: string;
  readonly parentInstanceId?: string;
}

/** Where the execution stands after the last episode. */
export type ReplayStatus =
  | { readonly kind: 'running' }
  | { readonly kind: 'completed'; readonly output: unknown }
  | { readonly kind: 'failed'; readonly error: string }
  | { readonly kind: 'continuedAsNew'; readonly input: unknown };

type OrchestrationHandler = (
  trigger: unknown,
  context: df.OrchestrationContext,
) => Promise<OrchestratorState>;

interface Open {
  readonly task: ScheduledTask;
  /** The event id the library waits on now (a retry's later attempts get new ids). */
  id: number;
  attempt: number;
  /** Entity calls: the request id the response is raised under. */
  readonly requestId?: string;
}

const OUT_OF_PROC_LABEL = '\n\n$OutOfProcData$:';
const EPISODE_MS = 1000;

/** The handler `df.app.orchestration` registered under `name` while `register` ran. */
export function registeredOrchestrator(name: string, register: () => void): OrchestrationHandler {
  return registeredFunction(captureRegistrations(register), name).callback as unknown as OrchestrationHandler;
}

/**
 * One orchestration instance under test. `start` runs the first episode; each answer runs the
 * next one and returns the tasks the orchestrator scheduled in it.
 */
export class OrchestrationReplay {
  readonly instanceId: string;
  /** Every line the orchestrator logged through its context, across all episodes. */
  readonly logs: LogLine[] = [];
  /** Every task scheduled in this execution, in event-id order. */
  readonly scheduled: ScheduledTask[] = [];
  /** The last custom status the orchestrator set. */
  customStatus: unknown;
  status: ReplayStatus = { kind: 'running' };
  /** Episodes run (orchestrator invocations), over all executions. */
  episodes = 0;

  #history: HistoryEvent[] = [];
  #open = new Map<ScheduledTask, Open>();
  #nextEventId = 0;
  #unitsSeen = 0;
  #now: number;
  readonly #name: string;
  readonly #handler: OrchestrationHandler;
  readonly #parentInstanceId: string | null;
  #input: unknown;

  private constructor(name: string, handler: OrchestrationHandler, input: unknown, options: ReplayOptions) {
    this.#name = name;
    this.#handler = handler;
    this.#input = input;
    this.instanceId = options.instanceId ?? `${name}-test`;
    this.#now = Date.parse(options.startedAt ?? '2026-12-04T03:00:00.000Z');
    this.#parentInstanceId = options.parentInstanceId ?? null;
  }

  /** Registers `handler` over its contract as the app does, and runs the first episode. */
  static async start<I, O>(
    contract: OrchestratorContract<I, O>,
    handler: OrchestratorHandler<I, O>,
    input: I,
    options: ReplayOptions = {},
  ): Promise<OrchestrationReplay> {
    const register = () => registerOrchestration(contract, handler);
    const replay = new OrchestrationReplay(
      contract.name,
      registeredOrchestrator(contract.name, register),
      input,
      options,
    );
    await replay.#beginExecution();
    return replay;
  }

  /** The history of the current execution, as the last episode was given it. */
  get history(): readonly HistoryEvent[] {
    return this.#history;
  }

  /** Tasks scheduled and not answered yet, in event-id order. */
  get pending(): ScheduledTask[] {
    return [...this.#open.values()].sort((a, b) => a.id - b.id).map((o) => o.task);
  }

  /** Pending tasks of one contract (activity or orchestrator), typed by it. */
  pendingOf<I, O>(contract: Named<I, O>): ScheduledTask<I, O>[] {
    return this.pending.filter((t) => t.name === contract.name && t.kind !== 'entity') as ScheduledTask<
      I,
      O
    >[];
  }

  /** The one pending task of a contract; fails with what is pending otherwise. */
  only<I, O>(contract: Named<I, O>): ScheduledTask<I, O> {
    const tasks = this.pendingOf(contract);
    if (tasks.length !== 1) {
      throw new Error(
        `expected one pending '${contract.name}', found ${tasks.length}; pending: ${this.describePending()}`,
      );
    }
    return tasks[0] as ScheduledTask<I, O>;
  }

  /** Pending entity calls (operation names). */
  pendingEntityCalls(operation?: string): ScheduledTask[] {
    return this.pending.filter(
      (t) => t.kind === 'entity' && (operation === undefined || t.name === operation),
    );
  }

  describePending(): string {
    return (
      this.pending.map((t) => `${t.kind}:${t.name}${t.instanceId ? `(${t.instanceId})` : ''}`).join(', ') ||
      'none'
    );
  }

  /** Lines logged with `event` (replay-safe telemetry lines are JSON with an `event` field). */
  logged(event: string): Record<string, unknown>[] {
    return this.logs
      .map((l) => {
        try {
          return JSON.parse(l.message) as Record<string, unknown>;
        } catch {
          return {};
        }
      })
      .filter((l) => l.event === event);
  }

  /** Completes an activity or sub-orchestration with its output. */
  complete<O>(task: ScheduledTask<unknown, O>, output: O): Promise<ScheduledTask[]> {
    const open = this.#take(task, ['activity', 'subOrchestration']);
    const type =
      task.kind === 'activity' ? EventType.TaskCompleted : EventType.SubOrchestrationInstanceCompleted;
    this.#open.delete(task);
    return this.#episode([this.#event(type, { TaskScheduledId: open.id, Result: jsonText(output) })]);
  }

  /**
   * Fails an activity or sub-orchestration for good: with a retry policy, every remaining attempt
   * fails (each failure and each retry timer is its own episode, as a host delivers them).
   */
  async fail(task: ScheduledTask, message: string): Promise<ScheduledTask[]> {
    const max = task.retry?.maxNumberOfAttempts ?? 1;
    let open = this.#take(task, ['activity', 'subOrchestration']);
    let scheduled: ScheduledTask[] = [];
    while (open.attempt <= max && this.#open.has(task)) {
      scheduled = await this.failAttempt(task, message);
      open = this.#open.get(task) ?? open;
    }
    return scheduled;
  }

  /**
   * Fails one attempt. With a retry policy the library then waits on a retry timer, which fires
   * in the next episode: a new attempt if any is left (the task stays pending), else the failure.
   */
  async failAttempt(task: ScheduledTask, message: string): Promise<ScheduledTask[]> {
    const open = this.#take(task, ['activity', 'subOrchestration']);
    const failure =
      task.kind === 'activity'
        ? {
            Reason: `Activity function '${task.name}' failed: ${message}`,
            Details: JSON.stringify({ Message: message, StackTrace: '' }),
          }
        : {
            Reason: `Orchestrator function '${task.name}' failed: ${message}`,
            Details: `Message: ${message}, StackTrace: `,
          };
    const type = task.kind === 'activity' ? EventType.TaskFailed : EventType.SubOrchestrationInstanceFailed;
    const failed = this.#event(type, { TaskScheduledId: open.id, ...failure });
    if (task.retry === undefined) {
      this.#open.delete(task);
      return this.#episode([failed]);
    }
    // The library tracks a retry timer after every failed attempt, the last one included (B.8.3).
    const timerId = this.#nextEventId++;
    await this.#episode([failed]);
    this.#history.push(
      this.#event(EventType.TimerCreated, { FireAt: new Date(this.#now).toISOString() }, timerId),
    );
    const fired = this.#event(EventType.TimerFired, {
      TimerId: timerId,
      FireAt: new Date(this.#now).toISOString(),
    });
    if (open.attempt >= task.retry.maxNumberOfAttempts) {
      this.#open.delete(task);
      return this.#episode([fired]);
    }
    open.attempt++;
    open.id = this.#nextEventId++;
    const scheduled = await this.#episode([fired]);
    this.#history.push(this.#scheduledEvent(task, open.id));
    return scheduled;
  }

  /** Fires a durable timer (the episode runs at its fireAt). */
  fireTimer(task: ScheduledTask): Promise<ScheduledTask[]> {
    const open = this.#take(task, ['timer']);
    this.#open.delete(task);
    const fireAt = Date.parse(task.fireAt ?? '');
    this.#now = Math.max(this.#now, fireAt - EPISODE_MS);
    return this.#episode([this.#event(EventType.TimerFired, { TimerId: open.id, FireAt: task.fireAt })]);
  }

  /** Answers an entity call (callEntity) with the operation's result. */
  answerEntity(task: ScheduledTask, result: unknown): Promise<ScheduledTask[]> {
    const open = this.#take(task, ['entity']);
    this.#open.delete(task);
    const response = { result: jsonText(result) };
    return this.#episode([
      this.#event(EventType.EventRaised, { Name: open.requestId, Input: JSON.stringify(response) }),
    ]);
  }

  /** Starts the next execution with the input the orchestrator continued as new with. */
  async continueAsNew(): Promise<ScheduledTask[]> {
    if (this.status.kind !== 'continuedAsNew')
      throw new Error(`the orchestration is ${this.status.kind}, it did not continue as new`);
    this.#input = this.status.input;
    return this.#beginExecution();
  }

  async #beginExecution(): Promise<ScheduledTask[]> {
    this.#history = [];
    this.#open.clear();
    this.#nextEventId = 0;
    this.#unitsSeen = 0;
    this.status = { kind: 'running' };
    return this.#episode([
      this.#event(EventType.ExecutionStarted, {
        Name: this.#name,
        Input: jsonText(this.#input),
        OrchestrationInstance: { InstanceId: this.instanceId },
      }),
    ]);
  }

  #take(task: ScheduledTask, kinds: readonly TaskKind[]): Open {
    const open = this.#open.get(task);
    if (open === undefined)
      throw new Error(`${task.kind} '${task.name}' is not pending; pending: ${this.describePending()}`);
    if (!kinds.includes(task.kind))
      throw new Error(`${task.kind} '${task.name}' cannot be answered this way`);
    if (this.status.kind !== 'running') throw new Error(`the orchestration is ${this.status.kind}`);
    return open;
  }

  #event(type: number, fields: Record<string, unknown>, eventId = -1): HistoryEvent {
    return {
      EventType: type,
      EventId: eventId,
      IsPlayed: false,
      Timestamp: new Date(this.#now).toISOString(),
      ...fields,
    };
  }

  /** One episode: earlier events played, a new OrchestratorStarted, the message, one invocation. */
  async #episode(messages: HistoryEvent[]): Promise<ScheduledTask[]> {
    if (this.#history.length > 0) this.#now += EPISODE_MS;
    for (const e of this.#history) e.IsPlayed = true;
    const started = this.#event(EventType.OrchestratorStarted, {});
    this.#history.push(started, ...messages.map((m) => ({ ...m, Timestamp: started.Timestamp })));
    // The host sends JSON: a fresh copy, so nothing the test holds is shared with the orchestrator.
    const trigger = JSON.parse(
      JSON.stringify({
        history: this.#history,
        input: this.#input,
        instanceId: this.instanceId,
        isReplaying: false,
        parentInstanceId: this.#parentInstanceId,
        ...PAYLOAD_SETTINGS,
      }),
    ) as unknown;
    const context = new df.DummyOrchestrationContext(
      this.#name,
      `episode-${++this.episodes}`,
      (level, ...args) => this.logs.push({ level, message: format(...args) }),
    );
    let state: OrchestratorState;
    try {
      state = await this.#handler(trigger, context);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const at = message.indexOf(OUT_OF_PROC_LABEL);
      if (at < 0) throw e; // the library refused the payload: a bug of this helper
      const failed = JSON.parse(message.slice(at + OUT_OF_PROC_LABEL.length)) as OrchestratorState;
      this.customStatus = failed.customStatus ?? this.customStatus;
      this.status = { kind: 'failed', error: failed.error ?? '' };
      return [];
    }
    if (state.customStatus !== undefined) this.customStatus = state.customStatus;
    const fresh = this.#schedule(flattenUnits(state.actions));
    this.#history.push(this.#event(EventType.OrchestratorCompleted, {}));
    if (state.isDone) {
      const next = flattenUnits(state.actions).find((a) => a.actionType === ActionType.ContinueAsNew);
      this.status =
        next === undefined
          ? { kind: 'completed', output: state.output }
          : { kind: 'continuedAsNew', input: decodeReencodedInput(next.input) };
    }
    return fresh;
  }

  /** Numbers the units first seen in this episode (B.6c) and records their scheduling events. */
  #schedule(units: Action[]): ScheduledTask[] {
    const fresh: ScheduledTask[] = [];
    for (const action of units.slice(this.#unitsSeen)) {
      const task = taskOf(action);
      if (task === null) continue;
      const id = this.#nextEventId++;
      const requestId = task.kind === 'entity' ? `${this.instanceId}:request:${id}` : undefined;
      this.#open.set(task, { task, id, attempt: 1, ...(requestId === undefined ? {} : { requestId }) });
      this.scheduled.push(task);
      fresh.push(task);
      this.#history.push(this.#scheduledEvent(task, id, requestId));
    }
    this.#unitsSeen = units.length;
    return fresh;
  }

  #scheduledEvent(task: ScheduledTask, id: number, requestId?: string): HistoryEvent {
    switch (task.kind) {
      case 'activity':
        return this.#event(EventType.TaskScheduled, { Name: task.name, Input: jsonText(task.input) }, id);
      case 'subOrchestration':
        return this.#event(
          EventType.SubOrchestrationInstanceCreated,
          { Name: task.name, InstanceId: task.instanceId, Input: jsonText(task.input) },
          id,
        );
      case 'timer':
        return this.#event(EventType.TimerCreated, { FireAt: task.fireAt }, id);
      case 'entity':
        // The library re-keys the waiting task to the request id found here (B.2, EventSent).
        return this.#event(
          EventType.EventSent,
          {
            Name: 'op',
            InstanceId: task.instanceId,
            Input: JSON.stringify({
              id: requestId,
              op: task.name,
              signal: false,
              input: jsonText(task.input),
              parent: this.instanceId,
            }),
          },
          id,
        );
    }
  }
}

/** The task a unit stands for; null for units that schedule nothing (continue-as-new). */
function taskOf(action: Action): ScheduledTask | null {
  const base = { action, name: action.functionName ?? '', input: decodeReencodedInput(action.input) };
  switch (action.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry:
      return { ...base, kind: 'activity', ...(action.retryOptions ? { retry: action.retryOptions } : {}) };
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry:
      return {
        ...base,
        kind: 'subOrchestration',
        input: action.input,
        ...(action.instanceId === undefined ? {} : { instanceId: action.instanceId }),
        ...(action.retryOptions ? { retry: action.retryOptions } : {}),
      };
    case ActionType.CreateTimer: {
      const fireAt = action.fireAt instanceof Date ? action.fireAt.toISOString() : String(action.fireAt);
      return { ...base, kind: 'timer', name: 'timer', input: undefined, fireAt };
    }
    case ActionType.CallEntity:
      return {
        ...base,
        kind: 'entity',
        name: action.operation ?? '',
        input: action.input,
        ...(action.instanceId === undefined ? {} : { instanceId: action.instanceId }),
      };
    case ActionType.ContinueAsNew:
      return null;
    default:
      throw new Error(`the replay helper does not answer actions of type ${action.actionType} yet`);
  }
}

function jsonText(value: unknown): string {
  return value === undefined ? 'null' : JSON.stringify(value);
}
