import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SystemClock } from '../../../devhost/clock';
import { Logger } from '../../../devhost/logger';
import { EmbeddedBroker } from '../../../devhost/servicebus/embedded/broker';
import { TriggerListener } from '../../../devhost/servicebus/listener';
import { readServiceBusSettings } from '../../../devhost/servicebus/settings';
import type { InvocationOutcome, InvocationRequest } from '../../../devhost/worker/invoker';
import { HostShuttingDownError } from '../../../devhost/worker/invoker';
import { eventually } from './harness';

void describe('a Service Bus trigger the host refuses to invoke (embedded broker)', () => {
  void it('gives the message back without counting the delivery, and backs off instead of spinning', async () => {
    const clock = new SystemClock();
    const broker = new EmbeddedBroker({ file: ':memory:', clock, defaults: { maxDeliveryCount: 3 } });
    broker.ensureQueue('q');
    const logs: string[] = [];
    const attempts: { at: number; deliveryCount: number }[] = [];
    const invoke = async (request: InvocationRequest): Promise<InvocationOutcome> => {
      attempts.push({ at: Date.now(), deliveryCount: Number(request.triggerMetadata?.DeliveryCount?.json) });
      // The host refuses the first five times (as while it is stopping or not ready yet).
      if (attempts.length <= 5) throw new HostShuttingDownError('The host is shutting down.');
      return { invocationId: 'x', functionName: 'f', durationMs: 0 };
    };
    const listener = new TriggerListener(
      broker,
      {
        functionName: 'f',
        source: { queue: 'q' },
        sessions: false,
        many: false,
        autoCompleteMessages: true,
        binary: false,
        host: { ...readServiceBusSettings({}).host, maxConcurrentCalls: 1 },
        receiveWaitMs: 60_000,
        sessionIdleMs: 0,
      },
      invoke,
      new Logger({ default: 'information' }, { write: (line) => void logs.push(line) }),
      clock,
    );
    await broker.send('q', [{ body: JSON.stringify({ id: 1 }) }]);
    listener.start();
    let deadLettered: number;
    try {
      await eventually(() => (attempts.length >= 6 ? true : undefined), 'the sixth attempt', 30_000);
      await eventually(
        () => (broker.depth()[0]!.active + broker.depth()[0]!.locked === 0 ? true : undefined),
        'completion',
      );
      deadLettered = broker.depth()[0]!.deadLettered;
    } finally {
      await listener.stop();
      await broker.close();
    }
    assert.deepEqual(
      attempts.map((a) => a.deliveryCount),
      [1, 1, 1, 1, 1, 1],
      'a refused delivery does not count: the message is neither burnt nor dead-lettered',
    );
    assert.equal(deadLettered, 0);
    const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i]!.at);
    assert.ok(gaps[0]! >= 200, `waits before the first retry: ${gaps.join(', ')} ms`);
    assert.ok(gaps[4]! >= gaps[0]! * 2, `and longer each time: ${gaps.join(', ')} ms`);
    assert.ok(logs.some((l) => /Not invoked, given back for later/.test(l)));
  });
});
