/**
 * One conformance suite for the broker port: it runs against the embedded broker always, and
 * against Azure Service Bus when SERVICEBUS_TEST_CONNECTION holds a connection string with
 * Manage rights (the suite creates two short-lived queues, maxDeliveryCount 3, lock 5 s,
 * duplicate detection on, one of them session-enabled, and deletes them afterwards).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ServiceBusAdministrationClient } from '@azure/service-bus';
import { SystemClock } from '../../../devhost/clock';
import { AzureServiceBusBroker } from '../../../devhost/servicebus/azure/broker';
import { EmbeddedBroker } from '../../../devhost/servicebus/embedded/broker';
import { ServiceBusBrokerError } from '../../../devhost/servicebus/errors';
import type { BrokeredMessage, BrokerPort, BrokerReceiver } from '../../../devhost/servicebus/port';

interface Target {
  port: BrokerPort;
  queue: string;
  sessionQueue: string;
  /** How long to wait for something that should arrive (Azure needs network round trips). */
  patienceMs: number;
  cleanup(): Promise<void>;
}

const MAX_DELIVERY = 3;

const targets: { name: string; skip: string | false; make: () => Promise<Target> }[] = [
  {
    name: 'embedded broker',
    skip: false,
    make: async () => {
      const broker = new EmbeddedBroker({
        file: ':memory:',
        clock: new SystemClock(),
        defaults: { maxDeliveryCount: MAX_DELIVERY, lockDurationMs: 5_000 },
      });
      broker.ensureQueue('conformance');
      broker.ensureQueue('conformance-sessions', { requiresSession: true });
      return {
        port: broker,
        queue: 'conformance',
        sessionQueue: 'conformance-sessions',
        patienceMs: 2_000,
        cleanup: () => broker.close(),
      };
    },
  },
  {
    name: 'Azure Service Bus',
    skip: process.env.SERVICEBUS_TEST_CONNECTION ? false : 'skipped: SERVICEBUS_TEST_CONNECTION not set',
    make: async () => {
      const connectionString = process.env.SERVICEBUS_TEST_CONNECTION ?? '';
      const admin = new ServiceBusAdministrationClient(connectionString);
      const suffix = randomUUID().slice(0, 8);
      const queue = `devhost-conformance-${suffix}`;
      const sessionQueue = `devhost-conformance-s-${suffix}`;
      const common = {
        maxDeliveryCount: MAX_DELIVERY,
        lockDuration: 'PT5S',
        requiresDuplicateDetection: true,
        duplicateDetectionHistoryTimeWindow: 'PT10M',
        deadLetteringOnMessageExpiration: false,
      };
      await admin.createQueue(queue, common);
      await admin.createQueue(sessionQueue, { ...common, requiresSession: true });
      const port = new AzureServiceBusBroker({ connectionString });
      return {
        port,
        queue,
        sessionQueue,
        patienceMs: 15_000,
        cleanup: async () => {
          await port.close();
          await admin.deleteQueue(queue).catch(() => undefined);
          await admin.deleteQueue(sessionQueue).catch(() => undefined);
        },
      };
    },
  },
];

/** Receives until `count` messages came or `timeoutMs` passed. */
async function receiveN(
  receiver: BrokerReceiver,
  count: number,
  timeoutMs: number,
): Promise<BrokeredMessage[]> {
  const out: BrokeredMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count && Date.now() < deadline) {
    out.push(...(await receiver.receive(count - out.length, Math.max(1, deadline - Date.now()))));
  }
  return out;
}

const body = (m: BrokeredMessage) => m.body.toString('utf8');

