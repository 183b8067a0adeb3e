/**
 * Capped fan-out for orchestrators (STYLE §11: every fan-out has a cap): durable tasks for a set
 * of items, at most `total` running at once and at most `perGroup` of one group (flowSync: links
 * writing into one target region), started in the items' order as room frees up, each outcome
 * handed back as it arrives (Task.any). The caller decides what is ready after every outcome (an
 * item may want another call) and may drain: start nothing more, let what runs finish.
 *
 * Deterministic like any orchestrator code: the same outcomes in the same order start the same
 * tasks, so it replays.
 */
import type { OrchestrationContext, Task } from 'durable-functions';

export interface FanOutLimits {
  /** Items running at once, over all groups. */
  readonly total: number;
  /** Items of one group running at once. */
  readonly perGroup: number;
}

export interface FanOutItem {
  /** Unique among the items (e.g. `cn>sea`). */
  readonly key: string;
  readonly group: string;
}

/** A scheduled durable task whose result is read back typed (activities' and sub-orchestrations'). */
export interface StartedTask<O> {
  readonly task: Task;
  result(): O;
}

/** A task's outcome: its result, or the first line of its failure. */
export type Outcome<O> =
  { readonly ok: true; readonly value: O } | { readonly ok: false; readonly error: string };

export interface FanOut<O> {
  readonly limits: FanOutLimits;
  /** Items that want a task now, in priority order; asked again after every outcome. */
  ready(): readonly FanOutItem[];
  start(item: FanOutItem): StartedTask<O>;
  /** An item's outcome, with the number of items still running; `drain` starts nothing more. */
  finished(item: FanOutItem, outcome: Outcome<O>, running: number): 'continue' | 'drain';
}

/**
 * The ready items that may start now, in order, given the items running: skips running items and
 * full groups, stops when the total is reached. Pure.
 */
export function startable(
  ready: readonly FanOutItem[],
  running: readonly FanOutItem[],
  limits: FanOutLimits,
): FanOutItem[] {
  const total = Math.max(1, limits.total);
  const perGroup = Math.max(1, limits.perGroup);
  const busy = new Set(running.map((i) => i.key));
  const inGroup = new Map<string, number>();
  for (const i of running) inGroup.set(i.group, (inGroup.get(i.group) ?? 0) + 1);
  const chosen: FanOutItem[] = [];
  for (const item of ready) {
    if (running.length + chosen.length >= total) break;
    if (busy.has(item.key)) continue;
    const n = inGroup.get(item.group) ?? 0;
    if (n >= perGroup) continue;
    busy.add(item.key);
    inGroup.set(item.group, n + 1);
    chosen.push(item);
  }
  return chosen;
}

/** The first line of a failed task's error (durable-functions appends the remote details). */
export function failureText(task: Task): string {
  const r = task.result;
  const text = r instanceof Error ? r.message : String(r);
  const first = text.split('\n', 1)[0] ?? text;
  return first.length > 500 ? `${first.slice(0, 500)}...` : first.trim();
}

/**
 * Runs the fan-out until nothing is ready and nothing runs (`done`), or until it was told to drain
 * and the last running item finished (`drained`).
 */
export function* fanOut<O>(
  context: OrchestrationContext,
  plan: FanOut<O>,
): Generator<Task, 'done' | 'drained', unknown> {
  const running: { readonly item: FanOutItem; readonly started: StartedTask<O> }[] = [];
  let draining = false;
  for (;;) {
    if (!draining) {
      const items = running.map((r) => r.item);
      for (const item of startable(plan.ready(), items, plan.limits))
        running.push({ item, started: plan.start(item) });
    }
    if (running.length === 0) return draining ? 'drained' : 'done';
    const winner = (yield context.df.Task.any(running.map((r) => r.started.task))) as Task;
    const index = running.findIndex((r) => r.started.task === winner);
    const [done] = running.splice(index, 1);
    if (done === undefined) throw new Error('Task.any answered with a task the fan-out did not start');
    const outcome: Outcome<O> = winner.isFaulted
      ? { ok: false, error: failureText(winner) }
      : { ok: true, value: done.started.result() };
    if (plan.finished(done.item, outcome, running.length) === 'drain') draining = true;
    if (draining && running.length === 0) return 'drained';
  }
}
