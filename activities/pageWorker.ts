/**
 * A page worker thread (see pageWorkers.ts): its own runtime over the app's config, the same
 * activity functions the host thread would run, one job per message, several in flight.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createApplyPage } from './applyPage.js';
import { createExtractPage } from './extractPage.js';
import type { PageActivities, PageActivity, PageJob, PageReply, PageWorkerSetup } from './pageWorkers.js';
import { describeFault } from './pageWorkers.js';
import { createCompareLink, createRepairRange } from './reconcile.js';
import { createRuntime } from './runtime.js';

const setup = workerData as PageWorkerSetup;
const port = parentPort;
if (port === null || setup?.kind !== 'region-sync-page-worker')
  throw new Error('pageWorker.js runs only as a page worker thread (see activities/pageWorkers.ts)');

// Inline work only: a page worker never starts workers of its own.
const runtime = createRuntime(setup.config, { pageWorkers: 0 });
const handlers: {
  [K in PageActivity]: (input: PageActivities[K]['input']) => Promise<PageActivities[K]['output']>;
} = {
  extractPage: createExtractPage(runtime),
  applyPage: createApplyPage(runtime),
  compareLink: createCompareLink(runtime),
  repairRange: createRepairRange(runtime),
};

const inFlight = new Set<Promise<void>>();

async function handle(job: PageJob): Promise<void> {
  let reply: PageReply;
  try {
    const handler = handlers[job.activity] as (input: unknown) => Promise<unknown>;
    if (handler === undefined) throw new Error(`no page activity '${String(job.activity)}'`);
    reply = { id: job.id, ok: true, output: await handler(job.input) };
  } catch (e) {
    reply = { id: job.id, ok: false, fault: describeFault(e) };
  }
  port?.postMessage(reply);
}

port.on('message', (message: PageJob | 'close') => {
  if (message === 'close') {
    // Finish what was handed over, close the stores, then end the thread.
    void Promise.allSettled([...inFlight])
      .then(() => runtime.close())
      .finally(() => process.exit(0));
    return;
  }
  const p = handle(message).finally(() => inFlight.delete(p));
  inFlight.add(p);
});
