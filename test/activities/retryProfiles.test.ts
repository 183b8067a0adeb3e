/**
 * The retry profiles as Durable Functions runs them: the schedule each profile produces (the same
 * formula devhost's engine and DTFx use), so the length of an outage an order survives is proven
 * here at full length, not waited for in an end-to-end test.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retryOptions, retrySchedule } from '../../activities/retryProfiles.js';
import { retryDelay } from '../../devhost/durable/protocol.js';

const MINUTE = 60_000;
const total = (waits: readonly number[]) => waits.reduce((a, b) => a + b, 0);

describe('retry profiles', () => {
  it('an order step backs off exponentially for more than 15 minutes before it gives up', () => {
    const waits = retrySchedule('orderStep');
    assert.ok(waits[0]! <= 250, 'the first retry comes quickly (latency goal under a second)');
    for (let i = 1; i < waits.length; i++) assert.ok(waits[i]! >= waits[i - 1]!, 'waits never shrink');
    assert.ok(
      waits.some((w, i) => i > 0 && w === waits[i - 1]! * 2),
      'exponential',
    );
    assert.ok(total(waits) >= 15 * MINUTE, `only ${total(waits) / MINUTE} min of retries`);
    assert.ok(total(waits) <= 30 * MINUTE, 'a permanent fault is reported within half an hour');
    // A 3-minute hub outage ends within the budget with attempts left.
    let elapsed = 0;
    const attemptsIn3Min = waits.findIndex((w) => (elapsed += w) > 3 * MINUTE);
    assert.ok(attemptsIn3Min > 0 && attemptsIn3Min < waits.length - 3);
  });

  it('compensations outlast the step that gave up on the same outage', () => {
    assert.ok(total(retrySchedule('compensation')) > total(retrySchedule('orderStep')));
  });

  it('the schedule is what the durable engine computes from the RetryOptions handed to it', () => {
    for (const name of ['orderStep', 'compensation', 'sqlRead', 'sqlWrite', 'blobIo', 'planning'] as const) {
      const options = retryOptions(name);
      const waits = retrySchedule(name);
      assert.equal(waits.length, options.maxNumberOfAttempts - 1, name);
      waits.forEach((w, i) => assert.equal(retryDelay(options, i + 1), w, `${name} wait ${i + 1}`));
    }
  });
});
