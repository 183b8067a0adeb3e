/**
 * Durable backend throughput on the file-backed task hub: fan-out/fan-in of 1,000 no-op
 * activities, and chains of 1,000 and 2,000 sequential activities. Linear replay keeps the
 * 2,000/1,000 chain time ratio near 2 (quadratic replay would give about 4).
 *
 * Same-run baseline for the fan-out: the same 1,000 no-op activity invocations (same inputs, all
 * started at once) called directly through the host's FunctionInvoker, with no task hub or
 * orchestrator; printed as work items/s of each and the fan-out / baseline ratio.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SystemClock } from '../devhost/clock';
import { DurableExtension } from '../devhost/durable/durableExtension';
import { isTerminal } from '../devhost/durable/protocol';
import { Host } from '../devhost/host';
import { ratio } from './fixtures/benchStats';

const APP = path.resolve(__dirname, '../../test/fixtures/durable-bench');

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'durable-bench-'));
  const extension = new DurableExtension();
  const host = await Host.start({
    appDir: APP,
    port: 0,
    clock: new SystemClock(),
    dataDir,
    extensions: [extension],
    logSink: { write: () => undefined },
  });
  const engine = extension.engine;
  // Time spent inside the app's functions, by kind. An orchestrator invocation is the library's
  // replay: it parses the whole history and re-runs the generator, so its cost per episode grows
  // with the history on Azure too; what is left is devhost's own share.
  const inFunctions = { orchestrator: 0, activity: 0 };
  const invoke = host.invoker.invoke.bind(host.invoker);
  host.invoker.invoke = async (request) => {
    const outcome = await invoke(request);
    inFunctions[request.raw ? 'orchestrator' : 'activity'] += outcome.durationMs;
    return outcome;
  };
  /** Wall time and this process's CPU time (the machine may be shared; CPU time is steadier). */
  const run = async (
    name: string,
    n: number,
  ): Promise<{ wall: number; cpu: number; replay: number; host: number }> => {
    inFunctions.orchestrator = 0;
    inFunctions.activity = 0;
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    const id = engine.startOrchestration(name, undefined, n);
    const row = await engine.waitForEnd(id, 600_000);
    const elapsed = performance.now() - started;
    if (!row || !isTerminal(row.status) || row.status !== 'Completed') {
      throw new Error(`${name}(${n}) ended ${row?.status ?? 'unknown'}: ${row?.output ?? ''}`);
    }
    const cpu = process.cpuUsage(cpu0);
    const replay = inFunctions.orchestrator;
    return {
      wall: elapsed,
      cpu: (cpu.user + cpu.system) / 1000,
      replay,
      host: elapsed - replay - inFunctions.activity,
    };
  };
  /** The fan-out's activity work without the durable machinery: n invocations of noop at once. */
  const direct = async (n: number): Promise<{ wall: number; cpu: number }> => {
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    const outcomes = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        host.invoker.invoke({ functionName: 'noop', triggerData: { json: JSON.stringify(i) } }),
      ),
    );
    const elapsed = performance.now() - started;
    const failed = outcomes.find((o) => o.error !== undefined);
    if (failed) throw new Error(`noop invoked directly failed: ${failed.error?.message ?? ''}`);
    const cpu = process.cpuUsage(cpu0);
    return { wall: elapsed, cpu: (cpu.user + cpu.system) / 1000 };
  };
  try {
    await run('chain', 50); // warm-up: JIT, SQLite page cache
    await direct(50);
    const baseline = await direct(1000);
    const fan = await run('fanOut', 1000);
    const chain1 = await run('chain', 1000);
    const chain2 = await run('chain', 2000);
    const line = (label: string, items: number, t: { wall: number; cpu: number }) =>
      console.log(
        `${label}: ${(t.wall / 1000).toFixed(2)} s wall, ${(t.cpu / 1000).toFixed(2)} s CPU ` +
          `(${Math.round((items / t.wall) * 1000)} work items/s)`,
      );
    line('durable fan-out/fan-in 1,000 no-op activities (goal < 5 s)', 1000, fan);
    line(
      'baseline: the same 1,000 no-op activities invoked directly (FunctionInvoker, no hub)',
      1000,
      baseline,
    );
    const fanRate = (1000 / fan.wall) * 1000;
    const baseRate = (1000 / baseline.wall) * 1000;
    console.log(
      `durable fan-out vs direct baseline: ${Math.round(fanRate)} vs ${Math.round(baseRate)} work items/s, ` +
        `throughput ratio fan-out / baseline ${ratio(fanRate, baseRate)} (the fan-out takes ${ratio(fan.wall, baseline.wall)} ` +
        `the baseline's wall time, ${ratio(fan.cpu, baseline.cpu)} its CPU time)`,
    );
    line('durable chain of 1,000 sequential activities', 1000, chain1);
    line('durable chain of 2,000 sequential activities', 2000, chain2);
    console.log(
      `durable chain ratio 2,000 / 1,000: ${(chain2.wall / chain1.wall).toFixed(2)} wall, ` +
        `${(chain2.cpu / chain1.cpu).toFixed(2)} CPU (linear ≈ 2, quadratic ≈ 4; goal < 2.5)`,
    );
    console.log(
      `  of which the library's replay (orchestrator invocations): ${(chain1.replay / 1000).toFixed(2)} s and ` +
        `${(chain2.replay / 1000).toFixed(2)} s, ratio ${(chain2.replay / chain1.replay).toFixed(2)}; ` +
        `devhost's own time: ${(chain1.host / 1000).toFixed(2)} s and ${(chain2.host / 1000).toFixed(2)} s, ` +
        `ratio ${(chain2.host / chain1.host).toFixed(2)}`,
    );
  } finally {
    await host.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
