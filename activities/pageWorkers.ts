/**
 * Page work off the host's thread. The batch activities that read, shape, encode, decode and
 * write whole pages (extractPage, applyPage, compareLink, repairRange) are CPU-bound for tens of
 * milliseconds a page; on the thread that also runs HTTP triggers, Service Bus handlers and (on
 * devhost) the Durable backend, they made every status request wait. So the registered activity
 * hands its typed input to a pool of `node:worker_threads` workers, each with its own runtime
 * (its own SQLite connections and blob client over the same config), and returns the worker's
 * typed output: the same activity code, the same transactions, only another thread. Plain Node
 * worker threads, so it works the same under devhost, `func start` and in Azure.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { AppConfig } from '../config/loadConfig.js';
import { SyncError } from '../sync/errors.js';
import type { SyncErrorCode } from '../sync/errors.js';
import type {
  ApplyPageInput,
  ApplyPageOutput,
  CompareLinkInput,
  CompareLinkOutput,
  ExtractPageInput,
  ExtractPageOutput,
  RepairCounts,
  RepairRangeInput,
} from './contracts.js';

/** The activities that run on page workers, with their input and output types. */
export interface PageActivities {
  extractPage: { input: ExtractPageInput; output: ExtractPageOutput };
  applyPage: { input: ApplyPageInput; output: ApplyPageOutput };
  compareLink: { input: CompareLinkInput; output: CompareLinkOutput };
  repairRange: { input: RepairRangeInput; output: RepairCounts };
}
export type PageActivity = keyof PageActivities;

export interface PageJob {
  readonly id: number;
  readonly activity: PageActivity;
  readonly input: unknown;
}

/** A fault as it crosses the thread boundary: enough to rebuild the same SyncError. */
export interface PageFault {
  readonly name: string;
  readonly message: string;
  readonly code?: SyncErrorCode;
  readonly retryable?: boolean;
}

export type PageReply =
  | { readonly id: number; readonly ok: true; readonly output: unknown }
  | { readonly id: number; readonly ok: false; readonly fault: PageFault };

/** What a page worker is started with (workerData). */
export interface PageWorkerSetup {
  readonly kind: 'region-sync-page-worker';
  readonly config: AppConfig;
}

