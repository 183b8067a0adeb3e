/**
 * Tells when devhost's thread could not run for a while. That thread serves HTTP, runs the
 * Durable backend and hands work to the app: while it is held, every request waits (the batch
 * bench once saw both status endpoints answer after ~3 s). A timer that should fire every
 * `intervalMs` measures how late it fired; a gap over `thresholdMs` is reported with what the
 * thread and the process did meanwhile (Linux /proc), which tells the three usual causes apart.
 */
import { readFileSync } from 'node:fs';
import { statCpuSeconds } from './procStat';

export type StallCause =
  /** The thread ran all along: a long synchronous piece of code (a big JSON, a sync loop). */
  | 'busy'
  /** The thread waited in a blocking call (sync file I/O, a lock) while other threads ran. */
  | 'blocked'
  /** Nothing in the process ran: the machine did not schedule it (a VM pause, SIGSTOP, swap). */
  | 'not-scheduled'
  /** No per-thread CPU figures on this platform. */
  | 'unknown';

export interface Stall {
  readonly ms: number;
  /** CPU the host's thread used during the gap (null where /proc is missing). */
  readonly threadCpuMs: number | null;
  /** CPU the whole process used during the gap (all threads). */
  readonly processCpuMs: number;
  readonly cause: StallCause;
}

/** Which of the causes fits a gap of `ms` in which the thread and the process used so much CPU. */
export function stallCause(ms: number, threadCpuMs: number | null, processCpuMs: number): StallCause {
  if (threadCpuMs === null) return 'unknown';
  if (threadCpuMs >= ms / 2) return 'busy';
  if (processCpuMs >= ms / 10) return 'blocked';
  return 'not-scheduled';
}

/** The host's main thread in /proc (Linux only; elsewhere there are no per-thread figures). */
const MAIN_THREAD_STAT = process.platform === 'linux' ? `/proc/self/task/${process.pid}/stat` : null;

/** CPU milliseconds of the process's main thread so far, null without /proc. */
function mainThreadCpuMs(): number | null {
  if (MAIN_THREAD_STAT === null) return null;
  try {
    return statCpuSeconds(readFileSync(MAIN_THREAD_STAT, 'utf8')) * 1000;
  } catch {
    return null;
  }
}

function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Starts watching; returns the function that stops. Call it on the thread to watch (devhost's
 * main thread). The timer never keeps the process alive.
 */
export function watchStalls(
  onStall: (stall: Stall) => void,
  options: { intervalMs?: number; thresholdMs?: number } = {},
): () => void {
  const intervalMs = options.intervalMs ?? 250;
  const thresholdMs = options.thresholdMs ?? 1000;
  let last = performance.now();
  let thread = mainThreadCpuMs();
  let proc = processCpuMs();
  const timer = setInterval(() => {
    const now = performance.now();
    const threadNow = mainThreadCpuMs();
    const procNow = processCpuMs();
    const ms = now - last - intervalMs;
    if (ms >= thresholdMs) {
      const threadCpuMs = threadNow === null || thread === null ? null : threadNow - thread;
      const processCpuMs = procNow - proc;
      onStall({ ms, threadCpuMs, processCpuMs, cause: stallCause(ms, threadCpuMs, processCpuMs) });
    }
    last = now;
    thread = threadNow;
    proc = procNow;
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

const EXPLAIN: Record<StallCause, string> = {
  busy: 'the thread was running code all along',
  blocked: 'the thread waited in a blocking call while other threads ran',
  'not-scheduled': 'nothing in the process ran: the machine did not schedule it',
  unknown: 'no per-thread CPU figures on this platform',
};

/** The host's log line for a stall. */
export function describeStall(s: Stall): string {
  const cpu =
    s.threadCpuMs === null
      ? `process CPU ${s.processCpuMs.toFixed(0)} ms`
      : `thread CPU ${s.threadCpuMs.toFixed(0)} ms, process CPU ${s.processCpuMs.toFixed(0)} ms`;
  return `The host thread did not run for ${s.ms.toFixed(0)} ms (${cpu}): ${EXPLAIN[s.cause]}. Requests waited meanwhile.`;
}
