/**
 * Order sync liveness and bad input end to end on devhost (issue 12 points 2, 4, 5), on a manual
 * clock: durable timers and activity retries move only when the test moves the clock, so a
 * 3-minute hub outage takes seconds of wall time. The outage is real: the test holds the hub
 * database's write lock, so every hub write fails with SQLite's busy error (a retryable conflict)
 * after the app's busy timeout (shortened to 50 ms here).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { orderHistory } from '../../scripts/orderGenerator';
import type { OrderApp } from './support/orderHarness';
import { messageOf, startOrderApp } from './support/orderHarness';

/** The compiled `npm run orders` CLI. */
const ORDERS_CLI = path.resolve(__dirname, '../../scripts/orders.js');
const T0 = Date.parse('2026-03-01T08:00:00.000Z');
const MINUTE = 60_000;
const RUNNER_CHECK_MS = 60_000;

interface Row {
  [column: string]: unknown;
}

interface InstanceStatus {
  runtimeStatus?: string;
  historyEvents?: { EventType: string }[];
}

describe('order sync liveness and bad input end to end', { timeout: 180_000 }, () => {
  let app: OrderApp;
  let hubLock: BetterSqlite3.Database | null = null;
  before(async () => {
    app = await startOrderApp({
      clock: 'manual',
      env: {
        REGION_SYNC_SQLITE_BUSY_TIMEOUT_MS: '50',
        REGION_SYNC_ORDER_RUNNER_CHECK_MS: String(RUNNER_CHECK_MS),
      },
    });
  });
  afterEach(() => hubBack());
  after(async () => {
    await app?.close();
  });

  /** The hub is down for writes until {@link hubBack}: the test holds its write lock. */
  function hubDown(): void {
    const store = app.config.stores.cn;
    if (store?.kind !== 'sqlite') throw new Error('the default topology keeps cn in SQLite');
    hubLock = new BetterSqlite3(store.file, { fileMustExist: true });
    hubLock.exec('BEGIN IMMEDIATE');
  }
  function hubBack(): void {
    if (hubLock?.inTransaction) hubLock.exec('COMMIT');
    hubLock?.close();
    hubLock = null;
  }

  /** The instance's status with its history ({} while it does not exist: 404). */
  const instance = async (id: string): Promise<InstanceStatus> => {
    const res = await fetch(
      `${app.host.origin}/runtime/webhooks/durabletask/instances/${id}?showHistory=true`,
    );
    const text = await res.text();
    return res.status === 404 || text === '' ? {} : (JSON.parse(text) as InstanceStatus);
  };
  const failedAttempts = (s: InstanceStatus) =>
    (s.historyEvents ?? []).filter((e) => e.EventType === 'TaskFailed').length;
  const receipt = (region: string, orderId: string, version: number): Row | undefined => {
    let db: BetterSqlite3.Database;
    try {
      db = app.db(region);
    } catch {
      return undefined; // the app has not written to the region yet
    }
    return db
      .prepare('SELECT status, reason FROM order_sync_receipt WHERE order_id = ? AND version = ?')
      .get(orderId, version) as Row | undefined;
  };
  const hubVersion = (orderId: string) =>
    (
      app.db('cn').prepare('SELECT version FROM sales_order WHERE order_id = ?').get(orderId) as
        Row | undefined
    )?.version;

  /** Sends v1 of an order while the hub is down, and waits until its saga has failed a first attempt. */
  async function midSaga(orderId: string): Promise<string> {
    const [v1] = orderHistory('sea', orderId, 1, { seed: 3, start: T0 });
    await app.send([messageOf(v1!)]);
    const runner = `orderevent-sea-${orderId}-v1`;
    await app.waitFor(
      `${runner} retrying the hub upsert`,
      () => instance(runner),
      (s) => failedAttempts(s) >= 1,
    );
    return runner;
  }

  async function terminate(runner: string): Promise<void> {
    const res = await fetch(
      `${app.host.origin}/runtime/webhooks/durabletask/instances/${runner}/terminate?reason=test`,
      { method: 'POST' },
    );
    assert.equal(res.status, 202);
    await app.waitFor(
      `${runner} terminated`,
      () => instance(runner),
      (s) => s.runtimeStatus === 'Terminated',
    );
  }

  it('a 3-minute hub outage delays the order, then it applies, with no failure receipt', async () => {
    hubDown();
    const runner = await midSaga('outage-1');
    // Three minutes of outage, in steps, each letting the due retry run (and fail).
    for (let moved = 0; moved < 3 * MINUTE; moved += 15_000) {
      await app.advanceClock(15_000);
      await new Promise((r) => setTimeout(r, 150));
    }
    const during = await instance(runner);
    assert.equal(during.runtimeStatus, 'Running');
    assert.ok(failedAttempts(during) >= 8, `only ${failedAttempts(during)} attempts in 3 minutes`);
    assert.equal(receipt('sea', 'outage-1', 1), undefined, 'no receipt while the hub is down');
    const state = await app.state('sea', 'outage-1');
    assert.equal((state?.running as { version: number } | null)?.version, 1, 'the turn is held, not lost');
    assert.equal(state?.stuck, null, 'a runner backing off is not stuck');
    const unstick = await app.http('POST', 'orders/sea/outage-1/unstick');
    assert.equal(unstick.status, 409, 'a live runner keeps its turn');

    hubBack();
    await app.advanceClock(2 * MINUTE);
    await app.waitFor(
      'outage-1 applied',
      () => app.state('sea', 'outage-1'),
      (s) => s?.lastAppliedVersion === 1,
    );
    assert.deepEqual({ ...receipt('sea', 'outage-1', 1) }, { status: 'applied', reason: null });
    assert.equal(hubVersion('outage-1'), 1);
  });

  it('a runner terminated mid-saga does not stop the order: a later event takes the turn over and applies', async () => {
    hubDown();
    const runner = await midSaga('term-1');
    await terminate(runner);
    hubBack();
    await app.advanceClock(RUNNER_CHECK_MS);
    const [, v2] = orderHistory('sea', 'term-1', 2, { seed: 3, start: T0 });
    await app.send([messageOf(v2!)]);
    const state = await app.waitFor(
      'term-1 v2 applied',
      () => app.state('sea', 'term-1'),
      (s) => s?.lastAppliedVersion === 2 && s.running === null,
    );
    assert.equal((state!.counts as { takenOver: number }).takenOver, 1);
    assert.ok(
      (state!.recent as { version: number; outcome: string; detail?: string }[]).some(
        (r) => r.version === 1 && r.outcome === 'taken-over' && /Terminated/.test(r.detail ?? ''),
      ),
    );
    assert.equal(hubVersion('term-1'), 2);
    assert.equal(receipt('sea', 'term-1', 2)?.status, 'applied');
  });

  it('a stuck order shows in its status, and unstick applies what it held', async () => {
    hubDown();
    const runner = await midSaga('stuck-1');
    await terminate(runner);
    hubBack();
    const stuck = await app.state('sea', 'stuck-1');
    assert.deepEqual(
      { ...(stuck?.stuck as Row) },
      { runner, runnerStatus: 'Terminated', reason: `v1 is held by ${runner}, which is Terminated` },
    );
    const res = await app.http('POST', 'orders/sea/stuck-1/unstick');
    assert.equal(res.status, 202, JSON.stringify(res.json));
    await app.waitFor(
      'stuck-1 applied',
      () => app.state('sea', 'stuck-1'),
      (s) => s?.lastAppliedVersion === 1 && s.running === null && s.stuck === null,
    );
    assert.equal(receipt('sea', 'stuck-1', 1)?.status, 'applied');
    const again = await app.http('POST', 'orders/sea/stuck-1/unstick');
    assert.equal(again.status, 200);
    assert.equal((again.json as { unstuck: boolean }).unstuck, false);
  });

  it('malformed ids and bad values land once each in the app dead letters with a reason, none in the broker DLQ', async () => {
    const [v1] = orderHistory('latam', 'bad-base', 1, { seed: 11, start: T0 });
    const bad = (orderId: string) => ({
      body: { ...v1!, orderId },
      messageId: `latam:${orderId}:1`,
      sessionId: `latam:${orderId}`,
    });
    const negative = {
      body: { ...v1!, orderId: 'neg-1', lines: [{ ...v1!.lines[0]!, quantity: -1 }] },
      messageId: 'latam:neg-1:1',
      sessionId: 'latam:neg-1',
    };
    const messages = [bad('a/b'), bad('..'), bad('../../etc'), bad('x..y'), negative];
    await app.send(messages);
    const expected = messages.map((m) => m.messageId);
    const list = await app.waitFor(
      'every bad message dead-lettered',
      () => app.http('GET', 'order-deadletters?max=1000'),
      (r) => {
        const ids = (r.json as { deadLetters: { messageId: string }[] }).deadLetters.map((d) => d.messageId);
        return expected.every((id) => ids.includes(id));
      },
    );
    const records = (
      list.json as { deadLetters: { id: string; messageId: string; reason: string; issues: string[] }[] }
    ).deadLetters.filter((d) => expected.includes(d.messageId));
    assert.equal(records.length, expected.length, 'each message once');
    for (const r of records) {
      assert.ok(r.issues.length > 0, `${r.messageId} has its reasons`);
      const detail = await app.http('GET', `order-deadletters/${r.id}`);
      assert.equal((detail.json as { message: { deliveryCount: number } }).message.deliveryCount, 1);
    }
    assert.equal(records.find((r) => r.messageId === 'latam:a/b:1')?.reason, 'schema');
    assert.match(
      records.find((r) => r.messageId === 'latam:neg-1:1')!.issues.join(' | '),
      /lines\.0\.quantity: must not be negative/,
    );
    // Replaying one as received is still invalid: the server answers 422, the CLI exits non-zero.
    const slash = records.find((r) => r.messageId === 'latam:a/b:1')!;
    // (Asynchronously: a blocked event loop would keep a closed keep-alive socket in fetch's pool.)
    const cli = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [ORDERS_CLI, 'deadletters', 'replay', slash.id, '--url', app.host.origin],
        (error, stdout, stderr) =>
          resolve({ status: error === null ? 0 : (error.code as number), stdout, stderr }),
      );
    });
    assert.equal(cli.status, 1, cli.stdout + cli.stderr);
    assert.match(cli.stdout, /orderId/);
    assert.match(cli.stderr, /refused \(422\)/);
    const dlq = (await fetch(
      `${app.host.origin}/admin/servicebus/messages?source=order-events&deadLetter=true&max=100`,
    ).then((r) => r.json())) as { messages: unknown[] };
    assert.deepEqual(dlq.messages, [], 'nothing in the broker DLQ');
  });

  it('an event stamped with an offset or without milliseconds applies', async () => {
    const [v1] = orderHistory('eu', 'tz-1', 1, { seed: 12, start: T0 });
    await app.send([messageOf({ ...v1!, changedAt: '2026-12-04T21:00:00+08:00' })]);
    await app.waitFor(
      'tz-1 applied',
      () => app.state('eu', 'tz-1'),
      (s) => s?.lastAppliedVersion === 1,
    );
    const header = app
      .db('cn')
      .prepare('SELECT modified_at FROM sales_order WHERE order_id = ?')
      .get('tz-1') as Row;
    assert.equal(header.modified_at, '2026-12-04T13:00:00.000Z');
  });
});
