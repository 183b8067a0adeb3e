import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { ManualClock } from '../../../devhost/clock';
import { ServiceBusBrokerError } from '../../../devhost/servicebus/errors';
import type { ServiceBusHost } from './harness';
import { delay, eventually, ids, startServiceBusHost } from './harness';

let host: ServiceBusHost | undefined;
afterEach(async () => {
  await host?.stop();
  host = undefined;
});
after(() => {
  delete (globalThis as { __sbFixture?: unknown }).__sbFixture;
});

void describe('Service Bus trigger on the embedded broker', () => {
  void it('hands the body and the metadata the Functions host gives, camel-cased by the library', async () => {
    host = await startServiceBusHost();
    host.broker.sendSync('plain', [
      {
        body: JSON.stringify({ id: 'm1', qty: 2 }),
        messageId: 'sea:1001:1',
        contentType: 'application/json',
        correlationId: 'corr-1',
        subject: 'order.changed',
        applicationProperties: { Region: 'sea', version: 1 },
        timeToLiveMs: 60_000,
      },
    ]);
    const [record] = await eventually(
      () => (host!.of('plainQueue').length ? host!.of('plainQueue') : undefined),
      'plainQueue',
    );
    assert.deepEqual(record!.messages, [{ id: 'm1', qty: 2 }]);
    const md = record!.triggerMetadata;
    assert.equal(md.messageId, 'sea:1001:1');
    assert.equal(md.deliveryCount, 1);
    assert.equal(typeof md.sequenceNumber, 'number');
    assert.equal(md.contentType, 'application/json');
    assert.equal(md.correlationId, 'corr-1');
    assert.equal(md.subject, 'order.changed');
    assert.equal(md.label, 'order.changed');
    // Nested keys are camel-cased by @azure/functions, as on Azure.
    assert.deepEqual(md.applicationProperties, { region: 'sea', version: 1 });
    assert.deepEqual(md.userProperties, { region: 'sea', version: 1 });
    assert.match(String(md.lockToken), /^[0-9a-f-]{36}$/);
    const enqueued = Date.parse(String(md.enqueuedTimeUtc));
    assert.ok(Math.abs(enqueued - Date.now()) < 5_000);
    assert.equal(Date.parse(String(md.expiresAtUtc)) - enqueued, 60_000);
    assert.equal(md.sessionId, undefined);
    await eventually(
      () => (host!.broker.depth().find((d) => d.path === 'plain')?.active === 0 ? true : undefined),
      'completion',
    );
  });

  void it('dead-letters a poison message after maxDeliveryCount with its reason, and loses nothing else', async () => {
    host = await startServiceBusHost();
    host.broker.sendSync('plain', [
      { body: JSON.stringify({ id: 'ok-1' }) },
      { body: JSON.stringify({ id: 'poison', fail: true }), messageId: 'poison-1' },
      { body: JSON.stringify({ id: 'flaky', failUntil: 1 }) },
      { body: JSON.stringify({ id: 'ok-2' }) },
    ]);
    const dead = await eventually(() => {
      const dlq = host!.broker.peekSync({ queue: 'plain' }, { deadLetter: true });
      return dlq.length > 0 ? dlq : undefined;
    }, 'the poison message in the DLQ');
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.messageId, 'poison-1');
    assert.equal(dead[0]!.deadLetterReason, 'MaxDeliveryCountExceeded');
    assert.match(dead[0]!.deadLetterErrorDescription ?? '', /3 delivery attempts/);
    assert.equal(dead[0]!.deliveryCount, 3);
    const poisonDeliveries = host.of('plainQueue').filter((r) => ids([r])[0] === 'poison');
    assert.deepEqual(
      poisonDeliveries.map((r) => r.triggerMetadata.deliveryCount),
      [1, 2, 3],
    );
    // The others were each handled to success once (flaky: twice, the second time succeeding).
    await eventually(
      () => (host!.broker.depth().find((d) => d.path === 'plain')?.active === 0 ? true : undefined),
      'drain',
    );
    const seen = ids(host.of('plainQueue'));
    assert.equal(seen.filter((i) => i === 'ok-1').length, 1);
    assert.equal(seen.filter((i) => i === 'ok-2').length, 1);
    assert.equal(seen.filter((i) => i === 'flaky').length, 2);
    const depth = host.broker.depth().find((d) => d.path === 'plain')!;
    assert.deepEqual(
      { active: depth.active, locked: depth.locked, dead: depth.deadLettered },
      { active: 0, locked: 0, dead: 1 },
    );
  });

  void it('keeps FIFO within each session while different sessions run in parallel', async () => {
    host = await startServiceBusHost();
    const sessions = ['sea:1', 'sea:2', 'eu:3', 'eu:4'];
    const perSession = 8;
    const sleepMs = 40;
    const started = Date.now();
    for (let v = 1; v <= perSession; v++) {
      // Interleaved sends, as orders change independently; one version fails once to prove retries keep the order.
      host.broker.sendSync(
        'orders',
        sessions.map((s) => ({
          body: JSON.stringify({
            id: `${s}#${v}`,
            sleepMs,
            ...(s === 'eu:3' && v === 2 ? { failUntil: 1 } : {}),
          }),
          sessionId: s,
          messageId: `${s}:${v}`,
        })),
      );
    }
    await eventually(
      () => (new Set(ids(host!.of('sessionQueue'))).size === sessions.length * perSession ? true : undefined),
      'every session message',
    );
    const elapsed = Date.now() - started;
    const records = host.of('sessionQueue');
    for (const s of sessions) {
      const mine = records.filter((r) => r.triggerMetadata.sessionId === s);
      const versions = ids(mine).map((id) => Number(id.split('#')[1]));
      const expected = Array.from({ length: perSession }, (_, i) => i + 1);
      if (s === 'eu:3') expected.splice(1, 0, 2); // version 2 delivered twice, back to back
      assert.deepEqual(versions, expected, `order within session ${s}`);
      // One invocation at a time per session: each starts after the previous one's work.
      for (let i = 1; i < mine.length; i++)
        assert.ok(mine[i]!.at - mine[i - 1]!.at >= sleepMs - 2, `overlap in ${s}`);
    }
    const serial = (sessions.length * perSession + 1) * sleepMs;
    assert.ok(
      elapsed < serial * 0.75,
      `sessions should run in parallel: ${elapsed} ms vs ${serial} ms serial`,
    );
  });

  void it('refuses a message without sessionId on a session-enabled queue, as Azure does', async () => {
    host = await startServiceBusHost();
    assert.throws(
      () => host!.broker.sendSync('orders', [{ body: 'x' }]),
      (err: unknown) =>
        err instanceof ServiceBusBrokerError && err.code === 'InvalidOperation' && !err.retryable,
    );
  });

  void it('drops a duplicate messageId inside the detection window and accepts it after', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    host = await startServiceBusHost({ clock });
    const first = host.broker.sendSync('plain', [
      { body: JSON.stringify({ id: 'd1' }), messageId: 'sea:7:3' },
    ]);
    const again = host.broker.sendSync('plain', [
      { body: JSON.stringify({ id: 'd1-dup' }), messageId: 'sea:7:3' },
      { body: JSON.stringify({ id: 'd2' }), messageId: 'sea:7:4' },
    ]);
    assert.deepEqual(first, { accepted: 1, duplicates: 0 });
    assert.deepEqual(again, { accepted: 1, duplicates: 1 });
    await eventually(() => (host!.of('plainQueue').length === 2 ? true : undefined), 'two deliveries');
    await delay(50);
    assert.deepEqual(ids(host.of('plainQueue')).sort(), ['d1', 'd2']);
    clock.advance(10 * 60_000 + 1);
    assert.deepEqual(
      host.broker.sendSync('plain', [{ body: JSON.stringify({ id: 'd1-later' }), messageId: 'sea:7:3' }]),
      {
        accepted: 1,
        duplicates: 0,
      },
    );
    await eventually(
      () => (ids(host!.of('plainQueue')).includes('d1-later') ? true : undefined),
      'the resend',
    );
  });

  void it('delivers a scheduled message at its time, not before', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    host = await startServiceBusHost({ clock });
    const at = clock.now() + 60_000;
    host.broker.sendSync('plain', [{ body: JSON.stringify({ id: 'later' }), scheduledEnqueueTimeUtc: at }]);
    await delay(100);
    assert.equal(host.of('plainQueue').length, 0);
    assert.equal(host.broker.peekSync({ queue: 'plain' })[0]?.state, 'scheduled');
    clock.advance(59_000);
    await delay(50);
    assert.equal(host.of('plainQueue').length, 0);
    clock.advance(1_000);
    const [record] = await eventually(
      () => (host!.of('plainQueue').length ? host!.of('plainQueue') : undefined),
      'delivery',
    );
    assert.equal(Date.parse(String(record!.triggerMetadata.enqueuedTimeUtc)), at);
  });

  void it('drops expired messages by default and dead-letters them when the entity says so', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    host = await startServiceBusHost({
      clock,
      hostJson: {
        extensions: {
          serviceBus: { entities: { relayed: { deadLetteringOnMessageExpiration: true } } },
        },
      },
    });
    // Nothing consumes these two queues' messages: 'relayed' has no trigger; the scheduled one in 'plain' expires first.
    host.broker.sendSync('relayed', [
      { body: 'short', messageId: 'ttl-1', timeToLiveMs: 1_000 },
      { body: 'long', messageId: 'ttl-2', timeToLiveMs: 60_000 },
    ]);
    host.broker.sendSync('plain', [
      {
        body: JSON.stringify({ id: 'never' }),
        timeToLiveMs: 1_000,
        scheduledEnqueueTimeUtc: clock.now() + 5_000,
      },
    ]);
    clock.advance(2_000);
    const active = host.broker.peekSync({ queue: 'relayed' });
    assert.deepEqual(
      active.map((m) => m.messageId),
      ['ttl-2'],
    );
    const dead = host.broker.peekSync({ queue: 'relayed' }, { deadLetter: true });
    assert.deepEqual(
      dead.map((m) => [m.messageId, m.deadLetterReason]),
      [['ttl-1', 'TTLExpiredException']],
    );
    clock.advance(10_000);
    await delay(50);
    assert.equal(host.of('plainQueue').length, 0, 'an expired message is never delivered');
    assert.equal(
      host.broker.peekSync({ queue: 'plain' }, { deadLetter: true }).length,
      0,
      'dropped, not dead-lettered',
    );
  });

  void it('passes batches with per-message metadata arrays for cardinality many', async () => {
    host = await startServiceBusHost();
    host.broker.sendSync(
      'batch',
      Array.from({ length: 30 }, (_, i) => ({
        body: JSON.stringify({ id: `b${i}` }),
        messageId: `batch-${i}`,
        applicationProperties: { n: i },
      })),
    );
    await eventually(() => (ids(host!.of('batchQueue')).length === 30 ? true : undefined), 'all 30');
    const records = host.of('batchQueue');
    assert.ok(
      records.some((r) => r.messages.length > 1),
      'some invocation got more than one message',
    );
    for (const r of records) {
      const md = r.triggerMetadata;
      const n = r.messages.length;
      assert.equal((md.messageIdArray as unknown[]).length, n);
      assert.deepEqual(md.deliveryCountArray, Array(n).fill(1));
      assert.deepEqual(
        md.messageIdArray,
        r.messages.map((m) => `batch-${(m as { id: string }).id.slice(1)}`),
      );
      assert.deepEqual(
        md.applicationPropertiesArray,
        r.messages.map((m) => ({ n: Number((m as { id: string }).id.slice(1)) })),
      );
      assert.equal((md.sequenceNumberArray as unknown[]).length, n);
      assert.equal(md.messageId, undefined, 'many: only the ...Array keys');
    }
    assert.deepEqual(
      ids(records),
      Array.from({ length: 30 }, (_, i) => `b${i}`),
    );
  });

  void it('fans a topic out to every subscription', async () => {
    host = await startServiceBusHost();
    host.broker.sendSync('events', [{ body: JSON.stringify({ id: 'e1' }), subject: 'price' }]);
    await eventually(
      () =>
        host!.of('auditSubscription').length && host!.of('billingSubscription').length ? true : undefined,
      'both subscriptions',
    );
    assert.deepEqual(ids(host.of('auditSubscription')), ['e1']);
    assert.deepEqual(ids(host.of('billingSubscription')), ['e1']);
  });

  void it('sends output binding values: arrays to a queue, the return value to a topic', async () => {
    host = await startServiceBusHost();
    host.broker.sendSync('relay', [{ body: JSON.stringify({ id: 'r1' }) }]);
    await eventually(
      () =>
        host!.of('auditSubscription').length && host!.of('billingSubscription').length ? true : undefined,
      'the relayed event',
    );
    assert.deepEqual(ids(host.of('auditSubscription')), ['r1-event']);
    const relayed = host.broker.peekSync({ queue: 'relayed' });
    assert.deepEqual(
      relayed.map((m) => m.body.toString('utf8')),
      ['{"id":"r1-a"}', 'r1-b as text'],
    );
  });

  void it('leaves settlement to the app when autoCompleteMessages is false: the lock lapses and the message returns', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    host = await startServiceBusHost({ clock });
    host.broker.sendSync('manual', [{ body: JSON.stringify({ id: 'm' }) }]);
    await eventually(() => (host!.of('manualQueue').length === 1 ? true : undefined), 'first delivery');
    await delay(50);
    const depth = host.broker.depth().find((d) => d.path === 'manual')!;
    assert.deepEqual([depth.active, depth.locked], [0, 1], 'neither completed nor abandoned');
    clock.advance(5_000); // the fixture's lockDuration
    await eventually(() => (host!.of('manualQueue').length === 2 ? true : undefined), 'redelivery');
    assert.equal(host.of('manualQueue')[1]!.triggerMetadata.deliveryCount, 2);
  });

  void it('renews the lock while a slow handler runs, so the message is not delivered twice', async () => {
    host = await startServiceBusHost({
      hostJson: { extensions: { serviceBus: { lockDuration: '00:00:00.200', maxDeliveryCount: 3 } } },
    });
    host.broker.sendSync('plain', [{ body: JSON.stringify({ id: 'slow', sleepMs: 700 }) }]);
    await eventually(
      () =>
        host!.broker.depth().find((d) => d.path === 'plain')?.active === 0 && host!.of('plainQueue').length
          ? true
          : undefined,
      'start',
    );
    await eventually(() => {
      const d = host!.broker.depth().find((x) => x.path === 'plain')!;
      return d.active + d.locked === 0 ? true : undefined;
    }, 'completion');
    assert.equal(host.of('plainQueue').length, 1);
    assert.equal(host.broker.peekSync({ queue: 'plain' }, { deadLetter: true }).length, 0);
  });

  void it('runs df.app.client Service Bus functions with the durable client input', async () => {
    host = await startServiceBusHost();
    host.broker.sendSync('starts', [{ body: JSON.stringify({ id: 's1' }) }]);
    await eventually(() => (host!.of('durableStarter').length ? true : undefined), 'durableStarter');
    await eventually(
      () => (host!.logs.some((l) => l.includes('client task hub TestHub')) ? true : undefined),
      'client log',
    );
  });
});
