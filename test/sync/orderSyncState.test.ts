import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { OrderEvent } from '../../sync/orderEvent.js';
import type { OrderSyncDecision, OrderSyncState } from '../../sync/orderSyncState.js';
import {
  completed,
  initialOrderSyncState,
  offer,
  takeOver,
  upgradeOrderSyncState,
} from '../../sync/orderSyncState.js';

const OPTS = { runnerCheckAfterMs: 0 };
const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

function ev(version: number): OrderEvent {
  return {
    region: 'sea',
    orderId: '1234',
    version,
    changedAt: at(version * 1000),
    op: 'upsert',
    order: { status: `s${version}` },
    lines: [{ line_no: 1, sku: 'PHONE-X1' }],
  };
}

describe('orderSync state machine', () => {
  it('applies in order, drops duplicates and stale versions', () => {
    let s: OrderSyncState = initialOrderSyncState('sea', '1234');
    let step = offer(s, { event: ev(1), runner: 'r1', now: at(0) }, OPTS);
    assert.equal(step.decision.kind, 'run');
    assert.equal(step.decision.kind === 'run' && step.decision.sagaId, 'order-sea-1234-v1');
    s = step.state;
    // v1 again while it runs: duplicate; v2 while v1 runs: waits.
    assert.deepEqual(offer(s, { event: ev(1), runner: 'r1b', now: at(1) }, OPTS).decision, {
      kind: 'dropped',
      reason: 'duplicate',
    });
    step = offer(s, { event: ev(2), runner: 'r2', now: at(2) }, OPTS);
    assert.deepEqual(step.decision, {
      kind: 'idle',
      reason: 'running',
      runner: 'r1',
      since: at(0),
      check: true,
    });
    s = step.state;
    step = completed(s, { version: 1, outcome: 'applied', runner: 'r1', now: at(3) }, OPTS);
    assert.equal(step.decision.kind === 'run' && step.decision.version, 2);
    s = step.state;
    step = completed(s, { version: 2, outcome: 'applied', runner: 'r1', now: at(4) }, OPTS);
    assert.deepEqual(step.decision, { kind: 'idle', reason: 'nothing-waiting' });
    s = step.state;
    assert.equal(s.lastAppliedVersion, 2);
    assert.deepEqual(offer(s, { event: ev(1), runner: 'late', now: at(5) }, OPTS).decision, {
      kind: 'dropped',
      reason: 'stale',
    });
    assert.deepEqual(offer(s, { event: ev(2), runner: 'dup', now: at(5) }, OPTS).decision, {
      kind: 'dropped',
      reason: 'duplicate',
    });
  });

  it('coalesces contiguous waiting versions into the newest', () => {
    let s = offer(
      initialOrderSyncState('sea', '1234'),
      { event: ev(1), runner: 'r1', now: at(0) },
      OPTS,
    ).state;
    for (const v of [3, 2, 4]) s = offer(s, { event: ev(v), runner: `r${v}`, now: at(v) }, OPTS).state;
    const step = completed(s, { version: 1, outcome: 'applied', runner: 'r1', now: at(10) }, OPTS);
    assert.equal(step.decision.kind, 'run');
    if (step.decision.kind !== 'run') return;
    assert.equal(step.decision.version, 4);
    assert.deepEqual(step.decision.coalesced, [2, 3]);
    assert.deepEqual(
      step.state.recent.filter((r) => r.outcome === 'coalesced').map((r) => r.version),
      [2, 3],
    );
  });

  it('applies a version ahead of a missing one at once; the missing one, arriving later, is stale', () => {
    // Every event is a full snapshot: v3 holds everything v1 and v2 would have brought.
    let step = offer(initialOrderSyncState('sea', '1234'), { event: ev(3), runner: 'r3', now: at(0) }, OPTS);
    assert.equal(step.decision.kind === 'run' && step.decision.version, 3);
    step = offer(step.state, { event: ev(1), runner: 'r1', now: at(1) }, OPTS);
    assert.deepEqual(step.decision, { kind: 'dropped', reason: 'stale' }, 'older than the running version');
    step = completed(step.state, { version: 3, outcome: 'applied', runner: 'r3', now: at(2) }, OPTS);
    assert.deepEqual(step.decision, { kind: 'idle', reason: 'nothing-waiting' });
    assert.deepEqual(offer(step.state, { event: ev(2), runner: 'r2', now: at(3) }, OPTS).decision, {
      kind: 'dropped',
      reason: 'stale',
    });
  });

  it('asks for a check of a runner that has held the turn for runnerCheckAfterMs', () => {
    const opts = { runnerCheckAfterMs: 30_000 };
    const s = offer(
      initialOrderSyncState('sea', '1234'),
      { event: ev(1), runner: 'r1', now: at(0) },
      opts,
    ).state;
    assert.deepEqual(offer(s, { event: ev(2), runner: 'r2', now: at(29_999) }, opts).decision, {
      kind: 'idle',
      reason: 'running',
      runner: 'r1',
      since: at(0),
      check: false,
    });
    assert.deepEqual(offer(s, { event: ev(2), runner: 'r2', now: at(30_000) }, opts).decision, {
      kind: 'idle',
      reason: 'running',
      runner: 'r1',
      since: at(0),
      check: true,
    });
  });

  it('a turn taken over from a stopped runner reruns its version, or the newest waiting one', () => {
    let s = offer(
      initialOrderSyncState('sea', '1234'),
      { event: ev(1), runner: 'r1', now: at(0) },
      OPTS,
    ).state;
    // r1 was terminated mid-saga; nothing else arrives: the unstick request takes the turn.
    let step = takeOver(s, { staleRunner: 'r1', reason: 'is Terminated', runner: 'u1', now: at(10) }, OPTS);
    assert.equal(step.decision.kind === 'run' && step.decision.version, 1);
    assert.equal(step.state.running?.runner, 'u1');
    assert.equal(step.state.counts.takenOver, 1);
    assert.ok(
      step.state.recent.some((r) => r.outcome === 'taken-over' && /r1 is Terminated/.test(r.detail ?? '')),
    );
    // The stopped runner's late report (a replay) changes nothing.
    const late = completed(step.state, { version: 1, outcome: 'applied', runner: 'r1', now: at(11) }, OPTS);
    assert.deepEqual(late.state, step.state);
    s = step.state;
    // u1 stops too; v2 and v3 arrive; the offer of v3 checks and takes over: v3 runs, v1 and v2 fold in.
    s = offer(s, { event: ev(2), runner: 'r2', now: at(20) }, OPTS).state;
    step = offer(s, { event: ev(3), runner: 'r3', now: at(30) }, OPTS);
    assert.equal(
      step.decision.kind === 'idle' && step.decision.reason === 'running' && step.decision.runner,
      'u1',
    );
    step = takeOver(step.state, { staleRunner: 'u1', reason: 'is missing', runner: 'r3', now: at(31) }, OPTS);
    assert.equal(step.decision.kind === 'run' && step.decision.version, 3);
    assert.deepEqual(
      step.decision.kind === 'run' && step.decision.coalesced,
      [2],
      'v1 is not requeued: v2 and v3 cover it',
    );
    step = completed(step.state, { version: 3, outcome: 'applied', runner: 'r3', now: at(40) }, OPTS);
    assert.equal(step.state.lastAppliedVersion, 3);
    assert.equal(step.state.running, null);
  });

  it('a takeover of a turn that changed hands, or of none, never starts a second apply', () => {
    const s = offer(
      initialOrderSyncState('sea', '1234'),
      { event: ev(1), runner: 'r1', now: at(0) },
      OPTS,
    ).state;
    const step = takeOver(s, { staleRunner: 'r0', reason: 'is Failed', runner: 'r2', now: at(5) }, OPTS);
    assert.equal(step.decision.kind, 'idle');
    assert.equal(step.state, s);
    const idle = initialOrderSyncState('sea', '1234');
    assert.deepEqual(
      takeOver(idle, { staleRunner: '', reason: 'unstick', runner: 'u', now: at(0) }, OPTS).decision,
      { kind: 'idle', reason: 'nothing-waiting' },
    );
  });

  it('a state stored with a gap-wait hold and no takenOver count is upgraded', () => {
    const stored = {
      ...initialOrderSyncState('sea', '1234'),
      hold: { since: at(0), until: at(1), holder: 'x' },
    };
    const { takenOver: _t, ...oldCounts } = stored.counts;
    const upgraded = upgradeOrderSyncState({ ...stored, counts: oldCounts } as never);
    assert.equal('hold' in upgraded, false);
    assert.equal(upgraded.counts.takenOver, 0);
  });

  it('settles a failed version without counting it as applied', () => {
    let s = offer(
      initialOrderSyncState('sea', '1234'),
      { event: ev(1), runner: 'r1', now: at(0) },
      OPTS,
    ).state;
    s = offer(s, { event: ev(2), runner: 'r2', now: at(1) }, OPTS).state;
    const step = completed(
      s,
      { version: 1, outcome: 'failed', detail: 'unknown-sku', runner: 'r1', now: at(2) },
      OPTS,
    );
    assert.equal(step.state.lastAppliedVersion, null);
    assert.equal(step.state.settledVersion, 1);
    assert.equal(step.state.counts.failed, 1);
    assert.equal(
      step.decision.kind === 'run' && step.decision.version,
      2,
      'a failed version does not block newer ones',
    );
  });

  it('any shuffled, duplicated delivery, with runners that stop mid-apply, ends at the newest version, one apply at a time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.nat(), { minLength: 0, maxLength: 40 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (versions, dupIdx, seed) => {
          // Delivery: every version at least once, some twice, in a seeded order; completions,
          // runners that stop (terminated: never report) and unstick requests interleave.
          const deliveries = [
            ...Array.from({ length: versions }, (_, i) => i + 1),
            ...dupIdx.map((d) => (d % versions) + 1),
          ];
          let x = seed;
          const rnd = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
          for (let i = deliveries.length - 1; i > 0; i--) {
            const j = Math.floor(rnd() * (i + 1));
            [deliveries[i], deliveries[j]] = [deliveries[j] as number, deliveries[i] as number];
          }
          let s = initialOrderSyncState('sea', '1234');
          let clock = 0;
          const completedVersions: number[] = [];
          const dead = new Set<string>();
          let running: { version: number; runner: string } | null = null;
          const act = (d: OrderSyncDecision, runner: string) => {
            if (d.kind === 'run') {
              assert.ok(
                running === null || dead.has(running.runner),
                'a second apply started while one runs',
              );
              running = { version: d.version, runner };
            }
            // A runner told to check does so, as orderIngest does.
            if (d.kind === 'idle' && d.reason === 'running' && d.check && dead.has(d.runner)) {
              const step = takeOver(
                s,
                { staleRunner: d.runner, reason: 'is Terminated', runner, now: at(clock) },
                OPTS,
              );
              s = step.state;
              act(step.decision, runner);
            }
          };
          let n = 0;
          const pending = [...deliveries];
          while (pending.length > 0 || running !== null) {
            if (++n > 10_000) assert.fail('did not settle');
            clock += 100;
            const r = rnd();
            const current = running as { version: number; runner: string } | null;
            if (current !== null && dead.has(current.runner)) {
              if (pending.length === 0 || r < 0.3) {
                // Nothing else arrives (or an operator is quicker): the unstick request.
                running = null;
                const step = takeOver(
                  s,
                  { staleRunner: current.runner, reason: 'is Terminated', runner: `u-${n}`, now: at(clock) },
                  OPTS,
                );
                s = step.state;
                act(step.decision, `u-${n}`);
                continue;
              }
            }
            if (pending.length > 0 && (r < 0.5 || current === null || dead.has(current.runner))) {
              const v = pending.shift() as number;
              const step = offer(s, { event: ev(v), runner: `in-${n}`, now: at(clock) }, OPTS);
              s = step.state;
              act(step.decision, `in-${n}`);
            } else if (current !== null && r < 0.9) {
              running = null;
              completedVersions.push(current.version);
              const step = completed(
                s,
                { version: current.version, outcome: 'applied', runner: current.runner, now: at(clock) },
                OPTS,
              );
              s = step.state;
              act(step.decision, current.runner);
            } else if (current !== null) {
              dead.add(current.runner);
            }
          }
          assert.equal(s.lastAppliedVersion, versions);
          assert.equal(
            new Set(completedVersions).size,
            completedVersions.length,
            'a version completed twice',
          );
          assert.deepEqual(
            [...completedVersions].sort((a, b) => a - b),
            completedVersions,
            'applies go forward only',
          );
          assert.equal(s.waiting.length, 0);
          assert.equal(s.running, null);
        },
      ),
      { numRuns: 300 },
    );
  });
});
