import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SAMPLES_APP, startDurableHost, type DurableTestHost } from './harness';

void describe('classic samples on devhost', () => {
  let host: DurableTestHost;
  before(async () => {
    host = await startDurableHost(SAMPLES_APP);
  });
  after(async () => {
    await host.stop();
  });

  void it('hello sequence returns the three greetings in order', async () => {
    const id = await host.start('helloSequence');
    const status = await host.waitForEnd(id);
    assert.equal(status.runtimeStatus, 'Completed');
    assert.deepEqual(status.output, ['Hello, Tokyo', 'Hello, Seattle', 'Hello, Cairo']);
  });
});
