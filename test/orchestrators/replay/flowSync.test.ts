/**
 * flowSync replayed by the real durable-functions library over constructed histories: waves,
 * per-target and global caps under any completion order, progress, failed links, the full
 * compare, continue-as-new. (test/orchestrators/flowSync.test.ts checks the same on devhost.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { PlanFlowOutput, RecordRunInput, RunRequest, SyncReport } from '../../../activities/contracts';
import { activities } from '../../../activities/contracts';
import type { FlowSyncInput } from '../../../orchestrators/flowSync';
import type { FlowState } from '../../../orchestrators/flowState';
import { MAX_LINKS_AT_ONCE, flowSync } from '../../../orchestrators/flowSync';
import type {
  LinkProgress,
  PairSyncInput,
  ReconcileLinkInput,
  ReconcileLinkOutput,
} from '../../../orchestrators/contracts';
import { linkKey, orchestrators } from '../../../orchestrators/contracts';
import type { LinkId } from '../../../sync/model';
import { TELEMETRY_EVENT } from '../../../sync/telemetry';
import type { ScheduledTask } from '../../support/orchestrationReplay';
import { OrchestrationReplay } from '../../support/orchestrationReplay';

const link = (source: string, target: string): LinkId => ({ flow: 'pricing', source, target });
const SPOKES = ['sea', 'eu', 'latam'];
const INBOUND = SPOKES.map((s) => link(s, 'cn'));
const OUTBOUND = SPOKES.map((s) => link('cn', s));

function plan(over: Partial<Extract<PlanFlowOutput, { kind: 'planned' }>> = {}): PlanFlowOutput {
  return {
    kind: 'planned',
    inbound: INBOUND,
    outbound: OUTBOUND,
    tables: ['price_list'],
    pageSize: 500,
    concurrencyPerTarget: 2,
    ...over,
  };
}

const REQUEST: RunRequest = { flow: 'pricing', mode: 'incremental', dryRun: false, trigger: 'test' };
const INSTANCE = 'pricing-incremental';
const STARTED = '2026-12-04T03:00:00.000Z';
// The run starts when the plan comes back, in the second episode: one second later.
const PLANNED = '2026-12-04T03:00:01.000Z';
const RUN_ID = `${INSTANCE}.20261204T030001.000Z`;

const start = (input: FlowSyncInput = { request: REQUEST }) =>
  OrchestrationReplay.start(orchestrators.flowSync, flowSync, input, {
    instanceId: INSTANCE,
    startedAt: STARTED,
  });

/** How the scripted links behave: calls each needs before it is done, and links that fail. */
interface Script {
  readonly callsPerLink?: number;
  readonly failing?: Readonly<Record<string, string>>;
  readonly failingReconcile?: Readonly<Record<string, string>>;
}

/** A pairSync call's answer: two more pages. */
function walked(input: PairSyncInput, done: boolean): LinkProgress {
  const p = input.progress;
  return {
    ...p,
    pages: p.pages + 2,
    page: p.page + 2,
    rowsRead: p.rowsRead + 4,
    rowsStaged: p.rowsStaged + 4,
    inserted: p.inserted + 3,
    updated: p.updated + 1,
    done,
  };
}

const RECONCILED: ReconcileLinkOutput = {
  sourceRows: 10,
  targetRows: 10,
  matched: 9,
  missing: 1,
  extra: 0,
  differing: 0,
  repaired: 1,
  refused: 0,
};

const linkOf = (t: ScheduledTask): LinkId =>
  t.name === orchestrators.reconcileLink.name
    ? (t.input as ReconcileLinkInput).link
    : (t.input as PairSyncInput).progress.link;

/** What the caps allow, checked after every episode. */
function assertCaps(h: OrchestrationReplay, cap: number): void {
  const running = [...h.pendingOf(orchestrators.pairSync), ...h.pendingOf(orchestrators.reconcileLink)];
  assert.ok(running.length <= MAX_LINKS_AT_ONCE, `${running.length} links at once`);
  const perTarget = new Map<string, number>();
  for (const t of running) {
    const { target } = linkOf(t);
    perTarget.set(target, (perTarget.get(target) ?? 0) + 1);
  }
  for (const [target, n] of perTarget)
    assert.ok(n <= cap, `${n} links write into ${target} at once (cap ${cap})`);
}