export function describeFault(e: unknown): PageFault {
  if (e instanceof SyncError)
    return { name: e.name, message: e.message, code: e.code, retryable: e.retryable };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

function rebuildFault(f: PageFault): Error {
  if (f.code !== undefined) {
    const options = f.retryable === undefined ? {} : { retryable: f.retryable };
    return new SyncError(f.code, f.message, options);
  }
  const e = new Error(f.message);
  e.name = f.name;
  return e;
}

export interface PageWorkers {
  /** Runs one activity on the least busy worker and resolves with its output. */
  run<K extends PageActivity>(
    activity: K,
    input: PageActivities[K]['input'],
  ): Promise<PageActivities[K]['output']>;
  /**
   * Starts every worker now instead of on its first job, so a run's first pages do not wait for
   * threads to start and load the activity code (a few hundred ms; measured: the first checkpoint
   * of a bench run 0.9-1.0 -> 0.8-0.9 s after the start request).
   */
  warm(): void;
  /** Jobs handed to workers so far (tests check that page work left the calling thread). */
  readonly jobsRun: number;
  /** Worker threads running now. */
  readonly threads: number;
  close(): Promise<void>;
}

interface Slot {
  worker: Worker | null;
  readonly pending: Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>;
}

/**
 * Young generation of a page worker's heap (V8 gives a third to each semi-space). A page's rows
 * are thousands of small objects that live for one activity; with room for a few pages they die
 * young instead of being promoted and marked by full collections (measured with --max-semi-space-size
 * on the stages of bench/batchSyncStages: about a quarter less CPU per row than the default).
 */
const YOUNG_GENERATION_MB = 96;

/**
 * Old generation ceiling of a page worker. V8 lets an old generation grow by a factor it takes
 * from this ceiling (up to 4 at 2 GB and above on 64-bit; ~1.5 at the 1 GB devhost gives its
 * process), and starts marking early whenever the room left is less than the young generation
 * could promote at once. With a 96 MB young generation and a worker's ~20 MB of live data, 1 GB
 * meant a full collection every ~0.5 s per worker (23 in a 12 s run, each freeing 3-35 MB); with
 * 2 GB, 13, and V8's helper threads 1.0 -> 0.75 s each. A ceiling, not a reservation: a worker's
 * heap still follows its live data.
 */
const OLD_GENERATION_MB = 2048;

/** How long a closing worker may take to close its stores before it is terminated. */
const CLOSE_GRACE_MS = 5000;

/**
 * A pool of `size` page workers over `config`, started on first use. Each worker takes several
 * jobs at once (their blob I/O overlaps); a job goes to the worker with the fewest in flight. A
 * worker that dies fails its jobs with a retryable error (the activity's retry policy runs it
 * again) and is replaced by the next job.
 */
export function createPageWorkers(config: AppConfig, size: number): PageWorkers {
  const entry = path.join(__dirname, 'pageWorker.js');
  const slots: Slot[] = Array.from({ length: Math.max(1, Math.floor(size)) }, () => ({
    worker: null,
    pending: new Map(),
  }));
  let nextId = 1;
  let jobsRun = 0;
  let closed = false;

  const fail = (slot: Slot, w: Worker, why: string) => {
    if (slot.worker !== w) return;
    slot.worker = null;
    const err = new SyncError('connection', `page worker stopped: ${why}`, { retryable: true });
    for (const p of slot.pending.values()) p.reject(err);
    slot.pending.clear();
  };

  const start = (slot: Slot): Worker => {
    if (slot.worker !== null) return slot.worker;
    const setup: PageWorkerSetup = { kind: 'region-sync-page-worker', config };
    const w = new Worker(entry, {
      workerData: setup,
      resourceLimits: {
        maxYoungGenerationSizeMb: YOUNG_GENERATION_MB,
        maxOldGenerationSizeMb: OLD_GENERATION_MB,
      },
    });
    w.unref(); // an idle pool never keeps the process alive
    w.on('message', (reply: PageReply) => {
      const p = slot.pending.get(reply.id);
      if (p === undefined) return;
      slot.pending.delete(reply.id);
      if (slot.pending.size === 0) w.unref();
      if (reply.ok) p.resolve(reply.output);
      else p.reject(rebuildFault(reply.fault));
    });
    w.on('error', (e) => fail(slot, w, e instanceof Error ? e.message : String(e)));
    w.on('exit', (code) => fail(slot, w, `exit ${code}`));
    slot.worker = w;
    return w;
  };

  return {
    get jobsRun() {
      return jobsRun;
    },
    get threads() {
      return slots.filter((s) => s.worker !== null).length;
    },
    warm() {
      if (!closed) for (const slot of slots) start(slot);
    },
    run(activity, input) {
      if (closed)
        return Promise.reject(new SyncError('connection', 'page workers are closed', { retryable: false }));
      let slot = slots[0] as Slot;
      for (const s of slots) if (s.pending.size < slot.pending.size) slot = s;
      const w = start(slot);
      const id = nextId++;
      jobsRun++;
      return new Promise((resolve, reject) => {
        slot.pending.set(id, { resolve, reject });
        w.ref(); // a job in flight keeps the process alive
        const job: PageJob = { id, activity, input };
        w.postMessage(job);
      });
    },
    async close() {
      closed = true;
      await Promise.all(
        slots.map(async (slot) => {
          const w = slot.worker;
          slot.worker = null;
          if (w === null) return;
          const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
          w.postMessage('close'); // the worker closes its stores, then exits
          const timer = setTimeout(() => void w.terminate(), CLOSE_GRACE_MS);
          await exited;
          clearTimeout(timer);
          const err = new SyncError('connection', 'page workers closed', { retryable: true });
          for (const p of slot.pending.values()) p.reject(err);
          slot.pending.clear();
        }),
      );
    },
  };
}
