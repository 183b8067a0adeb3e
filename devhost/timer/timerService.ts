import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { RegisteredFunction } from '../worker/coreApi';
import { triggerBinding, type FunctionInvoker } from '../worker/invoker';
import { parseSchedule, type Schedule } from './schedule';

/** A timer firing later than this after its occurrence counts as past due. */
const PAST_DUE_TOLERANCE_MS = 1000;
/** The Functions host monitors schedules whose occurrences are at least a minute apart by default. */
const MONITOR_THRESHOLD_MS = 60_000;
/** .NET's DateTime.MinValue, what ScheduleStatus.Last reads before the first run. */
const NEVER = '0001-01-01T00:00:00.000Z';

interface ScheduleStatus {
  Last: string;
  Next: string;
  LastUpdated: string;
}

interface TimerState {
  fn: RegisteredFunction;
  schedule: Schedule;
  runOnStartup: boolean;
  monitor: boolean;
  running: boolean;
  /** Scheduled time of the last run (ms), for ScheduleStatus.Last. */
  last: number | undefined;
  next: number | undefined;
  cancel: (() => void) | undefined;
}

export interface TimerServiceOptions {
  invoker: FunctionInvoker;
  clock: Clock;
  logger: Logger;
  /** Where schedule status is kept across restarts; ':memory:' keeps none. */
  dataDir: string;
  timeZone: string | undefined;
}

/**
 * Drives timerTrigger functions on the host clock: NCRONTAB or TimeSpan schedules,
 * runOnStartup, never two runs of one timer at once, and isPastDue when an occurrence was
 * missed (because a run overran it, or, for monitored schedules, because the host was down).
 */
export class TimerService {
  readonly #timers = new Map<string, TimerState>();
  readonly #runs = new Set<Promise<void>>();
  #stopped = false;

  constructor(private readonly options: TimerServiceOptions) {}

