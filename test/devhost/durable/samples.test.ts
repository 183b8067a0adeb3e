import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDevhost, type Devhost } from '../../support/devhost';
import { SAMPLES_APP } from './harness';

interface Status {
  runtimeStatus: string;
  output: unknown;
  customStatus: unknown;
}

/** The classic samples through `devhost start` as a user runs them: HTTP in, status URLs out. */
void describe('classic Durable Functions samples on a child-process devhost (manual clock)', () => {
  let dh: Devhost;
  before(async () => {
    dh = await startDevhost({ appDir: SAMPLES_APP, clock: 'manual' });
  });
  after(async () => {
    await dh.stop();
  });

  const post = (path: string, body?: unknown) =>
    fetch(path.startsWith('http') ? path : `${dh.origin}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const advance = (ms: number) => post('/admin/clock', { advanceMs: ms });
  /** Starts through the HTTP start sample and follows statusQueryGetUri, moving the clock by `stepMs`. */
  const run = async (orchestrator: string, input?: unknown, stepMs = 0): Promise<Status> => {
    const res = await post(`/api/orchestrators/${orchestrator}`, input);
    assert.equal(res.status, 202);
    const urls = (await res.json()) as { id: string; statusQueryGetUri: string };
    assert.equal(res.headers.get('location'), urls.statusQueryGetUri);
    assert.ok(
      urls.statusQueryGetUri.startsWith(`${dh.origin}/runtime/webhooks/durabletask/instances/${urls.id}`),
    );
    for (let i = 0; i < 2000; i++) {
      const status = await fetch(urls.statusQueryGetUri);
      if (status.status === 200) return (await status.json()) as Status;
      assert.equal(status.status, 202);
      if (stepMs > 0 && i % 5 === 4) await advance(stepMs);
      await sleep(5);
    }
    throw new Error(`${orchestrator} did not finish`);
  };

  void it('hello sequence (HTTP start)', async () => {
    const status = await run('helloSequence');
    assert.equal(status.runtimeStatus, 'Completed');
    assert.deepEqual(status.output, ['Hello, Tokyo', 'Hello, Seattle', 'Hello, Cairo']);
  });

  void it('fan-out/fan-in', async () => {
    assert.equal((await run('fanOutFanIn', 20)).output, 380);
  });

  void it('activity retry', async () => {
    const status = await run('activityRetry', { key: 'e2e-retry', failures: 2 }, 1000);
    assert.equal(status.output, 'ok after 3 attempt(s)');
  });

  void it('sub-orchestration retry', async () => {
    const status = await run(
      'subOrchestrationRetry',
      { key: 'e2e-sub', failures: 1, childId: 'e2e-sub-child' },
      500,
    );
    assert.equal(status.output, 'ok after 2 attempt(s)');
  });

  void it('timer cancel (approval with timeout) and the timeout path', async () => {
    assert.equal((await run('approvalWithTimeout', { timeoutMs: 5000 }, 1000)).output, 'timed out');
    const res = await post('/api/orchestrators/approvalWithTimeout', { timeoutMs: 60_000 });
    const urls = (await res.json()) as { sendEventPostUri: string; statusQueryGetUri: string };
    const raised = await post(urls.sendEventPostUri.replace('{eventName}', 'Approval'), 'yes');
    assert.equal(raised.status, 202);
    let status: Status | undefined;
    for (let i = 0; i < 500; i++) {
      const r = await fetch(urls.statusQueryGetUri);
      status = (await r.json()) as Status;
      if (r.status === 200) break;
      await sleep(5);
    }
    assert.equal(status?.output, 'approved: "yes"');
  });

  void it('continue-as-new counter', async () => {
    const status = await run('counter', { count: 0, max: 4 }, 1000);
    assert.equal(status.output, 4);
  });

  void it('HTTP sync start: 200 with the output, or 202 with status URLs on timeout', async () => {
    const done = await post('/api/orchestrators/helloSequence/wait?timeout=10000');
    assert.equal(done.status, 200);
    assert.deepEqual(await done.json(), ['Hello, Tokyo', 'Hello, Seattle', 'Hello, Cairo']);
    const slow = await post('/api/orchestrators/approvals/wait?timeout=200');
    assert.equal(slow.status, 202);
    const body = (await slow.json()) as { id: string; terminatePostUri: string };
    const term = await post(body.terminatePostUri.replace('{text}', 'test%20over'));
    assert.equal(term.status, 202);
  });
});
