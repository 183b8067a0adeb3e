/**
 * Order sync under sustained load on devhost (issue 7): `--rate` events/s for `--seconds` across
 * `--orders` orders, through the embedded broker, the orderEvents trigger, the orderSync entities
 * and the orderApply sagas into the hub. Prints p50/p95/p99/max of enqueued -> applied in the hub
 * (a version folded into a newer one counts as applied when that one is), and the throughput.
 * Goal: p99 under 1 s.
 *
 * Usage: node dist/bench/orderSync.js [--rate 50] [--seconds 60] [--orders 2000] [--shuffle] [--duplicates]
 */
import { parseArgs } from 'node:util';
import { devhostSink, runLoad } from '../scripts/orderLoad';
import { startOrderApp } from '../test/e2e/support/orderHarness';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '60' },
    orders: { type: 'string', default: '2000' },
    shuffle: { type: 'boolean', default: false },
    duplicates: { type: 'boolean', default: false },
    'gap-wait-ms': { type: 'string', default: '500' },
  },
});

function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function main(): Promise<void> {
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const orders = Number(values.orders);
  const app = await startOrderApp({ gapWaitMs: Number(values['gap-wait-ms']) });
  try {
    const t0 = Date.now();
    const sent = await runLoad(
      {
        rate,
        seconds,
        orders,
        shuffle: values.shuffle === true,
        duplicates: values.duplicates === true,
        regions: ['sea', 'eu', 'latam'],
        seed: 7,
        prefix: 'b-',
      },
      devhostSink(app.host.origin),
    );
    const sendSeconds = (Date.now() - t0) / 1000;
    const finalVersion = new Map<string, number>();
    for (const s of sent) {
      const key = `${s.region}:${s.orderId}`;
      finalVersion.set(key, Math.max(finalVersion.get(key) ?? 0, s.version));
    }
    // Drained: every order's newest version is in the hub.
    const hubVersions = () =>
      new Map(
        (
          app
            .db('cn')
            .prepare(`SELECT order_id, version FROM sales_order WHERE order_id LIKE 'b-%'`)
            .all() as {
            order_id: string;
            version: number;
          }[]
        ).map((r) => [r.order_id, r.version]),
      );
    await app.waitFor(
      'the hub to catch up',
      async () => {
        const hub = hubVersions();
        let behind = 0;
        for (const [key, v] of finalVersion) if ((hub.get(key.split(':')[1] as string) ?? 0) < v) behind++;
        return behind;
      },
      (behind) => behind === 0,
      Math.max(120_000, seconds * 4000),
    );
    const drainedAt = Date.now();
    // When each version reached the hub: the audit record of its saga (written > 0).
    const applied = new Map<string, { version: number; at: number }[]>();
    for (const r of app
      .db('cn')
      .prepare(
        `SELECT run_id, at FROM sync_audit WHERE flow = 'orders' AND written > 0 AND run_id LIKE 'order-%-b-%'`,
      )
      .all() as { run_id: string; at: string }[]) {
      const m = /^order-([a-z0-9-]+?)-(b-\d+)-v(\d+)$/.exec(r.run_id);
      if (m === null) continue;
      const key = `${m[1]}:${m[2]}`;
      const list = applied.get(key) ?? [];
      list.push({ version: Number(m[3]), at: Date.parse(r.at) });
      applied.set(key, list);
    }
    const latencies: number[] = [];
    for (const s of sent) {
      const covering = (applied.get(`${s.region}:${s.orderId}`) ?? [])
        .filter((a) => a.version >= s.version && a.at >= s.sentAt - 5)
        .sort((a, b) => a.at - b.at)[0];
      if (covering !== undefined) latencies.push(covering.at - s.sentAt);
    }
    latencies.sort((a, b) => a - b);
    const applies = [...applied.values()].reduce((n, l) => n + l.length, 0);
    const total = (drainedAt - t0) / 1000;
    console.log(
      `order sync: ${sent.length} events (${rate}/s for ${seconds} s, ${orders} orders${values.shuffle ? ', shuffled' : ''}${values.duplicates ? ', duplicates' : ''}) sent in ${sendSeconds.toFixed(1)} s, hub caught up after ${total.toFixed(1)} s`,
    );
    console.log(
      `  enqueued -> applied in hub: p50 ${pct(latencies, 50)} ms, p95 ${pct(latencies, 95)} ms, p99 ${pct(latencies, 99)} ms, max ${latencies[latencies.length - 1]} ms (${latencies.length} events measured)`,
    );
    console.log(
      `  throughput: ${(sent.length / total).toFixed(1)} events/s end to end; ${applies} sagas applied (${sent.length - applies} versions coalesced or dropped); goal p99 < 1000 ms: ${pct(latencies, 99) < 1000 ? 'met' : 'NOT met'}`,
    );
  } finally {
    await app.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
