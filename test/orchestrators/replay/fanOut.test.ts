/**
 * The capped fan-out: which items may start (pure, any input), and the durable loop over it
 * replayed by the real durable-functions library: room freed by an outcome is used, failures come
 * back as values, an item may be called again, draining lets what runs finish.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OrchestrationContext, Task } from 'durable-functions';
import fc from 'fast-check';
import type { ActivityContract } from '../../../activities/contracts';
import { startActivity } from '../../../activities/contracts';
import type { OrchestratorContract } from '../../../orchestrators/contracts';
import type { FanOutItem, FanOutLimits, Outcome } from '../../../orchestrators/fanOut';
import { fanOut, startable } from '../../../orchestrators/fanOut';
import { OrchestrationReplay } from '../../support/orchestrationReplay';

const itemArb = fc.record({
  key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
  group: fc.constantFrom('x', 'y', 'z'),
});
const limitsArb = fc.record({
  total: fc.integer({ min: 1, max: 5 }),
  perGroup: fc.integer({ min: 1, max: 3 }),
});

describe('startable', () => {
  it('starts ready items in order up to the caps, and every item it leaves out had no room', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(itemArb, { selector: (i) => i.key }),
        fc.uniqueArray(itemArb, { selector: (i) => i.key, maxLength: 3 }),
        limitsArb,
        (ready, running, limits) => {
          const chosen = startable(ready, running, limits);
          const after = [...running, ...chosen];
          const inGroup = (g: string) => after.filter((i) => i.group === g).length;
          // Never above a cap it could have respected.
          assert.ok(chosen.length === 0 || after.length <= limits.total);
          for (const i of chosen) assert.ok(inGroup(i.group) <= limits.perGroup);
          // In the ready order, never an item already running.
          assert.deepEqual(
            chosen,
            ready.filter((i) => chosen.includes(i)),
          );
          for (const i of chosen) assert.ok(!running.some((r) => r.key === i.key));
          // Work-conserving: an item left out is running, its group is full, or the total is reached.
          for (const i of ready.filter((r) => !chosen.includes(r)))
            assert.ok(
              running.some((r) => r.key === i.key) ||
                inGroup(i.group) >= limits.perGroup ||
                after.length >= limits.total,
              `${i.key} could have started`,
            );
        },
      ),
      { seed: 20261204 },
    );
  });
});

/** A probe orchestrator: fans out one `work` activity per call; items want `calls[key]` calls. */
interface ProbeInput {
  readonly items: readonly FanOutItem[];
  readonly limits: FanOutLimits;
  readonly calls: Readonly<Record<string, number>>;
  readonly drainAfter?: number;
}
interface ProbeOutput {
  readonly result: 'done' | 'drained';
  readonly outcomes: readonly (readonly [string, Outcome<string>])[];
}
const probe = { name: 'fanOutProbe' } as OrchestratorContract<ProbeInput, ProbeOutput>;
const work: ActivityContract<{ key: string; call: number }, string> = { name: 'work', retry: 'planning' };

function* probeOrchestrator(
  context: OrchestrationContext,
  input: ProbeInput,
): Generator<Task, ProbeOutput, unknown> {
  const made = new Map<string, number>();
  const outcomes: [string, Outcome<string>][] = [];
  const result = yield* fanOut<string>(context, {
    limits: input.limits,
    ready: () =>
      input.items.filter(
        (i) =>
          (made.get(i.key) ?? 0) < (input.calls[i.key] ?? 1) &&
          !outcomes.some(([k, o]) => k === i.key && !o.ok),
      ),
    start: ({ key }) => {
      const call = (made.get(key) ?? 0) + 1;
      made.set(key, call);
      return startActivity(context, work, { key, call });
    },
    finished: ({ key }, outcome) => {
      outcomes.push([key, outcome]);
      return input.drainAfter !== undefined && outcomes.length >= input.drainAfter ? 'drain' : 'continue';
    },
  });
  return { result, outcomes };
}

const ITEMS: FanOutItem[] = [
  { key: 'a', group: 'x' },
  { key: 'b', group: 'x' },
  { key: 'c', group: 'y' },
];
const keysOf = (tasks: { input: unknown }[]) =>
  tasks.map((t) => (t.input as { key: string; call: number }).key);

describe('fanOut (replayed)', () => {
  it('uses the room an outcome frees, calls an item again while it wants, and hands failures back as values', async () => {
    const h = await OrchestrationReplay.start(probe, probeOrchestrator, {
      items: ITEMS,
      limits: { total: 2, perGroup: 1 },
      calls: { a: 2 },
    });
    assert.deepEqual(keysOf(h.pendingOf(work)), ['a', 'c'], 'b waits: its group is full');
    const [a1, c] = h.pendingOf(work);
    assert.ok(a1 !== undefined && c !== undefined);
    // a wants a second call: it keeps its group's place before b.
    assert.deepEqual(keysOf(await h.complete(a1, 'a1')), ['a']);
    assert.deepEqual(keysOf(await h.fail(c, 'c broke')), [], 'nothing else is ready for y, x is full');
    const [a2] = h.pendingOf(work);
    assert.ok(a2 !== undefined);
    assert.deepEqual(keysOf(await h.complete(a2, 'a2')), ['b']);
    await h.complete(h.only(work), 'b1');
    assert.deepEqual(h.status, {
      kind: 'completed',
      output: {
        result: 'done',
        outcomes: [
          ['a', { ok: true, value: 'a1' }],
          ['c', { ok: false, error: "Activity function 'work' failed: c broke" }],
          ['a', { ok: true, value: 'a2' }],
          ['b', { ok: true, value: 'b1' }],
        ],
      },
    });
  });

  it('drains: after the caller says so it starts nothing more and returns once the running items finish', async () => {
    const h = await OrchestrationReplay.start(probe, probeOrchestrator, {
      items: ITEMS,
      limits: { total: 3, perGroup: 1 },
      calls: {},
      drainAfter: 1,
    });
    const [a, c] = h.pendingOf(work);
    assert.ok(a !== undefined && c !== undefined);
    assert.deepEqual(await h.complete(a, 'a1'), [], 'b started while draining');
    assert.equal(h.status.kind, 'running');
    await h.complete(c, 'c1');
    assert.equal(h.status.kind, 'completed');
    assert.equal((h.status as { output: ProbeOutput }).output.result, 'drained');
  });
});
