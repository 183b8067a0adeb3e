/**
 * Order events at a steady rate through a session-enabled queue (session = order, as in order
 * sync) into a Service Bus trigger, on devhost with the file-backed embedded broker. Prints the
 * delivered rate and the enqueue-to-handler latency (p50/p99/max).
 *
 * The handler is swappable: `--handler work` (default) parses the event and hashes it a little,
 * standing in for validation; add a variant to HANDLERS and pick it with `--handler <name>`. The
 * entity variant (the trigger signals the order's durable entity) is bench/serviceBusEntities.ts.
 *
 * Usage: node dist/bench/serviceBusSessions.js [--rate 100] [--seconds 20] [--orders 200] [--handler work]
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SystemClock } from '../devhost/clock';
import { Host } from '../devhost/host';
import { ServiceBusExtension } from '../devhost/servicebus/extension';

const APP = path.resolve(__dirname, '../../test/fixtures/servicebus-bench');

interface BenchEvent {
  orderId: string;
  version: number;
  sentAt: number;
  lines: { sku: string; qty: number }[];
}

type BenchHandler = (
  event: BenchEvent,
  context: { triggerMetadata?: Record<string, unknown> },
) => Promise<void>;

/** What the trigger does per event. */
const HANDLERS: Record<string, BenchHandler> = {
  work: async (event) => {
    // About what validating and routing an order event costs: a parse happened already; hash it.
    let digest = JSON.stringify(event);
    for (let i = 0; i < 20; i++) digest = createHash('sha256').update(digest).digest('hex');
  },
};

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '100' },
      seconds: { type: 'string', default: '20' },
      orders: { type: 'string', default: '200' },
      handler: { type: 'string', default: 'work' },
    },
  });
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const orders = Number(values.orders);
  const handler = HANDLERS[values.handler];
  if (!handler)
    throw new Error(`Unknown handler "${values.handler}"; known: ${Object.keys(HANDLERS).join(', ')}.`);

  const latencies: number[] = [];
  const seen = new Set<string>();
  const order = new Map<string, number>();
  let outOfOrder = 0;
  (globalThis as { __sbBenchHandler?: BenchHandler }).__sbBenchHandler = async (event, context) => {
    await handler(event, context);
    latencies.push(Date.now() - event.sentAt);
    seen.add(`${event.orderId}:${event.version}`);
    if ((order.get(event.orderId) ?? 0) > event.version) outOfOrder++;
    order.set(event.orderId, event.version);
  };

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sb-bench-'));
  const extension = new ServiceBusExtension();
  const host = await Host.start({
    appDir: APP,
    port: 0,
    clock: new SystemClock(),
    dataDir,
    extensions: [extension],
    logSink: { write: () => undefined },
  });
  const broker = extension.embedded;
  if (!broker) throw new Error('The bench app should use the embedded broker.');

  const total = Math.round(rate * seconds);
  const versions = new Map<string, number>();
  const started = Date.now();
  let sent = 0;
  const cpu0 = process.cpuUsage();
  // Steady rate: every 10 ms send whatever the schedule says is due by now (no bursts, no drift).
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * rate));
    while (sent < due) {
      const region = ['sea', 'eu', 'latam'][sent % 3]!;
      const orderId = `${region}:${1000 + ((sent * 7919) % orders)}`;
      const version = (versions.get(orderId) ?? 0) + 1;
      versions.set(orderId, version);
      const event: BenchEvent = {
        orderId,
        version,
        sentAt: Date.now(),
        lines: [{ sku: `sku-${sent % 50}`, qty: 1 + (sent % 5) }],
      };
      broker.sendSync('order-events', [
        {
          body: JSON.stringify(event),
          sessionId: orderId,
          messageId: `${orderId}:${version}`,
          contentType: 'application/json',
        },
      ]);
      sent++;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const sendDone = Date.now();
  const deadline = sendDone + 30_000;
  while (seen.size < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const finished = Date.now();
  const cpu = process.cpuUsage(cpu0);
  await host.stop();
  rmSync(dataDir, { recursive: true, force: true });

  const sorted = [...latencies].sort((a, b) => a - b);
  const result = {
    handler: values.handler,
    targetRate: rate,
    sent: total,
    delivered: seen.size,
    lost: total - seen.size,
    invocations: latencies.length,
    outOfOrder,
    deliveredPerSecond: Number((seen.size / ((finished - started) / 1000)).toFixed(1)),
    latencyMs: {
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1],
    },
    cpuSecondsPerThousand: Number(
      (((cpu.user + cpu.system) / 1e6 / Math.max(1, latencies.length)) * 1000).toFixed(2),
    ),
  };
  console.log(`serviceBusSessions: ${JSON.stringify(result)}`);
  console.log(
    `  ${result.delivered}/${result.sent} delivered at ${result.deliveredPerSecond} msg/s (target ${rate}); ` +
      `enqueue->handler p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms (goal < 250 ms)`,
  );
  if (result.lost > 0 || outOfOrder > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
