import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startDevhost, type Devhost } from '../support/devhost';
import { fixture, postJson, tempDir } from './helpers';

describe('devhost serving the JavaScript fixture app over HTTP', () => {
  let host: Devhost;
  const temp = tempDir('http');
  const api = (path: string) => `${host.origin}/api/${path}`;

  before(async () => {
    host = await startDevhost({ appDir: fixture('js-app'), env: { EVENT_LOG: `${temp.dir}/events.jsonl` } });
  });
  after(async () => {
    await host.stop();
    temp.cleanup();
  });

  it('routes to the function, fills optional parameters and reads app settings', async () => {
    const plain = await fetch(api('hello'));
    assert.equal(plain.status, 200);
    assert.equal(await plain.text(), 'Hello, world!', 'GREETING comes from local.settings.json');
    assert.equal(await (await fetch(api('hello/Ann'))).text(), 'Hello, Ann!');
    assert.equal(
      await (await fetch(api('HELLO?name=Query'))).text(),
      'Hello, Query!',
      'literals ignore case',
    );
  });

  it('chooses between routes by their constraints and 404s when none fits', async () => {
    assert.deepEqual(await (await fetch(api('items/42'))).json(), { matched: 'itemById', id: '42' });
    assert.deepEqual(await (await fetch(api('items/abc'))).json(), { matched: 'itemByName', name: 'abc' });
    assert.equal((await fetch(api('items/4x'))).status, 404);
  });

  it('captures catch-all parameters', async () => {
    assert.deepEqual(await (await fetch(api('files/reports/2026/q1.csv'))).json(), {
      path: 'reports/2026/q1.csv',
    });
    assert.deepEqual(await (await fetch(api('files'))).json(), { path: null });
  });

  it('hands query, headers, method and the absolute URL to the function', async () => {
    const response = await fetch(api('inspect/orders?region=eu&page=2'), {
      method: 'DELETE',
      headers: { 'X-Tag': 'blue' },
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(body.method, 'DELETE');
    assert.equal(body.section, 'orders');
    assert.deepEqual(body.query, { region: 'eu', page: '2' });
    assert.equal(body.tag, 'blue');
    assert.match(String(body.url), /^http:\/\/[^/]+\/api\/inspect\/orders\?region=eu&page=2$/);
  });

  it('passes JSON bodies and returns the status the function chose', async () => {
    const response = await postJson(api('items'), { sku: 'A-1', qty: 3 });
    assert.equal(response.status, 201);
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(await response.json(), { created: { sku: 'A-1', qty: 3 }, method: 'POST' });
    const put = await fetch(api('items'), { method: 'PUT', body: '{"sku":"B"}' });
    assert.deepEqual(await put.json(), { created: { sku: 'B' }, method: 'PUT' });
  });

  it('passes text bodies', async () => {
    const response = await fetch(api('echo/text'), {
      method: 'POST',
      body: 'grüße aus europa',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'GRÜSSE AUS EUROPA');
  });

  it('passes binary bodies both ways byte for byte', async () => {
    const bytes = Buffer.from([0, 255, 1, 254, 0x80, 0x7f, 0, 10, 13]);
    const response = await fetch(api('echo/binary'), {
      method: 'POST',
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-sha256'), createHash('sha256').update(bytes).digest('hex'));
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), Buffer.from(bytes).reverse());
  });

  it('writes status, headers and cookies from the function response', async () => {
    const response = await fetch(api('cookies'));
    assert.equal(response.status, 202);
    assert.equal(response.headers.get('x-powered-by'), 'fixture');
    assert.equal(await response.text(), 'cookies set');
    assert.deepEqual(response.headers.getSetCookie(), [
      'session=abc123; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict',
      'theme=dark; Secure',
    ]);
  });

  it('answers 404 for unknown routes and 405 with Allow for a wrong method', async () => {
    assert.equal((await fetch(api('no/such/route'))).status, 404);
    assert.equal((await fetch(`${host.origin}/hello`)).status, 404, 'functions live under the route prefix');
    const wrong = await fetch(api('items/42'), { method: 'POST' });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'GET');
  });

  it('answers 500 when a handler throws, logs the invocation id, and keeps serving', async () => {
    const response = await fetch(api('boom'));
    assert.equal(response.status, 500);
    const line = await host.waitForOutput(/Executed 'Functions\.boom' \(Failed/);
    assert.match(line, /Id=[0-9a-f-]{36}.*kaboom: the handler failed on purpose/);
    assert.equal((await fetch(api('hello'))).status, 200);
  });

  it('logs one line per invocation with its id, duration and outcome', async () => {
    await fetch(api('hello/logged'));
    await host.waitForOutput(/Executed 'Functions\.hello' \(Succeeded, Id=[0-9a-f-]{36}, Duration=\d+ms\)/);
  });

  it('enforces host.json functionTimeout and keeps serving', async () => {
    const started = Date.now();
    const response = await fetch(api('slow?ms=20000'));
    const elapsed = Date.now() - started;
    assert.equal(response.status, 500);
    assert.ok(elapsed >= 2900 && elapsed < 10_000, `timed out after ${elapsed} ms, functionTimeout is 3 s`);
    await host.waitForOutput(/Timeout value of 00:00:03 exceeded by function 'Functions\.slow'/);
    assert.equal((await fetch(api('hello'))).status, 200);
  });

  it('disables a function with an unsupported binding, warns, and says why when invoked', async () => {
    await host.waitForOutput(/Function "cosmosWatcher" is disabled: .*"cosmosDBTrigger"/);
    const invoke = await postJson(`${host.origin}/admin/functions/cosmosWatcher`, { input: [] });
    assert.equal(invoke.status, 409);
    assert.match(((await invoke.json()) as { error: string }).error, /cosmosDBTrigger/);
  });

  it('answers 503 with the reason on the route of a disabled HTTP function', async () => {
    const response = await fetch(api('orders/17'));
    assert.equal(response.status, 503);
    assert.match(await response.text(), /Function "orderDocument" is disabled: .*"cosmosDB" \(in\)/);
  });

  it('disables a function whose %Setting% is not defined', async () => {
    await host.waitForOutput(/Function "orphanTimer" is disabled: .*%SETTING_NOBODY_DEFINED%/);
    const invoke = await postJson(`${host.origin}/admin/functions/orphanTimer`, { input: null });
    assert.equal(invoke.status, 409);
  });

  it('lists functions with trigger type and settings on GET /admin/functions', async () => {
    const list = (await (await fetch(`${host.origin}/admin/functions`)).json()) as Record<string, unknown>[];
    const byName = new Map(list.map((f) => [f.name, f]));
    assert.deepEqual(byName.get('hello'), {
      ...byName.get('hello'),
      trigger: 'httpTrigger',
      isDisabled: false,
      methods: ['GET'],
      url: `${host.origin}/api/hello/{name?}`,
    });
    assert.equal(byName.get('tick')?.trigger, 'timerTrigger');
    assert.equal(byName.get('tick')?.schedule, '*/10 * * * * *', '%TICK_SCHEDULE% resolved');
    assert.equal(byName.get('cosmosWatcher')?.isDisabled, true);
    assert.equal((await fetch(`${host.origin}/admin/functions/nope`)).status, 404);
  });

  it('refuses to admin-invoke an HTTP function', async () => {
    const response = await postJson(`${host.origin}/admin/functions/hello`, { input: '' });
    assert.equal(response.status, 400);
  });
});
