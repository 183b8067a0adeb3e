/**
 * The Service Bus extension inside a real `devhost start` child process: the admin HTTP API, the
 * `devhost sb ...` CLI over it, and a SIGKILL in the middle of session processing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import type { Devhost } from '../../support/devhost';
import { CLI_PATH, startDevhost } from '../../support/devhost';
import type { InvocationRecord } from './harness';
import { SERVICEBUS_APP, delay, eventually, ids } from './harness';

const run = promisify(execFile);
const scratch = mkdtempSync(path.join(tmpdir(), 'devhost-sb-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function readLog(file: string): InvocationRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as InvocationRecord);
}

async function sb(
  host: Devhost,
  ...args: string[]
): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI_PATH, 'sb', ...args, '--url', host.origin]);
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

async function admin(
  host: Devhost,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${host.origin}/admin/servicebus${route}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: await response.json() };
}

void describe('Service Bus in a devhost child process', () => {
  void it('serves the admin API and the sb CLI: send, peek, dlq, resubmit, purge, depth', async () => {
    const log = path.join(scratch, 'admin.jsonl');
    const host = await startDevhost({ appDir: SERVICEBUS_APP, env: { SB_FIXTURE_LOG: log } });
    try {
      // A batch over HTTP with properties; one poison message.
      const sent = await admin(host, 'POST', '/entities/plain/messages', {
        messages: [
          {
            body: { id: 'h1' },
            messageId: 'h-1',
            applicationProperties: { region: 'eu' },
            contentType: 'application/json',
          },
          { body: { id: 'bad', fail: true }, messageId: 'h-bad' },
        ],
      });
      assert.equal(sent.status, 201);
      assert.deepEqual(sent.json, { entity: 'plain', accepted: 2, duplicates: 0 });
      await eventually(
        () => (readLog(log).filter((r) => ids([r])[0] === 'bad').length === 3 ? true : undefined),
        'three poison deliveries',
      );

      const dead = await sb(host, 'dlq', 'plain');
      assert.equal(dead.code, 0, dead.stderr);
      const deadMessages = JSON.parse(dead.stdout) as {
        messageId: string;
        deadLetterReason: string;
        body: string;
      }[];
      assert.deepEqual(
        deadMessages.map((m) => [m.messageId, m.deadLetterReason, m.body]),
        [['h-bad', 'MaxDeliveryCountExceeded', '{"id":"bad","fail":true}']],
      );
      assert.deepEqual(
        readLog(log).find((r) => ids([r])[0] === 'h1')?.triggerMetadata.applicationProperties,
        { region: 'eu' },
      );

      // Resubmitted, it fails three more times and is back in the DLQ; purged, it is gone.
      const resubmit = await sb(host, 'resubmit', 'plain');
      assert.match(resubmit.stdout, /resubmitted 1 from plain/);
      await eventually(
        () => (readLog(log).filter((r) => ids([r])[0] === 'bad').length === 6 ? true : undefined),
        'three more deliveries',
      );
      for (let i = 0; i < 100; i++) {
        const { json } = await admin(host, 'GET', '/entities');
        const plain = (json as { entities: { path: string; deadLettered: number }[] }).entities.find(
          (e) => e.path === 'plain',
        );
        if (plain?.deadLettered === 1) break;
        await delay(50);
      }
      const depthRow = async () => {
        const depth = await sb(host, 'depth');
        return depth.stdout
          .split('\n')
          .find((l) => l.startsWith('plain '))
          ?.split(/\s+/);
      };
      assert.deepEqual(await depthRow(), ['plain', 'no', '0', '0', '0', '1']);
      const purge = await sb(host, 'purge', 'plain');
      assert.match(purge.stdout, /purged 1 from plain/);
      const after = (await admin(host, 'GET', '/entities')).json as {
        entities: { path: string; deadLettered: number }[];
      };
      assert.equal(after.entities.find((e) => e.path === 'plain')?.deadLettered, 0);

      // CLI send: to a topic (both subscriptions), scheduled with a TTL (peek shows it waiting), errors.
      const topic = await sb(host, 'send', 'events', '{"id":"t1"}', '--subject', 'price', '--prop', 'n=1');
      assert.match(topic.stdout, /sent 1 to events/);
      await eventually(() => {
        const fns = readLog(log)
          .filter((r) => ids([r])[0] === 't1')
          .map((r) => r.fn)
          .sort();
        return fns.length === 2 ? fns : undefined;
      }, 'both subscriptions').then((fns) =>
        assert.deepEqual(fns, ['auditSubscription', 'billingSubscription']),
      );
      const scheduled = await sb(
        host,
        'send',
        'relayed',
        'later',
        '--message-id',
        'sch-1',
        '--schedule',
        '+60s',
        '--ttl',
        '00:10:00',
      );
      assert.equal(scheduled.code, 0, scheduled.stderr);
      const peek = JSON.parse((await sb(host, 'peek', 'relayed')).stdout) as {
        messageId: string;
        state: string;
      }[];
      assert.deepEqual(
        peek.map((m) => [m.messageId, m.state]),
        [['sch-1', 'scheduled']],
      );
      const dup = await admin(host, 'POST', '/entities/relayed/messages', {
        body: 'again',
        messageId: 'sch-1',
      });
      assert.deepEqual(dup.json, { entity: 'relayed', accepted: 0, duplicates: 1 });
      const missing = await sb(host, 'send', 'no-such-queue', 'x');
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /404 MessagingEntityNotFound/);
      const noSession = await admin(host, 'POST', '/entities/orders/messages', { body: 'x' });
      assert.equal(noSession.status, 400);
      assert.equal((noSession.json as { error: { code: string } }).error.code, 'InvalidOperation');
    } finally {
      await host.stop();
    }
  });

  void it('loses nothing across a SIGKILL: locked messages come back, per-session order holds', async () => {
    const dataDir = path.join(scratch, 'kill-data');
    const log = path.join(scratch, 'kill.jsonl');
    const sessions = ['sea:1', 'eu:2', 'latam:3'];
    const perSession = 6;
    const env = { SB_FIXTURE_LOG: log };
    let host = await startDevhost({ appDir: SERVICEBUS_APP, dataDir, env });
    try {
      const messages = [];
      for (let v = 1; v <= perSession; v++) {
        for (const s of sessions)
          messages.push({ body: { id: `${s}#${v}`, sleepMs: 150 }, sessionId: s, messageId: `${s}:${v}` });
      }
      // Plus a scheduled message that falls due while devhost is down.
      messages.push({
        body: { id: 'sea:1#late' },
        sessionId: 'late',
        messageId: 'late',
        scheduledEnqueueTimeUtc: Date.now() + 1_500,
      });
      assert.equal((await admin(host, 'POST', '/entities/orders/messages', messages)).status, 201);
      await eventually(() => (readLog(log).length >= 4 ? true : undefined), 'some progress before the kill');
      await host.kill();
      const before = readLog(log).length;
      assert.ok(before < sessions.length * perSession, 'killed mid-way');
      await delay(1_500);

      host = await startDevhost({ appDir: SERVICEBUS_APP, dataDir, env });
      const all = sessions.length * perSession + 1;
      await eventually(
        () => (new Set(ids(readLog(log))).size === all ? true : undefined),
        'every message handled',
        15_000,
      );
      let depth: { active: number; locked: number; deadLettered: number; scheduled: number } | undefined;
      for (let i = 0; i < 100; i++) {
        const entities = (await admin(host, 'GET', '/entities')).json as {
          entities: (typeof depth & { path: string })[];
        };
        depth = entities.entities.find((e) => e.path === 'orders');
        if (depth && depth.active + depth.locked === 0) break;
        await delay(50);
      }
      assert.deepEqual(
        {
          active: depth!.active,
          locked: depth!.locked,
          dead: depth!.deadLettered,
          scheduled: depth!.scheduled,
        },
        { active: 0, locked: 0, dead: 0, scheduled: 0 },
      );
      const records = readLog(log);
      for (const s of sessions) {
        const versions = ids(records.filter((r) => r.triggerMetadata.sessionId === s)).map((id) =>
          Number(id.split('#')[1]),
        );
        // At-least-once: the message in flight at the kill is seen again first, then the rest in order.
        const deduped = versions.filter((v, i) => i === 0 || v !== versions[i - 1]);
        assert.deepEqual(deduped, [1, 2, 3, 4, 5, 6], `order of ${s}: ${versions.join(',')}`);
      }
      const redelivered = records.filter((r) => Number(r.triggerMetadata.deliveryCount) > 1);
      assert.ok(redelivered.length >= 1, 'the messages locked at the kill were delivered again');
    } finally {
      await host.stop();
    }
  });
});
