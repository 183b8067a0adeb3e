/**
 * The wire vocabulary between devhost and the durable-functions library (durable-host-protocol.md
 * Parts B and D): DTFx history event types, the library's action types, and small helpers to build
 * and number them. Nothing here touches storage.
 */

export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
  GenericEvent: 17,
  HistoryState: 18,
  ExecutionSuspended: 19,
  ExecutionResumed: 20,
} as const;

export const EventTypeName: Record<number, string> = Object.fromEntries(
  Object.entries(EventType).map(([name, value]) => [value, name]),
);

export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

/** DTFx OrchestrationStatus numbers, as written into ExecutionCompleted. */
export const OrchestrationStatusCode = { Completed: 1, Failed: 3, Terminated: 5 } as const;

export type RuntimeStatus =
  'Pending' | 'Running' | 'Completed' | 'ContinuedAsNew' | 'Failed' | 'Canceled' | 'Terminated' | 'Suspended';

export const RUNTIME_STATUSES: readonly RuntimeStatus[] = [
  'Pending',
  'Running',
  'Completed',
  'ContinuedAsNew',
  'Failed',
  'Canceled',
  'Terminated',
  'Suspended',
];

export function isTerminal(status: string): boolean {
  return status === 'Completed' || status === 'Failed' || status === 'Terminated' || status === 'Canceled';
}

/** A history event as the library reads it: PascalCase, numeric EventType (B.2). */
export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  [field: string]: unknown;
}

/** Builds an event with the common fields first, so the serialized form has a fixed prefix. */
export function historyEvent(
  type: number,
  timestamp: number,
  fields: Record<string, unknown> = {},
  eventId = -1,
): HistoryEvent {
  return { EventType: type, EventId: eventId, IsPlayed: false, Timestamp: iso(timestamp), ...fields };
}

const UNPLAYED = '"IsPlayed":false';
const PLAYED = '"IsPlayed":true';

/** Events are stored unplayed; earlier episodes' events are sent with IsPlayed true (B.2). */
export function asPlayed(eventJson: string): string {
  return eventJson.replace(UNPLAYED, PLAYED);
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** One action as `JSON.stringify` of the library's action objects shows it (B.4). */
export interface Action {
  actionType: number;
  functionName?: string;
  input?: unknown;
  instanceId?: string;
  version?: string;
  retryOptions?: RetryOptions;
  fireAt?: string | Date;
  isCanceled?: boolean;
  externalEventName?: string;
  operation?: string;
  compoundActions?: Action[];
  httpRequest?: { method?: string; uri?: string };
  lockSet?: unknown[];
  [field: string]: unknown;
}

export interface RetryOptions {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

/** What the orchestrator handler resolves with (B.3). */
export interface OrchestratorState {
  isDone: boolean;
  actions: Action[][];
  output?: unknown;
  customStatus?: unknown;
  error?: string;
  schemaVersion?: number;
}

/**
 * Flattens the cumulative action list into units (B.6a): WhenAll/WhenAny are containers, every
 * other action is a unit, and an action object already seen in this walk is skipped. Identity, not
 * JSON equality: a new Task.any over already scheduled tasks repeats the same objects.
 */
export function flattenUnits(actions: Action[][] | undefined): Action[] {
  const units: Action[] = [];
  const seen = new Set<Action>();
  const walk = (list: Action[] | undefined) => {
    for (const action of list ?? []) {
      if (seen.has(action)) continue;
      seen.add(action);
      if (action.actionType === ActionType.WhenAll || action.actionType === ActionType.WhenAny) {
        walk(action.compoundActions);
      } else {
        units.push(action);
      }
    }
  };
  for (const group of actions ?? []) walk(group);
  return units;
}

/**
 * What must stay the same for a unit when the orchestration replays. Like DTFx, names and kinds
 * are compared, inputs are not.
 */
export function unitSignature(action: Action): string {
  switch (action.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry:
      return `activity:${action.functionName ?? ''}`;
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry:
      return `orchestration:${action.functionName ?? ''}`;
    case ActionType.CreateTimer:
      return 'timer';
    case ActionType.WaitForExternalEvent:
      return `event:${action.externalEventName ?? ''}`;
    case ActionType.CallEntity:
    case ActionType.SignalEntity:
      return `entity:${action.instanceId ?? ''}:${action.operation ?? ''}`;
    default:
      return `action:${action.actionType}`;
  }
}

export function describeSignature(sig: string): string {
  const [kind, ...rest] = sig.split(':');
  const name = rest.join(':');
  switch (kind) {
    case 'activity':
      return `an activity task named '${name}'`;
    case 'orchestration':
      return `a sub-orchestration named '${name}'`;
    case 'timer':
      return 'a durable timer';
    case 'event':
      return `a wait for the external event '${name}'`;
    case 'entity':
      return `an entity operation '${name}'`;
    default:
      return `an action of type ${name}`;
  }
}

/** Activity and continue-as-new inputs are JSON-encoded once more when they are strings (B.4). */
export function decodeReencodedInput(input: unknown): unknown {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input) as unknown;
  } catch {
    return input;
  }
}

