import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SAMPLES_APP, startDurableHost, type DurableTestHost } from './harness';

const API = '/runtime/webhooks/durabletask';

void describe('durable backend behaviours (in-process devhost, system clock)', () => {
  let host: DurableTestHost;
  before(async () => {
    host = await startDurableHost(SAMPLES_APP);
  });
  after(async () => {
    await host.stop();
  });

  void it('fans out 1,000 activities and fans in their results', async () => {
    const id = await host.start('fanOutFanIn', 1000);
    const status = await host.waitForEnd(id, 30_000);
    assert.equal(status.runtimeStatus, 'Completed');
    assert.equal(status.output, 999_000);
  });

  void it('Task.any returns the first finished task and a shrinking Task.any loop schedules nothing twice', async () => {
    const first = await host.waitForEnd(await host.start('firstOfMany'));
    assert.equal(first.runtimeStatus, 'Completed');
    const { winner, index } = first.output as { winner: string; index: number };
    assert.equal(winner, `Hello, ${['a', 'b', 'c'][index]}`);

    const loop = await host.waitForEnd(await host.start('anyLoop'));
    assert.deepEqual(loop.output, { seen: ['Hello, x', 'Hello, y', 'Hello, z'], after: 'Hello, after-loop' });
  });

  void it('honours host.json maxConcurrentActivityFunctions', async () => {
    const status = await host.waitForEnd(await host.start('concurrency'));
    assert.equal(status.runtimeStatus, 'Completed');
    assert.ok((status.output as number) <= 3, `at most 3 activities at once, saw ${String(status.output)}`);
    assert.ok((status.output as number) >= 2, 'activities ran in parallel');
  });

  void it('an activity failure reaches the orchestrator with its message', async () => {
    const status = await host.waitForEnd(await host.start('catchesFailure'));
    assert.equal(status.runtimeStatus, 'Completed');
    const caught = (status.output as { caught: string }).caught;
    assert.match(caught, /^Activity function 'boom' failed: boom: x \n /);
    assert.match(caught, /"Message":"boom: x"/);
  });

  void it('an orchestrator that throws ends Failed with its message', async () => {
    const status = await host.waitForEnd(await host.start('throws'));
    assert.equal(status.runtimeStatus, 'Failed');
    assert.equal(status.output, "Orchestrator function 'throws' failed: orchestrator blew up");
  });

  void it('actions that do not match history fail the instance as non-deterministic', async () => {
    const status = await host.waitForEnd(await host.start('nonDeterministic'));
    assert.equal(status.runtimeStatus, 'Failed');
    assert.match(String(status.output), /Non-Deterministic workflow detected/);
    assert.match(String(status.output), /'sayHello'.*'echo'/);
  });

  void it('calling an activity that does not exist fails the orchestration', async () => {
    const status = await host.waitForEnd(await host.start('callsMissing'));
    assert.equal(status.runtimeStatus, 'Failed');
    assert.match(
      String(status.output),
      /The function 'noSuchActivity' doesn't exist, is disabled, or is not an activity function/,
    );
  });

  void it('calling a disabled activity fails the orchestration instead of leaving it Running', async () => {
    const status = await host.waitForEnd(await host.start('callsDisabled'), 5000);
    assert.equal(status.runtimeStatus, 'Failed');
    const output = String(status.output);
    assert.match(
      output,
      /The function 'disabledActivity' doesn't exist, is disabled, or is not an activity function\. Additional info: The following are the known activity functions: '/,
    );
    assert.match(output, /'echo'/);
    assert.doesNotMatch(
      output.replace(/^.*?Additional info/, ''),
      /disabledActivity/,
      'a disabled activity is not known',
    );
  });

  void it('instance ids up to 256 characters work; longer ones are refused with 400', async () => {
    const id = 'i'.repeat(256);
    assert.equal(await host.start('helloSequence', undefined, id), id);
    assert.equal((await host.waitForEnd(id)).runtimeStatus, 'Completed');
    const purged = await host.request('DELETE', `${API}/instances/${id}`);
    assert.deepEqual([purged.status, purged.body], [200, { instancesDeleted: 1 }]);
    const tooLong = await host.request('POST', `${API}/orchestrators/helloSequence/${'i'.repeat(257)}`);
    assert.equal(tooLong.status, 400);
  });

  void it('newGuid and currentUtcDateTime replay to the same values', async () => {
    const status = await host.waitForEnd(await host.start('deterministic'));
    const out = status.output as Record<string, unknown>;
    assert.equal(out.sameGuid, true);
    assert.equal(out.sameTime, true);
    assert.equal(out.differentGuids, true);
    assert.match(String(out.guid), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-/);
  });

  void it('runs sub-orchestrations with explicit and default instance ids', async () => {
    const id = await host.start('parent', undefined, 'parent-1');
    const status = await host.waitForEnd(id);
    assert.equal(status.runtimeStatus, 'Completed');
    const out = status.output as {
      explicit: string[];
      byDefault: { input: string; parent: string; id: string };
    };
    assert.deepEqual(out.explicit, ['Hello, Tokyo', 'Hello, Seattle', 'Hello, Cairo']);
    assert.equal(out.byDefault.input, 'data');
    assert.equal(out.byDefault.parent, 'parent-1');
    assert.match(out.byDefault.id, /^[0-9a-f]{32}:\d+$/);
    const child = await host.request('GET', `${API}/instances/parent-1-child`);
    assert.equal(child.status, 200);
    assert.equal((child.body as { runtimeStatus: string }).runtimeStatus, 'Completed');

    const failing = await host.waitForEnd(await host.start('failingParent'));
    assert.match(
      (failing.output as { caught: string }).caught,
      /Orchestrator function 'throws' failed: orchestrator blew up/,
    );
  });

  void it('external events: waits, custom status, early events are buffered, case matters', async () => {
    const id = await host.start('approvals', undefined, 'approvals-1');
    const waitForCustom = async (expected: unknown) => {
      for (let i = 0; i < 500; i++) {
        const res = await host.request('GET', `${API}/instances/${id}`);
        if (JSON.stringify((res.body as { customStatus: unknown }).customStatus) === JSON.stringify(expected))
          return res;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`custom status never became ${JSON.stringify(expected)}`);
    };
    const waiting = await waitForCustom('waiting');
    assert.equal(waiting.status, 202);
    assert.equal((waiting.body as { runtimeStatus: string }).runtimeStatus, 'Running');
    // Wrong case: not delivered to the waiter.
    assert.equal(
      (await host.request('POST', `${API}/instances/${id}/raiseEvent/approve`, { n: 0 })).status,
      202,
    );
    assert.equal(
      (await host.request('POST', `${API}/instances/${id}/raiseEvent/Approve`, { n: 1 })).status,
      202,
    );
    await waitForCustom({ stage: 'second' });
    assert.equal((await host.request('POST', `${API}/instances/${id}/raiseEvent/Approve`, 2)).status, 202);
    const done = await host.waitForEnd(id);
    assert.deepEqual(done.output, [{ n: 1 }, 2]);
    assert.deepEqual(done.customStatus, { stage: 'second' });

    // Raised before the orchestration even ran: buffered and delivered in order.
    const early = await host.start('approvals');
    await host.request('POST', `${API}/instances/${early}/raiseEvent/Approve`, '"a"');
    await host.request('POST', `${API}/instances/${early}/raiseEvent/Approve`, '"b"');
    assert.deepEqual((await host.waitForEnd(early)).output, ['a', 'b']);

    assert.equal((await host.request('POST', `${API}/instances/${id}/raiseEvent/Approve`, 3)).status, 410);
    assert.equal((await host.request('POST', `${API}/instances/nobody/raiseEvent/Approve`, 3)).status, 404);
    const wrongType = await host.request('POST', `${API}/instances/${early}/raiseEvent/Approve`, 'x', {
      'content-type': 'text/plain',
    });
    assert.equal(wrongType.status, 400);
  });

  void it('suspend, resume and terminate over the HTTP API', async () => {
    const id = await host.start('approvals', undefined, 'lifecycle-1');
    await host.request('POST', `${API}/instances/${id}/suspend?reason=pause`);
    let status = await host.request('GET', `${API}/instances/${id}`);
    for (
      let i = 0;
      i < 200 && (status.body as { runtimeStatus: string }).runtimeStatus !== 'Suspended';
      i++
    ) {
      await new Promise((r) => setTimeout(r, 10));
      status = await host.request('GET', `${API}/instances/${id}`);
    }
    assert.equal(status.status, 202);
    assert.equal((status.body as { runtimeStatus: string }).runtimeStatus, 'Suspended');
    await host.request('POST', `${API}/instances/${id}/raiseEvent/Approve`, 1);
    await new Promise((r) => setTimeout(r, 50));
    status = await host.request('GET', `${API}/instances/${id}`);
    assert.equal(
      (status.body as { runtimeStatus: string }).runtimeStatus,
      'Suspended',
      'no progress while suspended',
    );
    await host.request('POST', `${API}/instances/${id}/resume?reason=go`);
    for (let i = 0; i < 200; i++) {
      status = await host.request('GET', `${API}/instances/${id}`);
      if (JSON.stringify((status.body as { customStatus: unknown }).customStatus) === '{"stage":"second"}')
        break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal((status.body as { runtimeStatus: string }).runtimeStatus, 'Running');
    assert.deepEqual((status.body as { customStatus: unknown }).customStatus, { stage: 'second' });
    assert.equal(
      (await host.request('POST', `${API}/instances/${id}/terminate?reason=enough%20now`)).status,
      202,
    );
    const ended = await host.waitForEnd(id);
    assert.equal(ended.runtimeStatus, 'Terminated');
    assert.equal(ended.output, 'enough now');
    assert.equal((await host.request('POST', `${API}/instances/${id}/terminate?reason=again`)).status, 410);
    assert.equal((await host.request('POST', `${API}/instances/${id}/suspend`)).status, 410);
    assert.equal((await host.request('POST', `${API}/instances/none/terminate`)).status, 404);
  });

  void it('rewinds a failed instance: only the failed activity runs again', async () => {
    const id = await host.start('failsOnce', { key: 'rewind-1', failures: 1 });
    const failed = await host.waitForEnd(id);
    assert.equal(failed.runtimeStatus, 'Failed');
    assert.match(String(failed.output), /flaky attempt 1 for rewind-1/);
    assert.equal((await host.request('POST', `${API}/instances/${id}/rewind?reason=retry`)).status, 202);
    const done = await host.waitForEnd(id);
    assert.equal(done.runtimeStatus, 'Completed');
    assert.deepEqual(done.output, ['Hello, before', 'ok after 2 attempt(s)']);
    assert.equal((await host.request('POST', `${API}/instances/${id}/rewind`)).status, 410);
  });

  void it('refuses to start an id whose instance is still running; a finished one is replaced', async () => {
    const id = await host.start('approvals', undefined, 'dup-1');
    const again = await host.request('POST', `${API}/orchestrators/approvals/dup-1`);
    assert.equal(again.status, 500);
    assert.match(again.text, /already exists/);
    await host.request('POST', `${API}/instances/${id}/terminate?reason=x`);
    await host.waitForEnd(id);
    await host.start('helloSequence', undefined, 'dup-1');
    const replaced = await host.waitForEnd('dup-1');
    assert.equal(replaced.name, 'helloSequence');
    assert.equal(replaced.runtimeStatus, 'Completed');
  });

  void it('answers bad requests with 400 and unknown instances with 404', async () => {
    assert.equal((await host.request('POST', `${API}/orchestrators/noSuchOrchestrator`)).status, 400);
    assert.equal((await host.request('POST', `${API}/orchestrators/helloSequence/%40entity`)).status, 400);
    assert.equal((await host.request('POST', `${API}/orchestrators/helloSequence`, '{not json')).status, 400);
    // HttpApiHandler answers 404 and 410 with no body.
    for (const [method, path] of [
      ['GET', `${API}/instances/does-not-exist`],
      ['DELETE', `${API}/instances/does-not-exist`],
      ['POST', `${API}/instances/does-not-exist/terminate`],
      ['POST', `${API}/instances/does-not-exist/raiseEvent/x`],
    ] as const) {
      const res = await host.request(method, path);
      assert.deepEqual([res.status, res.text], [404, ''], `${method} ${path}`);
    }
    const ended = await host.start('helloSequence', undefined, 'ended-1');
    await host.waitForEnd(ended);
    for (const op of ['terminate', 'suspend', 'resume', 'raiseEvent/x']) {
      const res = await host.request('POST', `${API}/instances/${ended}/${op}`, {});
      assert.deepEqual([res.status, res.text], [410, ''], op);
    }
    assert.equal((await host.request('DELETE', `${API}/instances`)).status, 400);
    assert.equal((await host.request('GET', `${API}/instances?runtimeStatus=Sleeping`)).status, 400);
  });

  void it('status payload: official field order, showInput, showHistory and showHistoryOutput', async () => {
    const id = await host.start('helloSequence', 'the input', 'history-1');
    await host.waitForEnd(id);
    const plain = await host.request('GET', `${API}/instances/${id}`);
    assert.deepEqual(Object.keys(plain.body as object), [
      'name',
      'instanceId',
      'runtimeStatus',
      'input',
      'customStatus',
      'output',
      'createdTime',
      'lastUpdatedTime',
    ]);
    assert.equal((plain.body as { input: string }).input, 'the input');
    assert.match((plain.body as { createdTime: string }).createdTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const noInput = await host.request('GET', `${API}/instances/${id}?showInput=false`);
    assert.equal((noInput.body as { input: unknown }).input, null);

    const withHistory = await host.request(
      'GET',
      `${API}/instances/${id}?showHistory=true&showHistoryOutput=true`,
    );
    const events = (withHistory.body as { historyEvents: Record<string, unknown>[] }).historyEvents;
    assert.deepEqual(
      events.map((e) => e.EventType),
      ['ExecutionStarted', 'TaskCompleted', 'TaskCompleted', 'TaskCompleted', 'ExecutionCompleted'],
    );
    assert.equal(events[1]!.FunctionName, 'sayHello');
    assert.equal(events[1]!.Result, 'Hello, Tokyo');
    assert.ok(events[1]!.ScheduledTime);
    assert.deepEqual(events[4]!.Result, ['Hello, Tokyo', 'Hello, Seattle', 'Hello, Cairo']);
    const noOutput = await host.request('GET', `${API}/instances/${id}?showHistory=true`);
    assert.equal(
      (noOutput.body as { historyEvents: Record<string, unknown>[] }).historyEvents[1]!.Result,
      undefined,
    );
  });

  void it('lists instances with prefix, status and time filters, paged with a continuation token', async () => {
    const ids = ['list-a1', 'list-a2', 'list-a3', 'list-b1'];
    for (const id of ids) await host.start('helloSequence', id === 'list-a1' ? 'Tokyo-list' : undefined, id);
    for (const id of ids) await host.waitForEnd(id);
    const pending = await host.start('approvals', undefined, 'list-a4');

    const pages: string[][] = [];
    let token: string | null = null;
    do {
      const res: Awaited<ReturnType<typeof host.request>> = await host.request(
        'GET',
        `${API}/instances?instanceIdPrefix=list-a&top=2`,
        undefined,
        token ? { 'x-ms-continuation-token': token } : {},
      );
      assert.equal(res.status, 200);
      pages.push((res.body as { instanceId: string }[]).map((s) => s.instanceId));
      token = res.headers.get('x-ms-continuation-token');
    } while (token);
    assert.deepEqual(pages.flat().sort(), ['list-a1', 'list-a2', 'list-a3', 'list-a4']);
    assert.deepEqual(
      pages.map((p) => p.length),
      [2, 2],
    );

    const running = await host.request(
      'GET',
      `${API}/instances?instanceIdPrefix=list-&runtimeStatus=Running,Pending`,
    );
    assert.deepEqual(
      (running.body as { instanceId: string }[]).map((s) => s.instanceId),
      [pending],
    );
    // Inputs are shown unless showInput=false, as Azure lists them.
    const listed = await host.request('GET', `${API}/instances?instanceIdPrefix=list-a1`);
    assert.deepEqual(
      (listed.body as { input: unknown }[]).map((s) => s.input),
      ['Tokyo-list'],
    );
    const hidden = await host.request('GET', `${API}/instances?instanceIdPrefix=list-a1&showInput=false`);
    assert.deepEqual(
      (hidden.body as { input: unknown }[]).map((s) => s.input),
      [null],
    );
    const future = await host.request('GET', `${API}/instances?createdTimeFrom=2999-01-01T00:00:00Z`);
    assert.deepEqual(future.body, []);
    await host.request('POST', `${API}/instances/${pending}/terminate`);
    await host.waitForEnd(pending);
  });

  void it('purges one instance, and many by time and status', async () => {
    const id = await host.start('helloSequence', undefined, 'purge-1');
    await host.waitForEnd(id);
    const purged = await host.request('DELETE', `${API}/instances/${id}`);
    assert.equal(purged.status, 200);
    assert.deepEqual(purged.body, { instancesDeleted: 1 });
    assert.equal((await host.request('GET', `${API}/instances/${id}`)).status, 404);

    // By id, a running instance is purged too (Azure Storage's backend does): 200, then gone.
    const running = await host.start('approvals', undefined, 'purge-running');
    const purgedRunning = await host.request('DELETE', `${API}/instances/${running}`);
    assert.deepEqual([purgedRunning.status, purgedRunning.body], [200, { instancesDeleted: 1 }]);
    await host.engine.idle();
    assert.equal((await host.request('GET', `${API}/instances/${running}`)).status, 404);
    const lateEvent = await host.request('POST', `${API}/instances/${running}/raiseEvent/Approve`, {});
    assert.equal(lateEvent.status, 404);

    const from = new Date(Date.now() - 1000).toISOString();
    for (const x of ['purge-2', 'purge-3'])
      await host.waitForEnd(await host.start('helloSequence', undefined, x));
    const many = await host.request(
      'DELETE',
      `${API}/instances?createdTimeFrom=${from}&runtimeStatus=Completed`,
    );
    assert.equal(many.status, 200);
    assert.ok((many.body as { instancesDeleted: number }).instancesDeleted >= 2);
    assert.equal((await host.request('GET', `${API}/instances/purge-3`)).status, 404);
  });
});
