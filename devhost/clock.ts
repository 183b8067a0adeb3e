/**
 * The host's notion of time. Timer triggers and durable timers read it, so tests can drive
 * schedules by moving a manual clock instead of sleeping.
 */
export interface Clock {
  now(): number;
  /** Calls `callback` once the clock reaches `at` (ms since epoch). Returns a cancel function. */
  schedule(at: number, callback: () => void): () => void;
}

export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  schedule(at: number, callback: () => void): () => void {
    // setTimeout overflows past ~24.8 days: wake up early and re-arm until the time has come.
    const maxDelay = 2 ** 31 - 1;
    let timer: NodeJS.Timeout;
    const arm = () => {
      const wait = at - Date.now();
      if (wait <= 0) {
        callback();
        return;
      }
      timer = setTimeout(arm, Math.min(wait, maxDelay));
      timer.unref();
    };
    timer = setTimeout(arm, Math.max(0, Math.min(at - Date.now(), maxDelay)));
    timer.unref();
    return () => clearTimeout(timer);
  }
}

/** A clock that moves only when told to; due callbacks run in time order as it advances. */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 0;
  readonly #pending = new Map<number, { at: number; callback: () => void }>();

  constructor(start: number = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  schedule(at: number, callback: () => void): () => void {
    const id = this.#nextId++;
    this.#pending.set(id, { at, callback });
    if (at <= this.#now) queueMicrotask(() => this.#fireDue());
    return () => this.#pending.delete(id);
  }

  /** Moves time forward by `ms`, firing everything that falls due on the way, earliest first. */
  advance(ms: number): void {
    this.set(this.#now + ms);
  }

  set(time: number): void {
    if (time < this.#now) throw new Error('A manual clock only moves forward.');
    for (;;) {
      const next = this.#earliestDue(time);
      if (!next) break;
      this.#now = Math.max(this.#now, next.at);
      this.#pending.delete(next.id);
      next.callback();
    }
    this.#now = time;
  }

  #fireDue(): void {
    this.set(this.#now);
  }

  #earliestDue(limit: number): { id: number; at: number; callback: () => void } | undefined {
    let best: { id: number; at: number; callback: () => void } | undefined;
    for (const [id, entry] of this.#pending) {
      if (entry.at <= limit && (!best || entry.at < best.at)) best = { id, ...entry };
    }
    return best;
  }
}
