import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { startDevhost } from '../../support/devhost';
import { FIXTURES } from './harness';

const API = '/runtime/webhooks/durabletask';

void describe('durable crash recovery (child-process devhost, file-backed hub)', () => {
  void it('a SIGKILLed devhost resumes a 200-activity orchestration; only the activity in flight runs twice', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'durable-crash-'));
    const file = path.join(dir, 'steps.log');
    const lines = () =>
      existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
    try {
      const appDir = path.join(FIXTURES, 'durable-crash');
      const first = await startDevhost({ appDir, dataDir: path.join(dir, 'data') });
      const started = await fetch(`${first.origin}${API}/orchestrators/crashChain/crash-1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ file, steps: 200 }),
      });
      assert.equal(started.status, 202);
      for (let i = 0; i < 3000 && lines().length < 60; i++) await sleep(5);
      await first.kill();
      const beforeRestart = lines();
      assert.ok(
        beforeRestart.length >= 60 && beforeRestart.length < 200,
        `killed mid-way (${beforeRestart.length} steps)`,
      );

      const second = await startDevhost({ appDir, dataDir: path.join(dir, 'data') });
      try {
        let status: { runtimeStatus: string; output: unknown } | undefined;
        for (let i = 0; i < 6000; i++) {
          const res = await fetch(`${second.origin}${API}/instances/crash-1`);
          status = (await res.json()) as { runtimeStatus: string; output: unknown };
          if (res.status === 200) break;
          await sleep(10);
        }
        assert.equal(status?.runtimeStatus, 'Completed');
        assert.equal(status?.output, (199 * 200) / 2);
      } finally {
        await second.stop();
      }

      const runs = lines().map((line) => {
        const [pid, step] = line.split(' ').map(Number);
        return { pid: pid!, step: step! };
      });
      const firstPid = runs[0]!.pid;
      const byFirst = runs.filter((r) => r.pid === firstPid).map((r) => r.step);
      const bySecond = runs.filter((r) => r.pid !== firstPid).map((r) => r.step);
      // Each process ran an unbroken run of steps; every step ran.
      assert.deepEqual(
        byFirst,
        byFirst.map((_, i) => i),
      );
      const resumeAt = bySecond[0]!;
      assert.deepEqual(
        bySecond,
        bySecond.map((_, i) => resumeAt + i),
      );
      assert.equal(bySecond[bySecond.length - 1], 199);
      const lastBeforeKill = byFirst[byFirst.length - 1]!;
      // The second devhost starts at the step after the last one the first finished, or re-runs that
      // very step when the kill came after its work but before its completion was committed.
      assert.ok(
        resumeAt === lastBeforeKill + 1 || resumeAt === lastBeforeKill,
        `resumed at ${resumeAt} after ${lastBeforeKill}`,
      );
      const counts = new Map<number, number>();
      for (const r of runs) counts.set(r.step, (counts.get(r.step) ?? 0) + 1);
      const twice = [...counts].filter(([, n]) => n > 1).map(([step]) => step);
      assert.ok(
        twice.length <= 1 && twice.every((step) => step === lastBeforeKill),
        `ran twice: ${twice.join(', ')}`,
      );
      assert.equal(counts.size, 200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