/**
 * Answers every task until the run ends, picking the next pending task with `pick` (an index into
 * the pending list, modulo its length), and records the order links started in.
 */
async function drive(
  h: OrchestrationReplay,
  script: Script,
  pick: (pendingCount: number, step: number) => number = () => 0,
): Promise<{ started: string[]; finishedInbound: number; firstOutbound: number }> {
  const callsPerLink = script.callsPerLink ?? 2;
  const callsMade = new Map<string, number>();
  const started: string[] = [];
  let step = 0;
  let finishedInbound = -1;
  let firstOutbound = -1;
  const cap = 2;
  for (const t of h.scheduled) if (t.kind === 'subOrchestration') started.push(t.instanceId ?? '');
  while (h.status.kind === 'running') {
    const pending = h.pending;
    assert.ok(pending.length > 0, 'the run waits on nothing');
    const task = pending[pick(pending.length, step) % pending.length] as ScheduledTask;
    step++;
    let fresh: ScheduledTask[];
    if (task.name === activities.planFlow.name) fresh = await h.complete(task, plan());
    else if (task.name === activities.recordRun.name) fresh = await h.complete(task, { pruned: 0 });
    else if (task.name === activities.writeReport.name)
      fresh = await h.complete(task, { blob: 'pricing/report.json' });
    else if (task.name === orchestrators.reconcileLink.name) {
      const key = linkKey((task.input as ReconcileLinkInput).link);
      const failure = script.failingReconcile?.[key];
      fresh = failure === undefined ? await h.complete(task, RECONCILED) : await h.fail(task, failure);
    } else {
      const input = task.input as PairSyncInput;
      const key = linkKey(input.progress.link);
      const calls = (callsMade.get(key) ?? 0) + 1;
      callsMade.set(key, calls);
      const failure = script.failing?.[key];
      if (failure !== undefined) fresh = await h.fail(task, failure);
      else fresh = await h.complete(task, walked(input, calls >= callsPerLink));
      if (input.progress.link.target === 'cn' && calls >= callsPerLink) finishedInbound = step;
    }
    for (const t of fresh) {
      if (t.kind !== 'subOrchestration') continue;
      started.push(t.instanceId ?? '');
      if (linkOf(t).source === 'cn' && firstOutbound < 0) firstOutbound = step;
    }
    assertCaps(h, cap);
  }
  return { started, finishedInbound, firstOutbound };
}

/** Answers the plan, then the run record written at the start; returns the tasks started next. */
async function planned(h: OrchestrationReplay, p: PlanFlowOutput = plan()): Promise<ScheduledTask[]> {
  await h.complete(h.only(activities.planFlow), p);
  return h.complete(h.only(activities.recordRun), { pruned: 0 });
}

const records = (h: OrchestrationReplay) =>
  h.scheduled
    .filter((t) => t.name === activities.recordRun.name)
    .map((t) => (t.input as RecordRunInput).record);

const output = (h: OrchestrationReplay) => (h.status as { output: SyncReport }).output;
const error = (h: OrchestrationReplay) => (h.status as { error: string }).error;

