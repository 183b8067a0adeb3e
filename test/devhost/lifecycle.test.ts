import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { describe, it } from 'node:test';
import { runDevhostToExit, startDevhost } from '../support/devhost';
import { localAppEnv } from '../support/localApp';
import { fixture, postJson, readEvents, REPO_ROOT, tempDir, waitFor } from './helpers';

// Three at a time: each devhost is a process of its own and the CI machine has two cores.
describe('devhost lifecycle', { concurrency: 3 }, () => {
  it('runs appStart hooks, lets an in-flight request finish on SIGTERM, runs appTerminate hooks and exits 0', async () => {
    const temp = tempDir('lifecycle');
    const events = `${temp.dir}/events.jsonl`;
    try {
      const host = await startDevhost({ appDir: fixture('js-app'), env: { EVENT_LOG: events } });
      assert.equal(readEvents(events)[0]?.event, 'appStart', 'appStart runs before the host is ready');

      const inflight = fetch(`${host.origin}/api/slow?ms=1200`);
      await host.waitForOutput(/slow started/);
      const exited = host.stop();
      const response = await inflight;
      assert.equal(response.status, 200);
      assert.equal(await response.text(), 'done after 1200 ms');
      assert.deepEqual(await exited, { code: 0, signal: null });

      const names = readEvents(events).map((e) => e.event);
      assert.equal(names.at(-1), 'appTerminate');
      assert.deepEqual(
        readEvents(events).find((e) => e.event === 'appTerminate'),
        { event: 'appTerminate', sharedFromStart: 'appStart' },
        'appStart and appTerminate share hookData',
      );
      await assert.rejects(fetch(`${host.origin}/api/hello`), 'the port is closed after exit');
    } finally {
      temp.cleanup();
    }
  });

  it('prints the error and exits non-zero when the app fails to load', async () => {
    const result = await runDevhostToExit({ appDir: fixture('broken-app') });
    assert.notEqual(result.code, 0);
    assert.equal(result.code, 1);
    assert.match(result.output, /Missing configuration: REQUIRED_SETTING is not set/);
    assert.match(result.output, /broken\.js/);
  });

  it('exits non-zero with a clear message for an app that enables HTTP streams', async () => {
    const result = await runDevhostToExit({ appDir: fixture('stream-app') });
    assert.equal(result.code, 1);
    assert.match(result.output, /enableHttpStream/);
  });

  it('runs the TypeScript app: its route prefix, optional constrained parameters, default routes and log levels', async () => {
    const host = await startDevhost({
      appDir: fixture('ts-app'),
      clock: 'manual:2026-01-01T00:00:00Z',
      env: { WEBSITE_TIME_ZONE: 'Asia/Shanghai' },
    });
    try {
      const v1 = (path: string) => `${host.origin}/v1/${path}`;
      assert.deepEqual(await (await fetch(v1('products/books'))).json(), {
        category: 'books',
        id: null,
        sort: null,
      });
      assert.deepEqual(await (await fetch(v1('products/books/7?sort=asc'))).json(), {
        category: 'books',
        id: 7,
        sort: 'asc',
      });
      assert.equal((await fetch(v1('products/books/seven'))).status, 404);
      assert.equal((await fetch(v1('products/42'))).status, 404, '{category:alpha}');
      assert.equal((await fetch(`${host.origin}/api/products/books`)).status, 404, 'routePrefix is v1');
      assert.deepEqual(await (await fetch(v1('whoAmI'), { headers: { 'x-user': 'mei' } })).json(), {
        user: 'mei',
      });
      assert.equal((await fetch(v1('whoami'), { method: 'POST' })).status, 405, 'app.get registers GET only');

      // Schedules: NCRONTAB in WEBSITE_TIME_ZONE, TimeSpan from start.
      const list = (await (await fetch(`${host.origin}/admin/functions`)).json()) as Record<
        string,
        unknown
      >[];
      const nightly = list.find((f) => f.name === 'nightly');
      assert.equal(nightly?.nextRun, '2026-01-01T18:00:00.000Z', '02:00 in Shanghai is 18:00 UTC');
      assert.equal(nightly?.timeZone, 'Asia/Shanghai');
      assert.equal(list.find((f) => f.name === 'everyFiveMinutes')?.nextRun, '2026-01-01T00:05:00.000Z');
      assert.equal(
        (await postJson(`${host.origin}/admin/clock`, { to: '2026-01-01T00:05:00Z' })).status,
        200,
      );
      await host.waitForOutput(/five-minute run, past due: false/);

      // host.json: default Warning, Function Information.
      await host.waitForOutput(/Executed 'Functions\.whoAmI' \(Succeeded/);
      assert.doesNotMatch(
        host.output(),
        /Host\.Clock: Manual clock moved/,
        'Host.* information is below Warning',
      );
    } finally {
      await host.stop();
    }
  });

  it("serves this project's own app the way npm start does, on /api/health", async () => {
    const pkg = JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as {
      scripts: Record<string, string>;
    };
    // npm runs prestart (build, first-run seeding) and then start: the app is built once, then hosted.
    assert.match(pkg.scripts.prestart ?? '', /^npm run build && /);
    assert.equal(pkg.scripts.start, 'node dist/scripts/start.js'); // devhost start ., then the banner
    // What a fresh clone's local.settings.json says (UseDevelopmentStorage=true), in a scratch data dir.
    const scratch = tempDir('health');
    const host = await startDevhost({
      appDir: REPO_ROOT,
      env: await localAppEnv(scratch.dir),
      readyTimeoutMs: 60_000, // the whole app loads: as slow as the e2e harnesses under load
    });
    try {
      await host.waitForOutput(/health: \[GET\] http:\/\/\S+\/api\/health/);
      const response = await fetch(`${host.origin}/api/health`);
      const body = (await response.json()) as { status: string; service: string; checks: { name: string }[] };
      assert.equal(response.status, 200, JSON.stringify(body));
      assert.equal(body.status, 'ok');
      assert.equal(body.service, 'region-sync');
      assert.ok(body.checks.some((c) => c.name === 'staging storage'));
    } finally {
      assert.equal((await host.stop()).code, 0);
      scratch.cleanup();
    }
  });

  it('keeps admin routes loopback-only unless --expose-admin is given', async (t) => {
    // A caller on this machine's own non-loopback address is not loopback to the server.
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (!external) {
      t.skip('no non-loopback IPv4 interface on this machine');
      return;
    }
    for (const expose of [false, true]) {
      const host = await startDevhost({
        appDir: fixture('js-app'),
        args: ['--host', '0.0.0.0', ...(expose ? ['--expose-admin'] : [])],
      });
      try {
        const port = new URL(host.origin).port;
        assert.equal(
          (await fetch(`http://${external}:${port}/api/hello`)).status,
          200,
          'functions answer everyone',
        );
        const admin = await fetch(`http://${external}:${port}/admin/functions`);
        assert.equal(admin.status, expose ? 200 : 403, `admin from ${external}, exposed: ${expose}`);
        assert.equal(
          (await fetch(`http://127.0.0.1:${port}/admin/functions`)).status,
          200,
          'loopback always',
        );
      } finally {
        await host.stop();
      }
    }
  });

  it('waits for an admin-invoked timer run that is in flight when stopping', async () => {
    const temp = tempDir('drain');
    const events = `${temp.dir}/events.jsonl`;
    try {
      const host = await startDevhost({
        appDir: fixture('js-app'),
        env: { EVENT_LOG: events, TICK_DELAY_MS: '800' },
      });
      assert.equal((await postJson(`${host.origin}/admin/functions/tick`, {})).status, 202);
      await waitFor(() => readEvents(events).find((e) => e.event === 'tick'), 'the tick to start');
      assert.equal((await host.stop()).code, 0);
      await host.waitForOutput(/Executed 'Functions\.tick' \(Succeeded/, 100);
    } finally {
      temp.cleanup();
    }
  });
});
