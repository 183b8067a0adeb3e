/**
 * The entity variant of bench/serviceBusSessions.ts: order events at a steady rate through a
 * session-enabled queue into a `df.app.client.serviceBusQueue` trigger that signals the order's
 * entity; the entity records each event with its enqueue time. Measures enqueue -> entity-applied
 * latency (the entity's batch committed to the task hub), on devhost with the file-backed embedded
 * broker and task hub. Goal (issue 4): p99 < 250 ms at 100 msg/s.
 *
 * Same-run baseline: the plain-handler path of bench/serviceBusSessions.ts (same queue shape, the
 * `work` handler, no entity) at the same rate, orders and duration, run first on a host of its own
 * in this process. Printed as entity path / baseline ratios of p50, p99 and throughput.
 *
 * Usage: node dist/bench/serviceBusEntities.js [--rate 100] [--seconds 20] [--orders 200]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SystemClock } from '../devhost/clock';
import { DurableExtension } from '../devhost/durable/durableExtension';
import { entityInstanceId } from '../devhost/durable/engine';
import { Host } from '../devhost/host';
import { ServiceBusExtension } from '../devhost/servicebus/extension';
import { percentile, ratio, sleep } from './fixtures/benchStats';
import { nowMs, orderIdOf, runPlainBrokerPath, sendSteadily } from './fixtures/sessionLoad';

const APP = path.resolve(__dirname, '../../test/fixtures/durable-entities-bench');

interface RecordedEvent {
  version: number;
  sentAt: number;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '100' },
      seconds: { type: 'string', default: '20' },
      orders: { type: 'string', default: '200' },
    },
  });
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const orders = Number(values.orders);

  // The baseline first, on its own host (the plain app), so the entity run below starts clean.
  const baseline = await runPlainBrokerPath({ rate, seconds, orders });

  // The entity reports what it applied; the latency is taken when that batch is committed.
  const pending = new Map<string, RecordedEvent[]>();
  (globalThis as { __entityBenchApplied?: (key: string, e: RecordedEvent) => void }).__entityBenchApplied = (
    key,
    event,
  ) => {
    const id = entityInstanceId('Order', key);
    pending.set(id, [...(pending.get(id) ?? []), event]);
  };
  const latencies: number[] = [];
  const applied = new Set<string>();
  let outOfOrder = 0;
  const lastVersion = new Map<string, number>();

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sb-entity-bench-'));
  const serviceBus = new ServiceBusExtension();
  const durable = new DurableExtension();
  const host = await Host.start({
    appDir: APP,
    port: 0,
    clock: new SystemClock(),
    dataDir,
    extensions: [serviceBus, durable],
    logSink: { write: () => undefined },
  });
  const broker = serviceBus.embedded;
  if (!broker) throw new Error('The bench app should use the embedded broker.');
  durable.engine.events.on('changed', (id: string) => {
    const events = pending.get(id);
    if (!events) return;
    pending.delete(id);
    const now = nowMs();
    for (const event of events) {
      latencies.push(now - event.sentAt);
      applied.add(`${id}:${event.version}`);
      if ((lastVersion.get(id) ?? 0) + 1 !== event.version) outOfOrder++;
      lastVersion.set(id, event.version);
    }
  });

  const versions = new Map<string, number>();
  const started = Date.now();
  const cpu0 = process.cpuUsage();
  const total = await sendSteadily({ rate, seconds, orders }, (i) => {
    const orderId = orderIdOf(i, orders, '-');
    const version = (versions.get(orderId) ?? 0) + 1;
    versions.set(orderId, version);
    broker.sendSync('order-events', [
      {
        body: JSON.stringify({ orderId, version, sentAt: nowMs() }),
        sessionId: orderId,
        messageId: `${orderId}:${version}`,
        contentType: 'application/json',
      },
    ]);
  });
  const deadline = Date.now() + 30_000;
  while (applied.size < total && Date.now() < deadline) await sleep(20);
  const finished = Date.now();
  const cpu = process.cpuUsage(cpu0);

  // Every order's entity holds each of its events once, in version order.
  let wrongState = 0;
  for (const [orderId, count] of versions) {
    const found = durable.engine.readEntity('Order', orderId);
    const events = found?.stateJson
      ? (JSON.parse(found.stateJson) as { events: RecordedEvent[] }).events
      : [];
    if (events.length !== count || events.some((e, i) => e.version !== i + 1)) wrongState++;
  }
  await host.stop();
  rmSync(dataDir, { recursive: true, force: true });

  const sorted = [...latencies].sort((a, b) => a - b);
  const result = {
    targetRate: rate,
    sent: total,
    applied: applied.size,
    lost: total - applied.size,
    outOfOrder,
    entitiesWithWrongState: wrongState,
    appliedPerSecond: Number((applied.size / ((finished - started) / 1000)).toFixed(1)),
    latencyMs: {
      p50: round1(percentile(sorted, 50)),
      p99: round1(percentile(sorted, 99)),
      max: round1(sorted[sorted.length - 1] ?? NaN),
    },
    cpuSecondsPerThousand: Number((((cpu.user + cpu.system) / 1e6 / Math.max(1, total)) * 1000).toFixed(2)),
  };
  console.log(`serviceBusEntities: ${JSON.stringify(result)}`);
  console.log(
    `  ${result.applied}/${result.sent} applied at ${result.appliedPerSecond} msg/s (target ${rate}); ` +
      `enqueue->entity p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms (goal < 250 ms)`,
  );
  console.log(
    `serviceBusEntities baseline (plain handler, serviceBusSessions path): ${JSON.stringify(baseline)}`,
  );
  console.log(
    `  baseline, plain handler through the same broker at the same rate: ${baseline.delivered}/${baseline.sent} at ` +
      `${baseline.deliveredPerSecond} msg/s; enqueue->handler p50 ${baseline.latencyMs.p50} ms, p99 ${baseline.latencyMs.p99} ms`,
  );
  console.log(
    `  ratio entity / plain handler: latency p50 ${ratio(result.latencyMs.p50, baseline.latencyMs.p50, 0.1)}, ` +
      `p99 ${ratio(result.latencyMs.p99, baseline.latencyMs.p99, 0.1)}; ` +
      `throughput ${ratio(result.appliedPerSecond, baseline.deliveredPerSecond)}; ` +
      `CPU per message ${ratio(result.cpuSecondsPerThousand, baseline.cpuSecondsPerThousand, 0.01)}`,
  );
  if (result.lost > 0 || outOfOrder > 0 || wrongState > 0 || baseline.lost > 0 || baseline.outOfOrder > 0)
    process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