for (const target of targets) {
  void describe(`broker port conformance: ${target.name}`, { skip: target.skip }, () => {
    let t: Target;
    before(async () => {
      t = await target.make();
    });
    after(async () => {
      await t?.cleanup();
    });

    void it('delivers a message once with its properties under a lock, and completes it', async () => {
      const id = randomUUID();
      await t.port.send(t.queue, [
        {
          body: '{"v":1}',
          messageId: id,
          contentType: 'application/json',
          correlationId: 'c-1',
          subject: 'order.changed',
          applicationProperties: { region: 'sea', version: 7 },
        },
      ]);
      const receiver = t.port.createReceiver({ queue: t.queue });
      try {
        const [m] = await receiveN(receiver, 1, t.patienceMs);
        assert.ok(m, 'message received');
        assert.equal(body(m), '{"v":1}');
        assert.equal(m.messageId, id);
        assert.equal(m.contentType, 'application/json');
        assert.equal(m.correlationId, 'c-1');
        assert.equal(m.subject, 'order.changed');
        assert.equal(m.applicationProperties.region, 'sea');
        assert.equal(m.applicationProperties.version, 7);
        assert.equal(m.deliveryCount, 1);
        assert.ok(m.lockToken);
        assert.ok((m.lockedUntilUtc ?? 0) > Date.now());
        assert.ok(Math.abs(m.enqueuedTimeUtc - Date.now()) < 60_000);
        // Locked: nobody else gets it meanwhile.
        assert.equal((await receiver.receive(1, 300)).length, 0);
        await receiver.complete(m);
        await assert.rejects(
          receiver.complete(m),
          (err: unknown) => err instanceof ServiceBusBrokerError && err.code === 'MessageLockLost',
        );
        assert.equal((await receiver.receive(1, 500)).length, 0);
      } finally {
        await receiver.close();
      }
    });

    void it('redelivers an abandoned message with deliveryCount + 1 and dead-letters it past the maximum', async () => {
      const id = randomUUID();
      await t.port.send(t.queue, [{ body: 'poison', messageId: id }]);
      const receiver = t.port.createReceiver({ queue: t.queue });
      try {
        for (let attempt = 1; attempt <= MAX_DELIVERY; attempt++) {
          const [m] = await receiveN(receiver, 1, t.patienceMs);
          assert.ok(m, `delivery ${attempt}`);
          assert.equal(m.messageId, id);
          assert.equal(m.deliveryCount, attempt);
          await receiver.abandon(m);
        }
        assert.equal((await receiver.receive(1, 500)).length, 0);
        const dead = await t.port.peek({ queue: t.queue }, { deadLetter: true });
        const mine = dead.filter((m) => m.messageId === id);
        assert.equal(mine.length, 1);
        assert.equal(mine[0]!.deadLetterReason, 'MaxDeliveryCountExceeded');
      } finally {
        await receiver.close();
      }
    });

    void it('dead-letters on request with the reason and description given', async () => {
      const id = randomUUID();
      await t.port.send(t.queue, [{ body: 'not json', messageId: id }]);
      const receiver = t.port.createReceiver({ queue: t.queue });
      try {
        const [m] = await receiveN(receiver, 1, t.patienceMs);
        assert.ok(m);
        await receiver.deadLetter(m, { reason: 'MalformedOrderEvent', description: 'body is not JSON' });
        const dead = (await t.port.peek({ queue: t.queue }, { deadLetter: true })).filter(
          (d) => d.messageId === id,
        );
        assert.equal(dead.length, 1);
        assert.equal(dead[0]!.deadLetterReason, 'MalformedOrderEvent');
        assert.equal(dead[0]!.deadLetterErrorDescription, 'body is not JSON');
        assert.equal(body(dead[0]!), 'not json');
      } finally {
        await receiver.close();
      }
    });

    void it('drops a duplicate messageId inside the detection window', async () => {
      const id = randomUUID();
      await t.port.send(t.queue, [{ body: 'first', messageId: id }]);
      await t.port.send(t.queue, [{ body: 'second', messageId: id }]);
      const receiver = t.port.createReceiver({ queue: t.queue });
      try {
        const got = await receiveN(receiver, 2, Math.min(t.patienceMs, 3_000));
        assert.deepEqual(got.map(body), ['first']);
        for (const m of got) await receiver.complete(m);
      } finally {
        await receiver.close();
      }
    });

    void it('peeks without locking and renews a lock on request', async () => {
      const id = randomUUID();
      await t.port.send(t.queue, [{ body: 'peek me', messageId: id }]);
      const peeked = (await t.port.peek({ queue: t.queue })).filter((m) => m.messageId === id);
      assert.equal(peeked.length, 1);
      assert.equal(peeked[0]!.lockToken, undefined);
      const receiver = t.port.createReceiver({ queue: t.queue });
      try {
        const [m] = await receiveN(receiver, 1, t.patienceMs);
        assert.ok(m);
        assert.equal(m.deliveryCount, 1, 'peeking is not a delivery');
        await new Promise((r) => setTimeout(r, 50));
        const renewed = await receiver.renewLock(m);
        assert.ok(renewed > (m.lockedUntilUtc ?? 0));
        await receiver.complete(m);
      } finally {
        await receiver.close();
      }
    });

    void it('makes a scheduled message visible at its time, not before', async () => {
      const id = randomUUID();
      const at = Date.now() + 2_000;
      await t.port.send(t.queue, [{ body: 'scheduled', messageId: id, scheduledEnqueueTimeUtc: at }]);
      const receiver = t.port.createReceiver({ queue: t.queue });
      try {
        assert.equal((await receiver.receive(1, 500)).length, 0);
        const [m] = await receiveN(receiver, 1, t.patienceMs + 2_000);
        assert.ok(m);
        assert.ok(Date.now() >= at - 50, 'not before its time');
        assert.equal(m.messageId, id);
        await receiver.complete(m);
      } finally {
        await receiver.close();
      }
    });

    void it('hands each session to one receiver at a time, in order, and returns unsettled messages on close', async () => {
      const s1 = `s1-${randomUUID().slice(0, 6)}`;
      const s2 = `s2-${randomUUID().slice(0, 6)}`;
      await t.port.send(t.sessionQueue, [
        { body: 'a1', sessionId: s1 },
        { body: 'b1', sessionId: s2 },
        { body: 'a2', sessionId: s1 },
        { body: 'b2', sessionId: s2 },
        { body: 'a3', sessionId: s1 },
      ]);
      const first = await t.port.acceptNextSession({ queue: t.sessionQueue }, t.patienceMs);
      assert.ok(first, 'a session');
      const second = await t.port.acceptNextSession({ queue: t.sessionQueue }, t.patienceMs);
      assert.ok(second, 'the other session');
      assert.notEqual(first.sessionId, second.sessionId);
      assert.deepEqual([first.sessionId, second.sessionId].sort(), [s1, s2].sort());
      const none = await t.port.acceptNextSession({ queue: t.sessionQueue }, 1_000);
      assert.equal(none, undefined, 'both sessions are held');

      const one = first.sessionId === s1 ? first : second;
      const two = first.sessionId === s1 ? second : first;
      const a = await receiveN(one, 3, t.patienceMs);
      assert.deepEqual(a.map(body), ['a1', 'a2', 'a3']);
      await one.complete(a[0]!);
      await one.close(); // a2, a3 unsettled: they come back, in order
      const b = await receiveN(two, 2, t.patienceMs);
      assert.deepEqual(b.map(body), ['b1', 'b2']);
      for (const m of b) await two.complete(m);
      await two.close();

      const again = await t.port.acceptNextSession({ queue: t.sessionQueue }, t.patienceMs);
      assert.ok(again);
      assert.equal(again.sessionId, s1);
      const rest = await receiveN(again, 2, t.patienceMs);
      assert.deepEqual(rest.map(body), ['a2', 'a3']);
      assert.deepEqual(
        rest.map((m) => m.deliveryCount),
        [2, 2],
      );
      for (const m of rest) await again.complete(m);
      await again.close();
    });
  });
}