  /** Registers a timer function; throws a ScheduleError the host turns into a disabled function. */
  add(fn: RegisteredFunction): void {
    const [, binding] = triggerBinding(fn);
    const text = typeof binding.schedule === 'string' ? binding.schedule : '';
    const schedule = parseSchedule(text, this.options.timeZone);
    const first = schedule.next(this.options.clock.now());
    const spacing = schedule.next(first) - first;
    const useMonitor = binding.useMonitor;
    this.#timers.set(fn.metadata.name.toLowerCase(), {
      fn,
      schedule,
      runOnStartup: binding.runOnStartup === true || binding.runOnStartup === 'true',
      monitor:
        useMonitor === undefined || useMonitor === null
          ? spacing >= MONITOR_THRESHOLD_MS
          : useMonitor === true || useMonitor === 'true',
      running: false,
      last: undefined,
      next: undefined,
      cancel: undefined,
    });
  }

  has(name: string): boolean {
    return this.#timers.has(name.toLowerCase());
  }

  start(): void {
    const now = this.options.clock.now();
    for (const state of this.#timers.values()) {
      const status = state.monitor ? this.#readStatus(state) : undefined;
      if (status) state.last = Date.parse(status.Last) || undefined;
      const missed = status ? Date.parse(status.Next) : NaN;
      if (Number.isFinite(missed) && missed < now) {
        this.options.logger.info(
          'Host.Triggers.Timer',
          `Function "${state.fn.metadata.name}" missed its occurrence at ${iso(missed)} while the host was down; running it now (past due).`,
        );
        this.#cycle(state, missed, true);
      } else if (state.runOnStartup) {
        this.#cycle(state, now, false);
      } else {
        this.#arm(state, now);
      }
    }
  }

  /** Stops scheduling; runs already started finish on their own (the invoker drains them). */
  stop(): void {
    this.#stopped = true;
    for (const state of this.#timers.values()) state.cancel?.();
  }

  /** Settings shown by `GET /admin/functions`. */
  describe(name: string): Record<string, unknown> | undefined {
    const state = this.#timers.get(name.toLowerCase());
    if (!state) return undefined;
    return {
      schedule: state.schedule.text,
      timeZone: this.options.timeZone ?? 'UTC',
      runOnStartup: state.runOnStartup,
      useMonitor: state.monitor,
      nextRun: state.next === undefined ? null : iso(state.next),
      lastRun: state.last === undefined ? null : iso(state.last),
      running: state.running,
    };
  }

  /** Admin invoke: runs the timer now, outside its schedule, as Core Tools does. */
  async invokeNow(name: string): Promise<void> {
    const state = this.#timers.get(name.toLowerCase());
    if (!state) throw new Error(`"${name}" is not a timer function.`);
    const now = this.options.clock.now();
    await this.options.invoker.invoke({
      functionName: state.fn.metadata.name,
      triggerData: { json: JSON.stringify(this.#timerInfo(state, now, false)) },
    });
  }

  /** Runs every in-flight timer invocation to completion (used by tests and shutdown). */
  async settle(): Promise<void> {
    while (this.#runs.size > 0) await Promise.allSettled([...this.#runs]);
  }

  #arm(state: TimerState, after: number): void {
    if (this.#stopped) return;
    const next = state.schedule.next(after);
    state.next = next;
    state.cancel = this.options.clock.schedule(next, () => {
      state.cancel = undefined;
      // Read the time once the clock has finished moving: a manual clock calls back at each due
      // time on its way, and a sleeping machine wakes up late. Occurrences passed meanwhile
      // collapse into one past-due run, as the Functions timer listener does.
      queueMicrotask(() => {
        const now = this.options.clock.now();
        const latest = this.#latestOccurrence(state, next, now);
        this.#cycle(state, latest, latest !== next || now - next > PAST_DUE_TOLERANCE_MS);
      });
    });
    if (state.monitor) this.#writeStatus(state);
  }

  /**
   * One run, then the next arming. The next timer is armed only after the run ends, so one timer
   * never overlaps itself; occurrences missed meanwhile collapse into one past-due run.
   */
  #cycle(state: TimerState, scheduledAt: number, isPastDue: boolean): void {
    if (this.#stopped) return;
    const run = (async () => {
      let occurrence = scheduledAt;
      let pastDue = isPastDue;
      for (;;) {
        await this.#runOnce(state, occurrence, pastDue);
        if (this.#stopped) return;
        const now = this.options.clock.now();
        const following = state.schedule.next(occurrence);
        if (following > now) break;
        const latest = this.#latestOccurrence(state, following, now);
        this.options.logger.info(
          'Host.Triggers.Timer',
          `Function "${state.fn.metadata.name}" was still running at ${iso(following)}; running the missed occurrence ${iso(latest)} now (past due).`,
        );
        occurrence = latest;
        pastDue = true;
      }
      this.#arm(state, occurrence);
    })();
    this.#runs.add(run);
    void run
      .catch((err: unknown) =>
        this.options.logger.error(
          'Host.Triggers.Timer',
          `Timer "${state.fn.metadata.name}" failed to run: ${String(err)}`,
        ),
      )
      .finally(() => this.#runs.delete(run));
  }

  /** The last occurrence at or before `now`, starting from the occurrence `from` (≤ now). */
  #latestOccurrence(state: TimerState, from: number, now: number): number {
    let latest = from;
    for (let guard = 0; guard < 100_000; guard++) {
      const after = state.schedule.next(latest);
      if (after > now) break;
      latest = after;
    }
    return latest;
  }

  async #runOnce(state: TimerState, scheduledAt: number, isPastDue: boolean): Promise<void> {
    state.running = true;
    state.next = undefined;
    try {
      const info = this.#timerInfo(state, scheduledAt, isPastDue);
      state.last = scheduledAt;
      if (state.monitor) this.#writeStatus(state, state.schedule.next(scheduledAt));
      // A failing run is logged by the invoker; the schedule goes on, as on Azure.
      await this.options.invoker.invoke({
        functionName: state.fn.metadata.name,
        triggerData: { json: JSON.stringify(info) },
      });
    } finally {
      state.running = false;
    }
  }

  /** The TimerInfo the Functions host sends (PascalCase; the library camel-cases it). */
  #timerInfo(state: TimerState, scheduledAt: number, isPastDue: boolean): Record<string, unknown> {
    const status: ScheduleStatus | null = state.monitor
      ? {
          Last: state.last === undefined ? NEVER : iso(state.last),
          Next: iso(state.schedule.next(scheduledAt)),
          LastUpdated: iso(this.options.clock.now()),
        }
      : null;
    return { Schedule: { AdjustForDST: true }, ScheduleStatus: status, IsPastDue: isPastDue };
  }

  #statusFile(state: TimerState): string | undefined {
    if (this.options.dataDir === ':memory:') return undefined;
    return path.join(this.options.dataDir, 'timers', `${state.fn.metadata.name.toLowerCase()}.json`);
  }

  #readStatus(state: TimerState): ScheduleStatus | undefined {
    const file = this.#statusFile(state);
    if (!file) return undefined;
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<ScheduleStatus> & {
        Schedule?: string;
      };
      // A changed schedule makes the old Next meaningless, as the host recomputes it.
      if (parsed.Schedule !== state.schedule.text || !parsed.Next || !parsed.Last) return undefined;
      return { Last: parsed.Last, Next: parsed.Next, LastUpdated: parsed.LastUpdated ?? parsed.Next };
    } catch {
      return undefined;
    }
  }

  #writeStatus(state: TimerState, next = state.next): void {
    const file = this.#statusFile(state);
    if (!file || next === undefined) return;
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      const status = {
        Schedule: state.schedule.text,
        Last: state.last === undefined ? NEVER : iso(state.last),
        Next: iso(next),
        LastUpdated: iso(this.options.clock.now()),
      };
      writeFileSync(file + '.tmp', JSON.stringify(status));
      renameSync(file + '.tmp', file);
    } catch (err) {
      this.options.logger.warn(
        'Host.Triggers.Timer',
        `Cannot record the schedule status in ${file}: ${String(err)}`,
      );
    }
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
