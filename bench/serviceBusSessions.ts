/**
 * Order events at a steady rate through a session-enabled queue (session = order, as in order
 * sync) into a Service Bus trigger, on devhost with the file-backed embedded broker. Prints the
 * delivered rate and the enqueue-to-handler latency (p50/p99/max). Goal: p99 < 250 ms at 100 msg/s.
 *
 * Same-run baseline: the same handler, at the same rate on the same host, invoked directly through
 * devhost's FunctionInvoker with the trigger data and metadata the listener would build (no broker,
 * one order at a time as a session would). Printed as broker path / baseline ratios of p50, p99
 * and throughput. The baseline runs first, then the broker path.
 *
 * The handler is swappable: `--handler work` (default) parses the event and hashes it a little,
 * standing in for validation; add a variant to HANDLERS in bench/fixtures/sessionLoad.ts and pick
 * it with `--handler <name>`. The entity variant (the trigger signals the order's durable entity)
 * is bench/serviceBusEntities.ts.
 *
 * Usage: node dist/bench/serviceBusSessions.js [--rate 100] [--seconds 20] [--orders 200] [--handler work]
 */
import { parseArgs } from 'node:util';
import { ratio } from './fixtures/benchStats';
import { runPlainPath, startSessionHost } from './fixtures/sessionLoad';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '100' },
      seconds: { type: 'string', default: '20' },
      orders: { type: 'string', default: '200' },
      handler: { type: 'string', default: 'work' },
    },
  });
  const load = { rate: Number(values.rate), seconds: Number(values.seconds), orders: Number(values.orders) };

  const sessionHost = await startSessionHost();
  const [baseline, result] = await (async () => {
    try {
      const direct = await runPlainPath(sessionHost, 'invoker', load, values.handler);
      return [direct, await runPlainPath(sessionHost, 'broker', load, values.handler)] as const;
    } finally {
      await sessionHost.stop();
    }
  })();

  console.log(`serviceBusSessions: ${JSON.stringify(result)}`);
  console.log(`serviceBusSessions baseline (direct FunctionInvoker): ${JSON.stringify(baseline)}`);
  console.log(
    `  ${result.delivered}/${result.sent} delivered at ${result.deliveredPerSecond} msg/s (target ${load.rate}); ` +
      `enqueue->handler p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms (goal < 250 ms)`,
  );
  console.log(
    `  baseline, same handler and rate through the FunctionInvoker (no broker): ${baseline.delivered}/${baseline.sent} at ` +
      `${baseline.deliveredPerSecond} msg/s; send->handler p50 ${baseline.latencyMs.p50} ms, p99 ${baseline.latencyMs.p99} ms`,
  );
  console.log(
    `  ratio broker / baseline: latency p50 ${ratio(result.latencyMs.p50, baseline.latencyMs.p50, 0.1)}, ` +
      `p99 ${ratio(result.latencyMs.p99, baseline.latencyMs.p99, 0.1)}; ` +
      `throughput ${ratio(result.deliveredPerSecond, baseline.deliveredPerSecond)}; ` +
      `CPU per message ${ratio(result.cpuSecondsPerThousand, baseline.cpuSecondsPerThousand, 0.01)}`,
  );
  if (result.lost > 0 || result.outOfOrder > 0 || baseline.lost > 0 || baseline.outOfOrder > 0)
    process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