describe('flowSync (replayed)', () => {
  it('plans the run, walks inbound links before outbound ones within the caps, and reports what was walked', async () => {
    const h = await start({ request: { ...REQUEST, regions: ['sea'], pageSize: 50 } });
    assert.deepEqual(h.only(activities.planFlow).input, { flow: 'pricing', regions: ['sea'] });
    await planned(h);

    // Two of the three inbound links (the per-target cap), each as its own sub-orchestration.
    const first = h.pendingOf(orchestrators.pairSync);
    assert.deepEqual(
      first.map((t) => t.instanceId),
      [`${RUN_ID}~sea>cn~w1`, `${RUN_ID}~eu>cn~w1`],
    );
    const firstInput = first[0]?.input as PairSyncInput;
    assert.deepEqual(
      { ...firstInput, progress: undefined },
      {
        runId: RUN_ID,
        tables: ['price_list'],
        mode: 'incremental',
        dryRun: false,
        pageSize: 50,
        maxPages: 8,
        pagesPerGeneration: 4,
        pagesThisCall: 0,
        progress: undefined,
      },
    );

    const { started, finishedInbound, firstOutbound } = await drive(h, { callsPerLink: 2 });
    assert.ok(finishedInbound <= firstOutbound, 'an outbound link started before the inbound wave ended');
    // Every link was called until done: w1 then w2.
    assert.equal(started.length, 12);
    for (const l of [...INBOUND, ...OUTBOUND])
      for (const call of [1, 2]) assert.ok(started.includes(`${RUN_ID}~${linkKey(l)}~w${call}`));

    assert.equal(h.status.kind, 'completed', JSON.stringify(h.status));
    const report = output(h);
    assert.equal(report.runId, RUN_ID);
    assert.equal(report.instanceId, INSTANCE);
    assert.equal(report.startedAt, PLANNED);
    assert.equal(report.links.length, 6);
    assert.ok(
      report.links.every((l) => l.done && l.pages === 4 && l.lastError === null && l.reconcile === null),
    );
    assert.deepEqual(report.totals, {
      pages: 24,
      rowsRead: 48,
      rowsWritten: 48,
      matched: 0,
      repaired: 0,
      refused: 0,
    });
    assert.equal(report.reportBlob, null, 'only a full compare writes a report');
    assert.equal(h.pendingOf(activities.writeReport).length, 0);

    const status = h.customStatus as { links: unknown; pages: number; rows: number; written: number };
    assert.deepEqual(status.links, { done: 6, failed: 0, total: 6, running: 0 });
    assert.deepEqual([status.pages, status.rows, status.written], [24, 48, 48]);
    // Logged once each, however often the orchestrator replayed.
    assert.equal(h.logged(TELEMETRY_EVENT.runStarted).length, 1);
    assert.equal(h.logged(TELEMETRY_EVENT.linkStarted).length, 6);
    assert.equal(h.logged(TELEMETRY_EVENT.linkFinished).length, 6);
    assert.equal(h.logged(TELEMETRY_EVENT.runFinished).length, 1);
  });

  it('keeps the caps and the waves, and its progress adds up, whatever order the links finish in', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 3 }),
        async (picks, calls) => {
          const h = await start();
          const { finishedInbound, firstOutbound } = await drive(
            h,
            { callsPerLink: calls },
            (_n, step) => picks[step % picks.length] ?? 0,
          );
          assert.ok(finishedInbound <= firstOutbound);
          assert.equal(h.status.kind, 'completed');
          const report = output(h);
          assert.equal(report.totals.pages, 6 * 2 * calls);
          assert.equal((h.customStatus as { pages: number }).pages, report.totals.pages);
        },
      ),
      { numRuns: 12, seed: 20261204 },
    );
  });

  it('never runs more than MAX_LINKS_AT_ONCE links, however many targets', async () => {
    const spokes = Array.from({ length: MAX_LINKS_AT_ONCE + 4 }, (_, i) => `s${i}`);
    const h = await start();
    await planned(
      h,
      plan({ inbound: [], outbound: spokes.map((s) => link('cn', s)), concurrencyPerTarget: 4 }),
    );
    assert.equal(h.pendingOf(orchestrators.pairSync).length, MAX_LINKS_AT_ONCE);
    // One finishes: exactly one of the waiting links starts.
    const [one] = h.pendingOf(orchestrators.pairSync);
    assert.ok(one !== undefined);
    const fresh = await h.complete(one, { ...one.input.progress, done: true });
    assert.deepEqual(
      fresh.map((t) => t.instanceId),
      [`${RUN_ID}~cn>s${MAX_LINKS_AT_ONCE}~w1`],
    );
  });

  it('goes on with the other links when one fails, then fails the run naming the link and its reason', async () => {
    const h = await start();
    await drive(h, { failing: { 'eu>cn': 'source unreachable' } });
    assert.equal(h.status.kind, 'failed');
    assert.match(
      error(h),
      /^1 of 6 links failed: eu>cn: Orchestrator function 'pairSync' failed: source unreachable$/,
    );
    const status = h.customStatus as { links: { done: number; failed: number } };
    assert.deepEqual(status.links, { done: 5, failed: 1, total: 6, running: 0 });
    assert.equal(h.logged(TELEMETRY_EVENT.linkFailed).length, 1);
    assert.equal(h.logged(TELEMETRY_EVENT.runFailed).length, 1);
    // The failed link was not called again.
    assert.equal(h.scheduled.filter((t) => t.instanceId?.includes('~eu>cn~')).length, 1);
  });

  it('in full mode reconciles each wave after its walk, and stores the report', async () => {
    const h = await start({ request: { ...REQUEST, mode: 'full' } });
    const { started } = await drive(h, {
      callsPerLink: 1,
      failingReconcile: { 'cn>latam': 'compare timed out' },
    });
    const order = started.map((id) => id.slice(RUN_ID.length + 1));
    const lastInboundWalk = Math.max(...INBOUND.map((l) => order.indexOf(`${linkKey(l)}~w1`)));
    const inboundReconciles = INBOUND.map((l) => order.indexOf(`${linkKey(l)}~r`));
    const outboundWalks = OUTBOUND.map((l) => order.indexOf(`${linkKey(l)}~w1`));
    assert.ok(
      inboundReconciles.every((i) => i > lastInboundWalk),
      'reconciled before its wave was walked',
    );
    assert.ok(
      outboundWalks.every((i) => i > Math.max(...inboundReconciles)),
      'outbound walked before inbound reconciled',
    );

    const reconcile = h.scheduled.find((t) => t.instanceId === `${RUN_ID}~sea>cn~r`);
    assert.deepEqual(reconcile?.input, {
      runId: RUN_ID,
      link: link('sea', 'cn'),
      tables: ['price_list'],
      dryRun: false,
      ranges: 64,
      repairConcurrency: 4,
    });
    const write = h.scheduled.find((t) => t.name === activities.writeReport.name);
    const written = write?.input as { flow: string; runId: string; report: SyncReport };
    assert.equal(written.runId, RUN_ID);
    assert.equal(written.report.totals.repaired, 5);
    assert.equal(
      written.report.links.find((l) => l.link.target === 'latam')?.lastError,
      "reconcile: Orchestrator function 'reconcileLink' failed: compare timed out",
    );

    // The report is written, then the run fails for the link whose compare failed.
    assert.equal(h.status.kind, 'failed');
    assert.match(error(h), /^1 of 6 links failed: cn>latam: reconcile: /);
    assert.equal((h.customStatus as { reportBlob: string }).reportBlob, 'pricing/report.json');
  });

  it('continues as new after completionsPerGeneration, letting running links finish, and the next generation carries on', async () => {
    const h = await start({ request: REQUEST, tuning: { completionsPerGeneration: 3 } });
    await planned(h);
    // Two inbound links run; after three completions no new call starts until both are back.
    const [a, b] = h.pendingOf(orchestrators.pairSync);
    assert.ok(a !== undefined && b !== undefined);
    const answer = (t: ScheduledTask) => {
      const progress = (t.input as PairSyncInput).progress;
      return h.complete(t, { ...progress, pages: progress.pages + 1 });
    };
    await answer(a); // 1: sea>cn called again (w2)
    await answer(b); // 2: eu>cn called again (w2)
    const [c] = h.pendingOf(orchestrators.pairSync);
    assert.ok(c !== undefined);
    assert.equal(await answer(c).then((fresh) => fresh.length), 0, 'a call started while draining');
    assert.equal(h.status.kind, 'running');
    const [d] = h.pendingOf(orchestrators.pairSync);
    assert.ok(d !== undefined);
    await answer(d);
    assert.equal(h.status.kind, 'continuedAsNew');
    const carried = (h.status as { input: FlowSyncInput }).input;
    assert.deepEqual(carried.tuning, { completionsPerGeneration: 3 });
    const state = carried.state as FlowState;
    assert.equal(state.runId, RUN_ID);
    assert.deepEqual(state.calls, { 'sea>cn': 2, 'eu>cn': 2 });
    assert.equal(
      Object.values(state.progress).reduce((n, p) => n + p.pages, 0),
      4,
    );

    // The next generation does not plan again and numbers the calls on.
    const fresh = await h.continueAsNew();
    assert.equal(h.pendingOf(activities.planFlow).length, 0);
    assert.deepEqual(
      fresh.map((t) => t.instanceId),
      [`${RUN_ID}~sea>cn~w3`, `${RUN_ID}~eu>cn~w3`],
    );
    const kind = () => h.status.kind;
    while (kind() === 'continuedAsNew' || kind() === 'running') {
      if (kind() === 'continuedAsNew') await h.continueAsNew();
      await drive(h, { callsPerLink: 1 });
    }
    assert.equal(kind(), 'completed');
    const report = output(h);
    assert.equal(report.runId, RUN_ID);
    assert.equal(report.startedAt, PLANNED, 'the report covers the whole run');
    assert.equal(report.links.length, 6);
    assert.equal(report.links.find((l) => linkKey(l.link) === 'sea>cn')?.pages, 4);
    assert.equal(
      h.logged(TELEMETRY_EVENT.runStarted).length,
      1,
      'a later generation announced the run again',
    );
  });

  it('records the run when it starts and again with its results when it ends, also when it fails', async () => {
    const h = await start({ request: { ...REQUEST, trigger: 'cli', regions: ['eu', 'sea'] } });
    await h.complete(h.only(activities.planFlow), plan());
    const [begun] = records(h);
    assert.deepEqual(
      { ...begun },
      {
        runId: RUN_ID,
        instanceId: INSTANCE,
        flow: 'pricing',
        mode: 'incremental',
        window: null,
        regions: ['eu', 'sea'],
        dryRun: false,
        trigger: 'cli',
        startedAt: PLANNED,
        finishedAt: null,
        status: 'running',
        plannedLinks: ['sea>cn', 'eu>cn', 'latam>cn', 'cn>sea', 'cn>eu', 'cn>latam'],
        links: [],
        totals: null,
        reportBlob: null,
        error: null,
      },
    );
    assert.equal(h.pendingOf(orchestrators.pairSync).length, 0, 'links started before the run was recorded');
    await drive(h, { failing: { 'eu>cn': 'source unreachable' } });
    assert.equal(h.status.kind, 'failed');
    const ended = records(h);
    assert.equal(ended.length, 2);
    const last = ended[1];
    assert.equal(last?.status, 'failed');
    assert.equal(last?.error, error(h));
    assert.equal(last?.links.length, 6);
    assert.deepEqual(last?.totals, { pages: 20, rowsRead: 40, rowsWritten: 40, repaired: 0 });
    assert.ok((last?.finishedAt ?? '') >= PLANNED);
  });

  it('still syncs when the run history cannot be written', async () => {
    const h = await start();
    await h.complete(h.only(activities.planFlow), plan());
    await h.fail(h.only(activities.recordRun), 'history store down');
    while (h.status.kind === 'running') {
      const task = h.pending[0] as ScheduledTask;
      if (task.name === activities.recordRun.name) await h.fail(task, 'history store down');
      else await h.complete(task, { ...(task.input as PairSyncInput).progress, done: true });
    }
    assert.equal(h.status.kind, 'completed', JSON.stringify(h.status));
    assert.equal(h.logged(TELEMETRY_EVENT.runRecordFailed).length, 2);
  });

  it('fails a run of an unknown flow', async () => {
    const h = await start({ request: { ...REQUEST, flow: 'nope' } });
    await h.complete(h.only(activities.planFlow), { kind: 'unknown-flow', flow: 'nope' });
    assert.deepEqual(h.status, { kind: 'failed', error: "unknown flow 'nope'" });
  });
});