/** JSON text of a value, `null` text when absent. */
export function toJsonText(value: unknown): string {
  return value === undefined ? 'null' : JSON.stringify(value);
}

/** Durable ids: what Azure refuses for instance ids (D.4). */
export function instanceIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'Instance ID must not be empty.';
  if (id.length > 256) return 'Instance ID must not be longer than 256 characters.';
  if (id.startsWith('@')) return `Instance ID '${id}' must not start with '@'.`;
  // eslint-disable-next-line no-control-regex
  if (/[/\\#?\u0000-\u001f\u007f-\u009f]/.test(id)) {
    return `Instance ID '${id}' contains one of the disallowed characters '/', '\\', '#', '?' or a control character.`;
  }
  return undefined;
}

/** `yyyy-MM-ddTHH:mm:ssZ`, the precision of the status payload (D.4). */
export function statusTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Retry delay after the `attempt`-th failure (1-based), as durabletask's RetryInterceptor computes it. */
export function retryDelay(options: RetryOptions, attempt: number): number {
  const coefficient = options.backoffCoefficient ?? 1;
  let delay = options.firstRetryIntervalInMilliseconds * Math.pow(coefficient, attempt - 1);
  const cap = options.maxRetryIntervalInMilliseconds;
  if (cap !== undefined && cap > 0 && delay > cap) delay = cap;
  return Math.max(0, Math.round(delay));
}

/** The fields the library reads, per event type (B.2); every other event type it ignores. */
const REPLAY_FIELDS: Record<number, readonly string[]> = {
  [EventType.ExecutionStarted]: ['Version'],
  [EventType.OrchestratorStarted]: ['Timestamp'],
  [EventType.ContinueAsNew]: [],
  [EventType.TaskCompleted]: ['TaskScheduledId', 'Result'],
  [EventType.SubOrchestrationInstanceCompleted]: ['TaskScheduledId', 'Result'],
  [EventType.TaskFailed]: ['TaskScheduledId', 'Reason', 'Details', 'FailureDetails'],
  [EventType.SubOrchestrationInstanceFailed]: ['TaskScheduledId', 'Reason', 'Details', 'FailureDetails'],
  [EventType.TimerFired]: ['TimerId', 'FireAt'],
  [EventType.EventSent]: ['Input'],
  [EventType.EventRaised]: ['Name', 'Input'],
};

/**
 * The form of a history event sent to the orchestrator: only the events and fields the library
 * reads (B.2), so replay parses and walks a fraction of the stored history. The library ignores
 * scheduling events (TaskScheduled, TimerCreated, ...) and OrchestratorCompleted; their ids are
 * the host's business (B.6). Returns undefined for events the library never looks at.
 */
export function replayJson(event: HistoryEvent, played: boolean): string | undefined {
  const fields = REPLAY_FIELDS[event.EventType];
  if (!fields) return undefined;
  const compact: Record<string, unknown> = {
    EventType: event.EventType,
    EventId: event.EventId,
    IsPlayed: played,
  };
  for (const field of fields) if (event[field] !== undefined) compact[field] = event[field];
  return JSON.stringify(compact);
}
