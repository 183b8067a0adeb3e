import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TS_APP, startDurableHost, type DurableTestHost } from './harness';

interface ClientAnswer {
  ok: boolean;
  result?: unknown;
  error?: string;
}

void describe('DurableClient methods from a TypeScript app (durableClient binding over the RPC routes)', () => {
  let host: DurableTestHost;
  const call = async (op: string, args: Record<string, unknown> = {}): Promise<ClientAnswer> => {
    const res = await host.request('POST', `/api/client/${op}`, args);
    assert.equal(res.status, 200, res.text);
    return res.body as ClientAnswer;
  };
  const ok = async (op: string, args: Record<string, unknown> = {}): Promise<unknown> => {
    const answer = await call(op, args);
    assert.ok(answer.ok, `${op} failed: ${answer.error}`);
    return answer.result;
  };
  const statusOf = async (id: string) => (await ok('getStatus', { id })) as Record<string, unknown>;
  const until = async (id: string, predicate: (s: Record<string, unknown>) => boolean) => {
    for (let i = 0; i < 500; i++) {
      const s = await statusOf(id);
      if (predicate(s)) return s;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`${id} never reached the expected state`);
  };
  before(async () => {
    host = await startDurableHost(TS_APP);
  });
  after(async () => {
    await host.stop();
  });

  void it('uses the hub name from host.json (with %setting%) and management URLs on the devhost origin', async () => {
    const payload = (await ok('managementPayload', { id: 'abc' })) as Record<string, string>;
    assert.equal(payload.id, 'abc');
    assert.ok(
      payload.statusQueryGetUri!.startsWith(`${host.origin}/runtime/webhooks/durabletask/instances/abc?`),
    );
    assert.match(payload.statusQueryGetUri!, /taskHub=TsHub/);
    const res = await host.request('POST', '/api/start/greetAll', ['Lima']);
    assert.equal(res.status, 202);
    const body = res.body as Record<string, string>;
    assert.equal(res.headers.get('location'), body.statusQueryGetUri);
    const done = await host.waitForEnd(body.id!);
    assert.deepEqual(done.output, ['Hello, Lima']);
    const viaUrl = await host.request('GET', body.statusQueryGetUri!);
    assert.equal((viaUrl.body as { runtimeStatus: string }).runtimeStatus, 'Completed');
  });

  void it('startNew with and without an id, getStatus with history and input options', async () => {
    const generated = (await ok('startNew', { name: 'greetAll', input: ['A', 'B'] })) as string;
    assert.match(generated, /^[0-9a-f]{32}$/);
    const explicit = await ok('startNew', { name: 'greetAll', id: 'ts-explicit', input: ['C'] });
    assert.equal(explicit, 'ts-explicit');
    const done = await until('ts-explicit', (s) => s.runtimeStatus === 'Completed');
    assert.deepEqual(done.output, ['Hello, C']);
    assert.deepEqual(done.input, ['C']);
    const withHistory = (await ok('getStatus', {
      id: 'ts-explicit',
      showHistory: true,
      showHistoryOutput: true,
    })) as { history: { EventType: string; Result?: unknown }[] };
    assert.deepEqual(
      withHistory.history.map((e) => e.EventType),
      ['ExecutionStarted', 'TaskCompleted', 'ExecutionCompleted'],
    );
    assert.equal(withHistory.history[1]!.Result, 'Hello, C');
    const missing = await call('getStatus', { id: 'ts-nobody' });
    assert.equal(missing.ok, false);
    assert.match(missing.error!, /404/);
    const unknown = await call('startNew', { name: 'noSuchOrchestrator' });
    assert.equal(unknown.ok, false);
  });

  void it('refuses startNew for an id whose instance is still running', async () => {
    await ok('startNew', { name: 'waitForApproval', id: 'ts-running' });
    const again = await call('startNew', { name: 'greetAll', id: 'ts-running' });
    assert.equal(again.ok, false);
    assert.match(again.error!, /already exists/);
    await ok('terminate', { id: 'ts-running', reason: 'cleanup' });
  });

  void it('raiseEvent, suspend, resume and terminate', async () => {
    await ok('startNew', { name: 'waitForApproval', id: 'ts-approve' });
    await until('ts-approve', (s) => s.customStatus === 'waiting for approval');
    await ok('suspend', { id: 'ts-approve', reason: 'hold' });
    await until('ts-approve', (s) => s.runtimeStatus === 'Suspended');
    await ok('raiseEvent', { id: 'ts-approve', eventName: 'approval', input: { by: 'ana' } });
    await ok('resume', { id: 'ts-approve', reason: 'go' });
    const done = await until('ts-approve', (s) => s.runtimeStatus === 'Completed');
    assert.deepEqual(done.output, { approved: { by: 'ana' } });
    const late = await call('raiseEvent', { id: 'ts-approve', eventName: 'approval', input: 1 });
    assert.equal(late.ok, true, 'a 410 is not an error for the client');
    const nobody = await call('raiseEvent', { id: 'ts-nobody', eventName: 'approval', input: 1 });
    assert.equal(nobody.ok, false);

    await ok('startNew', { name: 'waitForApproval', id: 'ts-stop' });
    await ok('terminate', { id: 'ts-stop', reason: 'no longer needed' });
    const stopped = await until('ts-stop', (s) => s.runtimeStatus === 'Terminated');
    assert.equal(stopped.output, 'no longer needed');
  });

  void it('rewind brings a failed instance back to completion', async () => {
    await ok('startNew', { name: 'needsRewind', id: 'ts-rewind', input: 'job-1' });
    const failed = await until('ts-rewind', (s) => s.runtimeStatus === 'Failed');
    assert.match(String(failed.output), /first attempt of job-1 fails/);
    await ok('rewind', { id: 'ts-rewind', reason: 'fixed' });
    const done = await until('ts-rewind', (s) => s.runtimeStatus === 'Completed');
    assert.equal(done.output, 'job-1 ok');
  });

  void it('getStatusAll, getStatusBy filters, purgeInstanceHistory and purgeInstanceHistoryBy', async () => {
    const from = new Date(Date.now() - 60_000).toISOString();
    await ok('startNew', { name: 'greetAll', id: 'ts-list-1', input: ['x'] });
    await ok('startNew', { name: 'waitForApproval', id: 'ts-list-2' });
    await until('ts-list-1', (s) => s.runtimeStatus === 'Completed');
    const all = (await ok('getStatusAll')) as { instanceId: string }[];
    assert.ok(all.some((s) => s.instanceId === 'ts-list-1'));
    const running = (await ok('getStatusBy', { runtimeStatus: ['Running', 'Pending'] })) as {
      instanceId: string;
    }[];
    assert.ok(running.some((s) => s.instanceId === 'ts-list-2'));
    assert.ok(!running.some((s) => s.instanceId === 'ts-list-1'));
    const none = (await ok('getStatusBy', { createdTimeFrom: '2999-01-01T00:00:00Z' })) as unknown[];
    assert.deepEqual(none, []);

    assert.deepEqual(await ok('purgeInstanceHistory', { id: 'ts-list-1' }), { instancesDeleted: 1 });
    assert.deepEqual(await ok('purgeInstanceHistory', { id: 'ts-list-1' }), { instancesDeleted: 0 });
    await ok('terminate', { id: 'ts-list-2', reason: 'done' });
    await until('ts-list-2', (s) => s.runtimeStatus === 'Terminated');
    const purged = (await ok('purgeInstanceHistoryBy', {
      createdTimeFrom: from,
      runtimeStatus: ['Terminated'],
    })) as { instancesDeleted: number };
    assert.ok(purged.instancesDeleted >= 1);
    assert.equal((await call('getStatus', { id: 'ts-list-2' })).ok, false);
  });
});
