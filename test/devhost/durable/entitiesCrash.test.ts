import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { startDevhost, type Devhost } from '../../support/devhost';
import { FIXTURES } from './harness';

const API = '/runtime/webhooks/durabletask';

void describe('durable entities across a crash (child-process devhost, file-backed hub)', () => {
  void it('a SIGKILLed devhost keeps the queued signals: every operation applies exactly once, in order', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'entity-crash-'));
    const log = path.join(dir, 'ledger.log');
    const runs = () =>
      (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : []).map((line) => {
        const [pid, entry] = line.split(' ').map(Number);
        return { pid: pid!, entry: entry! };
      });
    const options = {
      appDir: path.join(FIXTURES, 'durable-entities-crash'),
      dataDir: path.join(dir, 'data'),
      env: { LEDGER_LOG: log },
    };
    const send = async (host: Devhost, entry: number) => {
      const res = await fetch(`${host.origin}${API}/entities/Ledger/one?op=append`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(entry),
      });
      assert.equal(res.status, 202);
    };
    try {
      const first = await startDevhost({ ...options, env: { ...options.env, LEDGER_DELAY_MS: '15' } });
      // Each signal is acknowledged (committed) before the next is sent; the entity is slower
      // than the sender, so a backlog is queued when the process dies.
      for (let entry = 0; entry < 200; entry++) await send(first, entry);
      for (let i = 0; i < 1000 && runs().length === 0; i++) await sleep(5);
      await first.kill();
      const beforeKill = runs();
      assert.ok(
        beforeKill.length > 0 && beforeKill.length < 200,
        `killed mid-stream (${beforeKill.length} of 200 applied)`,
      );

      const second = await startDevhost({ ...options, env: { ...options.env, LEDGER_DELAY_MS: '1' } });
      let state: unknown;
      try {
        for (let entry = 200; entry < 250; entry++) await send(second, entry);
        for (let i = 0; i < 3000; i++) {
          const res = await fetch(`${second.origin}${API}/entities/Ledger/one`);
          state = res.status === 200 ? await res.json() : undefined;
          if (Array.isArray(state) && state.length >= 250) break;
          await sleep(10);
        }
      } finally {
        await second.stop();
      }
      assert.deepEqual(
        state,
        Array.from({ length: 250 }, (_, i) => i),
      );

      const all = runs();
      const firstPid = all[0]!.pid;
      const bySecond = all.filter((r) => r.pid !== firstPid).map((r) => r.entry);
      // The second devhost picked up where the committed state ended: it ran the rest in order,
      // re-running at most the batch that was in flight (never committed) when the first died.
      assert.deepEqual(
        bySecond,
        bySecond.map((_, i) => bySecond[0]! + i),
      );
      assert.equal(bySecond[bySecond.length - 1], 249);
      assert.ok(bySecond[0]! <= beforeKill.length, `resumed at ${bySecond[0]} after ${beforeKill.length}`);
      assert.ok(beforeKill.length - bySecond[0]! <= 25, 'at most one batch (25 operations) ran again');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
