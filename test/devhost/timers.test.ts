import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startDevhost, type Devhost } from '../support/devhost';
import { fixture, postJson, readEvents, tempDir, waitFor, type FixtureEvent } from './helpers';

interface TimerArg {
  isPastDue: boolean;
  scheduleStatus: { last: string; next: string; lastUpdated: string } | null;
}

const START = '2026-01-01T00:00:00.000Z';

async function advance(host: Devhost, ms: number): Promise<void> {
  const response = await postJson(`${host.origin}/admin/clock`, { advanceMs: ms });
  assert.equal(response.status, 200, await response.clone().text());
}

function ticks(file: string): (FixtureEvent & { timer: TimerArg; running: number })[] {
  return readEvents(file).filter((e) => e.event === 'tick') as (FixtureEvent & {
    timer: TimerArg;
    running: number;
  })[];
}

async function waitForTicks(file: string, count: number) {
  return waitFor(() => {
    const found = ticks(file);
    return found.length >= count ? found : undefined;
  }, `${count} tick(s)`);
}

/** Runs `body` against a js-app devhost on a manual clock at START whose fixture logs to `events`. */
async function withTimerHost(
  prefix: string,
  env: Record<string, string>,
  body: (host: Devhost, events: string) => Promise<void>,
): Promise<void> {
  const temp = tempDir(prefix);
  const events = `${temp.dir}/events.jsonl`;
  const host = await startDevhost({
    appDir: fixture('js-app'),
    clock: `manual:${START}`,
    env: { EVENT_LOG: events, ...env },
  });
  try {
    await body(host, events);
  } finally {
    await host.stop();
    temp.cleanup();
  }
}

describe('timer triggers on a controlled clock', () => {
  it('fires on schedule as the manual clock moves, with isPastDue and scheduleStatus', () =>
    withTimerHost('timer', {}, async (host, events) => {
      const before = (await (await fetch(`${host.origin}/admin/functions/tick`)).json()) as Record<
        string,
        unknown
      >;
      assert.equal(before.nextRun, '2026-01-01T00:00:10.000Z');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(ticks(events).length, 0, 'real time passing does not fire a timer on the manual clock');

      await advance(host, 10_000);
      const [first] = await waitForTicks(events, 1);
      assert.deepEqual(first!.timer.isPastDue, false);
      assert.equal(first!.timer.scheduleStatus?.last, '0001-01-01T00:00:00.000Z');
      assert.equal(first!.timer.scheduleStatus?.next, '2026-01-01T00:00:20.000Z');
      assert.equal(first!.timer.scheduleStatus?.lastUpdated, '2026-01-01T00:00:10.000Z');

      await advance(host, 10_000);
      const [, second] = await waitForTicks(events, 2);
      assert.equal(second!.timer.isPastDue, false);
      assert.equal(second!.timer.scheduleStatus?.last, '2026-01-01T00:00:10.000Z');
      assert.equal(second!.timer.scheduleStatus?.next, '2026-01-01T00:00:30.000Z');
      await waitFor(async () => {
        const info = (await (await fetch(`${host.origin}/admin/functions/tick`)).json()) as Record<
          string,
          unknown
        >;
        return info.nextRun === '2026-01-01T00:00:30.000Z' ? true : undefined;
      }, 'the next run to be armed');
    }));

  it('never overlaps one timer and runs missed occurrences once, past due', () =>
    withTimerHost('overlap', { TICK_DELAY_MS: '600' }, async (host, events) => {
      await advance(host, 10_000); // 00:00:10: a run starts and takes 600 ms of real time
      await waitForTicks(events, 1);
      await advance(host, 25_000); // 00:00:35: 00:00:20 and 00:00:30 pass while it runs
      const [first, second] = await waitForTicks(events, 2);
      assert.equal(first!.timer.isPastDue, false);
      assert.equal(second!.timer.isPastDue, true, 'the missed occurrence is past due');
      assert.equal(second!.timer.scheduleStatus?.next, '2026-01-01T00:00:40.000Z', 'it stands for 00:00:30');
      await new Promise((resolve) => setTimeout(resolve, 900));
      const all = ticks(events);
      assert.equal(all.length, 2, 'two missed occurrences collapse into one run');
      assert.ok(
        all.every((t) => t.running === 1),
        'no two runs of the timer at once',
      );
    }));

  it('moving the manual clock past several occurrences fires the timer once, past due', () =>
    withTimerHost('jump', {}, async (host, events) => {
      await advance(host, 35_000); // 00:00:35: 00:00:10, 00:00:20 and 00:00:30 have passed
      const [only] = await waitForTicks(events, 1);
      assert.equal(only!.timer.isPastDue, true);
      assert.equal(only!.timer.scheduleStatus?.next, '2026-01-01T00:00:40.000Z', 'it stands for 00:00:30');
      await new Promise((resolve) => setTimeout(resolve, 700));
      assert.equal(ticks(events).length, 1, 'three missed occurrences collapse into one run');
    }));

  it('runs runOnStartup timers at start and invokes a timer from the admin API (202)', () =>
    withTimerHost('admin', {}, async (host, events) => {
      const startup = await waitFor(
        () => readEvents(events).find((e) => e.event === 'startup'),
        'the runOnStartup run',
      );
      assert.equal((startup.timer as TimerArg).isPastDue, false);

      const response = await postJson(`${host.origin}/admin/functions/TICK`, { input: '' });
      assert.equal(response.status, 202);
      const [tick] = await waitForTicks(events, 1);
      assert.equal(tick!.timer.isPastDue, false);
    }));

  it('remembers monitored schedules across restarts and runs an occurrence missed while down, past due', async () => {
    const temp = tempDir('monitor');
    const events = `${temp.dir}/events.jsonl`;
    const dataDir = `${temp.dir}/data`;
    try {
      const first = await startDevhost({
        appDir: fixture('js-app'),
        clock: `manual:${START}`,
        dataDir,
        env: { EVENT_LOG: events },
      });
      await advance(first, 10_000);
      await waitForTicks(events, 1);
      assert.equal((await first.stop()).code, 0);

      // Five minutes later, the 00:00:20 occurrence was missed while devhost was down.
      const second = await startDevhost({
        appDir: fixture('js-app'),
        clock: 'manual:2026-01-01T00:05:00Z',
        dataDir,
        env: { EVENT_LOG: events },
      });
      try {
        const [, missed] = await waitForTicks(events, 2);
        assert.equal(missed!.timer.isPastDue, true);
        assert.equal(missed!.timer.scheduleStatus?.last, '2026-01-01T00:00:10.000Z');
      } finally {
        await second.stop();
      }
    } finally {
      temp.cleanup();
    }
  });

  it('refuses to move the system clock', async () => {
    const host = await startDevhost({ appDir: fixture('js-app') });
    try {
      const response = await postJson(`${host.origin}/admin/clock`, { advanceMs: 1000 });
      assert.equal(response.status, 409);
    } finally {
      await host.stop();
    }
  });
});
