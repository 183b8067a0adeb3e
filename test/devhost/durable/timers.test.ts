import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../../devhost/clock';
import { EventType, isTerminal } from '../../../devhost/durable/protocol';
import { SAMPLES_APP, startDurableHost, type DurableTestHost } from './harness';

const API = '/runtime/webhooks/durabletask';

void describe('durable timers and retries on the host clock (manual clock)', () => {
  let host: DurableTestHost;
  let clock: ManualClock;
  before(async () => {
    clock = new ManualClock(Date.UTC(2026, 0, 1));
    host = await startDurableHost(SAMPLES_APP, { clock });
  });
  after(async () => {
    await host.stop();
  });

  /** Moves the clock in `stepMs` steps, letting the engine settle between steps, until the instance ends. */
  const runToEnd = async (id: string, stepMs: number, maxSteps = 100) => {
    for (let i = 0; i < maxSteps; i++) {
      await host.engine.idle();
      const row = host.engine.store.getInstance(id);
      if (row && isTerminal(row.status)) return host.waitForEnd(id);
      clock.advance(stepMs);
    }
    throw new Error(`${id} did not end`);
  };
  const history = (id: string) => host.engine.historyOf(host.engine.store.getInstance(id)!);

  void it('callActivityWithRetry: host timers after each failed attempt, with backoff', async () => {
    const id = await host.start('activityRetry', { key: 'retry-ok', failures: 2 }, 'retry-ok');
    const status = await runToEnd(id, 250);
    assert.equal(status.runtimeStatus, 'Completed');
    assert.equal(status.output, 'ok after 3 attempt(s)');
    const events = history(id);
    const ids = events
      .filter((e) => [EventType.TaskScheduled, EventType.TimerCreated].includes(e.EventType as 4 | 10))
      .map((e) => `${e.EventType === EventType.TaskScheduled ? 'T' : 'W'}${e.EventId}`);
    assert.deepEqual(ids, ['T0', 'W1', 'T2', 'W3', 'T4']);
    const timers = events.filter((e) => e.EventType === EventType.TimerCreated);
    const delays = timers.map((t) => Date.parse(String(t.FireAt)) - Date.parse(t.Timestamp));
    assert.deepEqual(delays, [1000, 2000]);
  });

  void it('callActivityWithRetry: exhausted attempts rethrow the last failure after the last timer', async () => {
    const id = await host.start(
      'activityRetry',
      { key: 'retry-fail', failures: 9, maxAttempts: 3 },
      'retry-fail',
    );
    const status = await runToEnd(id, 500);
    assert.equal(status.runtimeStatus, 'Completed');
    assert.match(
      (status.output as { failed: string }).failed,
      /Activity function 'flaky' failed: flaky attempt 3 for retry-fail/,
    );
    const timers = history(id).filter((e) => e.EventType === EventType.TimerCreated);
    assert.equal(timers.length, 3, 'a timer follows every failed attempt, the last one included');
  });

  void it('callSubOrchestratorWithRetry re-runs a failed child under its explicit id', async () => {
    const id = await host.start('subOrchestrationRetry', {
      key: 'sub-1',
      failures: 1,
      childId: 'sub-1-child',
    });
    const status = await runToEnd(id, 250);
    assert.equal(status.runtimeStatus, 'Completed');
    assert.equal(status.output, 'ok after 2 attempt(s)');
    const child = await host.request('GET', `${API}/instances/sub-1-child`);
    assert.equal((child.body as { runtimeStatus: string }).runtimeStatus, 'Completed');
  });

  void it('timer cancel: an approval before the deadline wins and disarms the timer', async () => {
    const id = await host.start('approvalWithTimeout', { timeoutMs: 30_000 }, 'approve-1');
    await host.engine.idle();
    const inbox = () =>
      host.engine.store.db
        .prepare('SELECT COUNT(*) FROM inbox WHERE instance_id = ?')
        .pluck()
        .get(id) as number;
    assert.equal(inbox(), 1, 'the armed timer waits in the inbox');
    clock.advance(10_000);
    await host.request('POST', `${API}/instances/${id}/raiseEvent/Approval`, { by: 'ops' });
    const status = await host.waitForEnd(id);
    assert.equal(status.output, 'approved: {"by":"ops"}');
    await host.engine.idle();
    assert.equal(inbox(), 0, 'the cancelled timer is gone');

    const late = await host.start('approvalWithTimeout', { timeoutMs: 30_000 }, 'approve-2');
    const timedOut = await runToEnd(late, 10_000);
    assert.equal(timedOut.output, 'timed out');
  });

  void it('a timer keeps the milliseconds of its fire time: 1.5 s is not 1 s', async () => {
    const id = await host.start('shortTimer', 1500, 'short-timer-1');
    await host.engine.idle();
    const created = history(id).find((e) => e.EventType === EventType.TimerCreated)!;
    const started = history(id).find((e) => e.EventType === EventType.OrchestratorStarted)!;
    assert.equal(Date.parse(String(created.FireAt)) - Date.parse(started.Timestamp), 1500);
    clock.advance(1000);
    await host.engine.idle();
    assert.equal(host.engine.store.getInstance(id)!.status, 'Running', 'not fired after 1 s');
    clock.advance(500);
    const status = await runToEnd(id, 100);
    assert.equal(Date.parse(String(status.output)) - Date.parse(started.Timestamp), 1500);
  });

  void it('a 10-day durable timer fires when the host clock gets there, not before', async () => {
    const id = await host.start('sleeper', 10, 'sleeper-1');
    await host.engine.idle();
    clock.advance(9 * 86_400_000);
    await host.engine.idle();
    assert.equal(host.engine.store.getInstance(id)!.status, 'Running');
    const status = await runToEnd(id, 86_400_000);
    const { started, woke } = status.output as { started: string; woke: string };
    assert.ok(Date.parse(woke) - Date.parse(started) >= 10 * 86_400_000);
    assert.ok(Date.parse(woke) - Date.parse(started) < 11 * 86_400_000);
  });

  void it('continue-as-new counter: each generation starts fresh and the last returns the count', async () => {
    const id = await host.start('counter', { count: 0, max: 3 }, 'counter-1');
    const status = await runToEnd(id, 1000);
    assert.equal(status.runtimeStatus, 'Completed');
    assert.equal(status.output, 3);
    assert.deepEqual(status.customStatus, { count: 3 });
    assert.deepEqual(status.input, { count: 2, max: 3 });
    const events = history(id);
    assert.equal(
      events.filter((e) => e.EventType === EventType.ExecutionStarted).length,
      1,
      'history of the last generation only',
    );
  });
});
