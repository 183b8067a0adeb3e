import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startDevhost, type Devhost } from '../support/devhost';
import { fixture, postJson, tempDir, waitFor } from './helpers';

const APP = fixture('restart-app');
const API = '/runtime/webhooks/durabletask';
const ORDERS = 8;
const PARTS = 6;

interface Depth {
  path: string;
  active: number;
  locked: number;
  deadLettered: number;
}

async function queueDepth(host: Devhost): Promise<Depth> {
  const res = await fetch(`${host.origin}/admin/servicebus/entities`);
  const { entities } = (await res.json()) as { entities: Depth[] };
  const queue = entities.find((e) => e.path === 'order-events');
  assert.ok(queue, JSON.stringify(entities));
  return queue;
}

async function instances(
  host: Devhost,
): Promise<{ instanceId: string; runtimeStatus: string; output: unknown }[]> {
  const res = await fetch(`${host.origin}${API}/instances?instanceIdPrefix=order-&top=1000`);
  assert.equal(res.status, 200);
  return (await res.json()) as { instanceId: string; runtimeStatus: string; output: unknown }[];
}

/**
 * Order events and blob-writing activities are queued when devhost goes down; the next devhost
 * must not run any of them before every extension is ready: nothing fails, nothing is
 * dead-lettered, every part reaches its blob.
 */
async function restartWithWorkQueued(how: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  const temp = tempDir(`restart-${how.toLowerCase()}`);
  const dataDir = path.join(temp.dir, 'data');
  // Before a SIGKILL the handlers hold on for good; before a SIGTERM briefly, so the graceful stop
  // lets them finish while the rest stays queued.
  const first = await startDevhost({
    appDir: APP,
    dataDir,
    env: { RESTART_HOLD_MS: how === 'SIGKILL' ? '600000' : '1500' },
  });
  let second: Devhost | undefined;
  try {
    const events = Array.from({ length: ORDERS }, (_, order) => ({ body: { order, parts: PARTS } }));
    const sent = await postJson(`${first.origin}/admin/servicebus/entities/order-events/messages`, events);
    assert.equal(sent.status, 201, await sent.text());
    // Two events are being handled (maxConcurrentCalls 2) and their orchestrations have activities
    // running (maxConcurrentActivityFunctions 2): the rest of the events and activities wait.
    await waitFor(
      async () =>
        (await instances(first)).filter((i) => i.runtimeStatus === 'Running').length >= 2 ? true : undefined,
      'two orchestrations running',
      30_000,
    );
    const before = await queueDepth(first);
    assert.ok(before.active >= ORDERS - 2, `events still queued: ${JSON.stringify(before)}`);
    if (how === 'SIGKILL') await first.kill();
    else assert.equal((await first.stop()).code, 0, first.output());

    second = await startDevhost({ appDir: APP, dataDir, env: { RESTART_HOLD_MS: '0' } });
    const host = second;
    const finished = await waitFor(
      async () => {
        const list = await instances(host);
        const done = list.filter((i) => !['Pending', 'Running'].includes(i.runtimeStatus));
        const depth = await queueDepth(host);
        if (depth.deadLettered > 0) return list; // fail fast below
        return list.length === ORDERS && done.length === ORDERS && depth.active + depth.locked === 0
          ? list
          : undefined;
      },
      `${ORDERS} orchestrations to finish`,
      60_000,
    );
    const depth = await queueDepth(host);
    assert.equal(depth.deadLettered, 0, `nothing dead-lettered:\n${second.output()}`);
    assert.deepEqual(
      finished.map((i) => i.runtimeStatus),
      finished.map(() => 'Completed'),
      `every orchestration completed: ${JSON.stringify(finished.filter((i) => i.runtimeStatus !== 'Completed'))}\n${second.output()}`,
    );
    for (const order of [0, ORDERS - 1]) {
      for (const part of [0, PARTS - 1]) {
        const res = await fetch(`${host.origin}/api/parts/${order}/${part}`);
        assert.equal(res.status, 200, `blob of part ${order}/${part}`);
        assert.deepEqual(await res.json(), { order, part });
      }
    }
    assert.doesNotMatch(second.output(), /devhost is starting|has no handler for output binding/);
    if (how === 'SIGTERM') {
      // A graceful stop finishes what runs and starts nothing new: no work item is left half-done.
      assert.doesNotMatch(second.output(), /were running when the previous devhost stopped/);
    }
  } finally {
    await second?.stop();
    await first.kill();
    temp.cleanup();
  }
}

void describe('restarting devhost with Service Bus events and blob-output activities queued', () => {
  void it('after SIGKILL every event and activity completes; nothing is dead-lettered', () =>
    restartWithWorkQueued('SIGKILL'));
  void it('after SIGTERM every event and activity completes; nothing is dead-lettered', () =>
    restartWithWorkQueued('SIGTERM'));
});
