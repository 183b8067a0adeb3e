import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { OrderEvent } from '../../sync/orderEvent.js';
import type { OrderSyncDecision, OrderSyncState } from '../../sync/orderSyncState.js';
import { completed, gapExpired, initialOrderSyncState, offer } from '../../sync/orderSyncState.js';

const OPTS = { gapWaitMs: 2000 };
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
    assert.equal(step.decision.kind === 'run' && step.decision.instanceId, 'order-sea-1234-v1');
    s = step.state;
    // v1 again while it runs: duplicate; v2 while v1 runs: waits.
    assert.deepEqual(offer(s, { event: ev(1), runner: 'r1b', now: at(1) }, OPTS).decision, {
      kind: 'dropped',
      reason: 'duplicate',
    });
    step = offer(s, { event: ev(2), runner: 'r2', now: at(2) }, OPTS);
    assert.deepEqual(step.decision, { kind: 'idle', reason: 'running' });
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

  it('holds a version ahead of a missing one until it arrives', () => {
    let step = offer(initialOrderSyncState('sea', '1234'), { event: ev(2), runner: 'r2', now: at(0) }, OPTS);
    assert.deepEqual(step.decision, { kind: 'hold', until: at(2000) });
    // The holder wakes too early (it cannot, but a replayed timer might): keep holding.
    assert.deepEqual(gapExpired(step.state, { runner: 'r2', now: at(1000) }, OPTS).decision, {
      kind: 'hold',
      until: at(2000),
    });
    step = offer(step.state, { event: ev(1), runner: 'r1', now: at(500) }, OPTS);
    assert.equal(step.decision.kind === 'run' && step.decision.version, 2, 'v1 fills the gap, v2 is newest');
    // The old holder wakes: nothing for it to do.
    assert.deepEqual(gapExpired(step.state, { runner: 'r2', now: at(2000) }, OPTS).decision, {
      kind: 'idle',
      reason: 'running',
    });
  });

  it('applies the newest waiting version once the wait has passed', () => {
    let s = offer(
      initialOrderSyncState('sea', '1234'),
      { event: ev(1), runner: 'r1', now: at(0) },
      OPTS,
    ).state;
    s = completed(s, { version: 1, outcome: 'applied', runner: 'r1', now: at(10) }, OPTS).state;
    let step = offer(s, { event: ev(3), runner: 'r3', now: at(20) }, OPTS);
    assert.deepEqual(step.decision, { kind: 'hold', until: at(2020) });
    step = offer(step.state, { event: ev(5), runner: 'r5', now: at(30) }, OPTS);
    assert.deepEqual(step.decision, { kind: 'idle', reason: 'held' });
    assert.deepEqual(
      gapExpired(step.state, { runner: 'r5', now: at(5000) }, OPTS).decision,
      {
        kind: 'idle',
        reason: 'nothing-waiting',
      },
      'only the holder acts on the wait',
    );
    step = gapExpired(step.state, { runner: 'r3', now: at(2020) }, OPTS);
    assert.equal(step.decision.kind === 'run' && step.decision.version, 5);
    assert.ok(step.state.recent.some((r) => r.version === 5 && r.outcome === 'skipped-after-wait'));
    step = completed(step.state, { version: 5, outcome: 'applied', runner: 'r3', now: at(2100) }, OPTS);
    assert.equal(step.state.lastAppliedVersion, 5);
    assert.deepEqual(offer(step.state, { event: ev(2), runner: 'late', now: at(3000) }, OPTS).decision, {
      kind: 'dropped',
      reason: 'stale',
    });
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

  it('any shuffled, duplicated delivery ends at the newest version, each applied at most once, one at a time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.nat(), { minLength: 0, maxLength: 40 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (versions, dupIdx, seed) => {
          // Delivery: every version at least once, some twice, in a seeded order; completions and
          // timers interleave with deliveries in a seeded order too.
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
          const applied: number[] = [];
          let running: { version: number; runner: string } | null = null;
          const holds: { runner: string; until: number }[] = [];
          const act = (d: OrderSyncDecision, runner: string) => {
            if (d.kind === 'run') {
              assert.equal(running, null, 'a second apply started while one runs');
              running = { version: d.version, runner };
            } else if (d.kind === 'hold') holds.push({ runner, until: Date.parse(d.until) - T0 });
          };
          let n = 0;
          const pending = [...deliveries];
          while (pending.length > 0 || running !== null || holds.length > 0) {
            if (++n > 10_000) assert.fail('did not settle');
            clock += 100;
            const r = rnd();
            if (pending.length > 0 && (r < 0.5 || (running === null && holds.length === 0))) {
              const v = pending.shift() as number;
              const step = offer(s, { event: ev(v), runner: `in-${n}`, now: at(clock) }, OPTS);
              s = step.state;
              act(step.decision, `in-${n}`);
            } else if (running !== null && r < 0.8) {
              const done: { version: number; runner: string } = running;
              running = null;
              applied.push(done.version);
              const step = completed(
                s,
                { version: done.version, outcome: 'applied', runner: done.runner, now: at(clock) },
                OPTS,
              );
              s = step.state;
              act(step.decision, done.runner);
            } else if (holds.length > 0) {
              const h = holds.shift() as { runner: string; until: number };
              clock = Math.max(clock, h.until);
              const step = gapExpired(s, { runner: h.runner, now: at(clock) }, OPTS);
              s = step.state;
              act(step.decision, h.runner);
            }
          }
          assert.equal(s.lastAppliedVersion, versions);
          assert.equal(new Set(applied).size, applied.length, 'a version was applied twice');
          assert.deepEqual(
            [...applied].sort((a, b) => a - b),
            applied,
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
