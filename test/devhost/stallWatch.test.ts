/**
 * devhost says when its thread could not run: a timer that fires late by more than the threshold
 * is reported with the thread's and the process's CPU meanwhile, which tells a long synchronous
 * piece of code, a blocking call and a machine that did not schedule the process apart.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Host } from '../../devhost/host';
import type { Stall } from '../../devhost/stallWatch';
import { describeStall, stallCause, watchStalls } from '../../devhost/stallWatch';
import { fixture, tempDir } from './helpers';

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // hold the thread, as a long synchronous call would
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('devhost stall watch', () => {
  it('tells the causes apart by the CPU used during the gap', () => {
    assert.equal(stallCause(2000, 1900, 2500), 'busy');
    assert.equal(stallCause(2000, 10, 1500), 'blocked', 'other threads ran, this one waited');
    assert.equal(stallCause(3000, 0, 20), 'not-scheduled', 'nothing in the process ran');
    assert.equal(stallCause(2000, null, 1500), 'unknown');
  });

  it('reports a gap over the threshold once, and nothing while the thread is free', async () => {
    const stalls: Stall[] = [];
    const stop = watchStalls((s) => stalls.push(s), { intervalMs: 20, thresholdMs: 250 });
    try {
      await sleep(150);
      assert.equal(stalls.length, 0, 'no report while the thread runs its timers');
      spin(600);
      await sleep(100);
      assert.equal(stalls.length, 1, JSON.stringify(stalls));
      const s = stalls[0] as Stall;
      assert.ok(s.ms >= 450 && s.ms < 3000, `gap ${s.ms} ms`);
      assert.ok(s.processCpuMs >= 0);
      if (process.platform === 'linux') assert.notEqual(s.threadCpuMs, null);
    } finally {
      stop();
    }
    const before = stalls.length;
    spin(300);
    await sleep(60);
    assert.equal(stalls.length, before, 'stopped: no more reports');
  });

  it('the log line says how long, the CPU figures and the cause', () => {
    const line = describeStall({ ms: 3065.4, threadCpuMs: 20, processCpuMs: 1800, cause: 'blocked' });
    assert.match(line, /did not run for 3065 ms \(thread CPU 20 ms, process CPU 1800 ms\)/);
    assert.match(line, /waited in a blocking call/);
  });

  it('a running host logs a held thread as a Host.Health warning', async () => {
    const data = tempDir('stall-host-');
    const lines: string[] = [];
    const host = await Host.start({
      appDir: fixture('js-app'),
      port: 0,
      dataDir: data.dir,
      logSink: { write: (line) => void lines.push(line) },
      shutdownTimeoutMs: 1000,
    });
    try {
      spin(1400);
      await sleep(400);
      const health = lines.filter((l) => l.includes('Host.Health'));
      assert.ok(health.length >= 1, lines.slice(-5).join('\n'));
      assert.match(health[0] as string, /The host thread did not run for \d+ ms/);
    } finally {
      await host.stop();
      data.cleanup();
    }
  });
});
