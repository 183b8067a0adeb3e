import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FIXTURES, startDurableHost, type DurableTestHost } from './harness';

const API = '/runtime/webhooks/durabletask';
const APP = path.join(FIXTURES, 'durable-entities');

void describe('durable entities (in-process devhost, the app through durable-functions)', () => {
  let host: DurableTestHost;
  before(async () => {
    host = await startDurableHost(APP);
  });
  after(async () => {
    await host.stop();
  });

  const signal = async (name: string, key: string, op: string, input?: unknown) => {
    const res = await host.request(
      'POST',
      `${API}/entities/${name}/${encodeURIComponent(key)}?op=${op}`,
      input === undefined ? undefined : JSON.stringify(input),
    );
    assert.equal(res.status, 202, res.text);
  };
  const read = (name: string, key: string) =>
    host.request('GET', `${API}/entities/${name}/${encodeURIComponent(key)}`);
  const settle = () => host.engine.idle();

  void it('runs the Azure docs counter sample unchanged: signals over HTTP, state read back', async () => {
    await signal('Counter', 'docs', 'add', 5);
    await signal('Counter', 'docs', 'add', 7);
    await settle();
    let res = await read('Counter', 'docs');
    assert.equal(res.status, 200);
    assert.equal(res.body, 12);
    await signal('Counter', 'docs', 'reset');
    await settle();
    res = await read('Counter', 'docs');
    assert.equal(res.body, 0);
    // Names are case-insensitive (Azure lower-cases them); an unknown entity reads 404.
    assert.equal((await read('counter', 'docs')).body, 0);
    assert.equal((await read('Counter', 'never-signalled')).status, 404);
  });

  void it('the durable client signals and reads entities (signalEntity, readEntityState)', async () => {
    const res = await host.request('POST', '/api/entity-api/Counter/client/add', '3');
    assert.equal(res.status, 202, res.text);
    await host.request('POST', '/api/entity-api/Counter/client/add', '4');
    await settle();
    const state = await host.request('GET', '/api/entity-api/Counter/client');
    assert.deepEqual(state.body, { entityExists: true, entityState: 7 });
    const missing = await host.request('GET', '/api/entity-api/Counter/nobody');
    assert.deepEqual(missing.body, { entityExists: false });
  });

  void it('an orchestration signals and calls an entity; the call sees the earlier signals', async () => {
    const status = await host.waitForEnd(await host.start('counterFromOrchestration', 'orch'));
    assert.equal(status.runtimeStatus, 'Completed', JSON.stringify(status));
    // An operation that does not call return() answers undefined.
    assert.deepEqual(status.output, { value: 15, again: 'undefined', after: 16 });
    // The history holds one EventSent per signal and call, after the events that led to them.
    const history = await host.request(
      'GET',
      `${API}/instances/${String(status.instanceId)}?showHistory=true`,
    );
    const kinds = (history.body as { historyEvents: { EventType: string }[] }).historyEvents.map(
      (e) => e.EventType,
    );
    assert.equal(kinds.filter((k) => k === 'EventSent').length, 6);
    assert.equal(kinds.filter((k) => k === 'EventRaised').length, 3);
  });

  void it('operations run in arrival order, batched per invocation up to maxEntityOperationBatchSize', async () => {
    const status = await host.waitForEnd(await host.start('signalMany', { key: 'batch', count: 50 }));
    assert.equal(status.runtimeStatus, 'Completed', JSON.stringify(status));
    const state = status.output as { items: number[]; invocations: string[]; maxActive: number };
    assert.deepEqual(
      state.items,
      Array.from({ length: 50 }, (_, i) => i),
    );
    // host.json caps a batch at 20: 50 signals (sent in one episode) take three invocations.
    assert.equal(state.invocations.length, 3);
    assert.equal(state.maxActive, 1);
  });

  void it('runs one operation of an entity at a time under concurrent signals, and keeps their order', async () => {
    await Promise.all(Array.from({ length: 30 }, (_, i) => signal('Recorder', 'concurrent', 'append', i)));
    for (let i = 30; i < 60; i++) await signal('Recorder', 'concurrent', 'append', i);
    await settle();
    const state = (await read('Recorder', 'concurrent')).body as { items: number[]; maxActive: number };
    assert.equal(state.maxActive, 1, 'never two operations of one entity at once');
    assert.deepEqual(
      [...state.items].sort((a, b) => a - b),
      Array.from({ length: 60 }, (_, i) => i),
    );
    // Sequential signals keep their order.
    assert.deepEqual(
      state.items.slice(30),
      Array.from({ length: 30 }, (_, i) => 30 + i),
    );
  });

  void it('an operation that throws reaches the calling orchestration as a catchable error; its state change stays', async () => {
    const status = await host.waitForEnd(await host.start('callFails', 'failing'));
    assert.equal(status.runtimeStatus, 'Completed', JSON.stringify(status));
    // Azure's JS entity serializes the Error as "{}", so the caller sees "[object Object]" (C.2, C.6).
    assert.deepEqual(status.output, { caught: '[object Object]', items: ['before-fail'] });
  });

  void it('entity-to-entity signals reach their target', async () => {
    await signal('Recorder', 'forwarder', 'forward', { counter: 'forwarded', amount: 9 });
    await signal('Recorder', 'forwarder', 'forward', { counter: 'forwarded', amount: 1 });
    await settle();
    assert.equal((await read('Counter', 'forwarded')).body, 10);
  });

  void it('deleting an entity removes its state: reads 404, not listed, and it can start over', async () => {
    await signal('Recorder', 'doomed', 'append', 'x');
    await settle();
    assert.equal((await read('Recorder', 'doomed')).status, 200);
    const res = await host.request('DELETE', `${API}/entities/Recorder/doomed`);
    assert.equal(res.status, 202);
    await settle();
    assert.equal((await read('Recorder', 'doomed')).status, 404);
    const listed = (await host.request('GET', `${API}/entities/recorder`)).body as {
      entityId: { key: string };
    }[];
    assert.ok(!listed.some((e) => e.entityId.key === 'doomed'));
    await signal('Recorder', 'doomed', 'append', 'again');
    await settle();
    assert.deepEqual(((await read('Recorder', 'doomed')).body as { items: string[] }).items, ['again']);
  });

  void it('lock() serializes two orchestrations transferring between the same accounts', async () => {
    await signal('Account', 'a', 'set', 100);
    await signal('Account', 'b', 'set', 0);
    await settle();
    const [t1, t2] = await Promise.all([
      host.start('transfer', { from: 'a', to: 'b', amount: 30 }),
      host.start('transfer', { from: 'a', to: 'b', amount: 20 }),
    ]);
    const [s1, s2] = [await host.waitForEnd(t1), await host.waitForEnd(t2)];
    assert.equal(s1.runtimeStatus, 'Completed', JSON.stringify(s1));
    assert.equal(s2.runtimeStatus, 'Completed', JSON.stringify(s2));
    assert.equal((s1.output as { locked: boolean }).locked, true);
    const before = [s1, s2].map((s) => (s.output as { sourceBefore: number }).sourceBefore).sort();
    // One ran entirely before the other: the second read what the first wrote.
    assert.ok(
      JSON.stringify(before) === '[100,70]' || JSON.stringify(before) === '[100,80]',
      `reads ${JSON.stringify(before)}`,
    );
    await settle();
    assert.equal((await read('Account', 'a')).body, 50);
    assert.equal((await read('Account', 'b')).body, 50);
    // The locks were given back: an ordinary signal runs.
    await signal('Account', 'a', 'set', 1);
    await settle();
    assert.equal((await read('Account', 'a')).body, 1);
  });

  void it('an entity starts an orchestration through its durable client input', async () => {
    await signal('Launcher', 'l1', 'start', { instanceId: 'greet-from-entity', name: 'Ada' });
    const status = await host.waitForEnd('greet-from-entity');
    assert.equal(status.output, 'Hello, Ada');
    await settle();
    assert.deepEqual((await read('Launcher', 'l1')).body, ['greet-from-entity']);
    assert.equal((await read('Counter', 'greeted-Ada')).body, 1);
  });

  void it('lists entities of a name with fetchState, top and a continuation token', async () => {
    for (const key of ['list-1', 'list-2', 'list-3']) await signal('Counter', key, 'add', key.length);
    await settle();
    const seen: { entityId: { name: string; key: string }; state?: unknown; lastOperationTime: string }[] =
      [];
    let token: string | null = null;
    let pages = 0;
    do {
      const res = await host.request(
        'GET',
        `${API}/entities/Counter?fetchState=true&top=2`,
        undefined,
        token ? { 'x-ms-continuation-token': token } : {},
      );
      assert.equal(res.status, 200);
      seen.push(...(res.body as typeof seen));
      token = res.headers.get('x-ms-continuation-token');
      pages++;
    } while (token && pages < 50);
    const listed = seen.filter((e) => e.entityId.key.startsWith('list-'));
    assert.deepEqual(
      listed.map((e) => [e.entityId.name, e.entityId.key, e.state]),
      [
        ['counter', 'list-1', 6],
        ['counter', 'list-2', 6],
        ['counter', 'list-3', 6],
      ],
    );
    assert.match(listed[0]!.lastOperationTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(pages >= 2, 'paged');
    const plain = (await host.request('GET', `${API}/entities/Counter?top=100`)).body as Record<
      string,
      unknown
    >[];
    assert.ok(plain.every((e) => !('state' in e)));
    // Entities are not orchestration instances.
    const instances = (await host.request('GET', `${API}/instances`)).body as { instanceId: string }[];
    assert.ok(instances.every((i) => !i.instanceId.startsWith('@')));
  });

  void it('rejects signals to functions that are not entities', async () => {
    const res = await host.request('POST', `${API}/entities/counterFromOrchestration/k?op=x`);
    assert.equal(res.status, 400);
    assert.match(res.text, /not an entity function/);
  });
});
