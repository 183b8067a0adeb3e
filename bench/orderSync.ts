/**
 * Order sync under sustained load on devhost (issue 7): `--rate` events/s for `--seconds` across
 * `--orders` orders, through the embedded broker, the orderEvents trigger, the orderSync entities
 * and the orderIngest runners with their inline sagas into the hub. Prints p50/p95/p99/max of
 * enqueued -> applied in the hub (a version folded into a newer one counts as applied when that
 * one is), the throughput, and the work per event: devhost's CPU time per event (from /proc, so
 * it compares runs on a busy shared machine) and the durable instances, episodes, entity calls
 * and activities per event (from the Durable HTTP API). Goals: the offered rate sustained
 * (>= 95 %) and p99 <= 1 s.
 *
 * Same-run baseline, run first: the same events (same seed, rate and duration) applied in this
 * process straight through the saga's steps over the app's own adapters (parse the message, upsert
 * the hub order, register after-sales, write the receipt: the activities' code over the SQLite
 * region and saga stores, fresh files) with no broker, entity or durable orchestration. Each
 * 100 ms tick's events are applied in order before the next tick. Its latency is read the same
 * way (the hub audit record), and the durable / baseline ratios of latency and throughput are
 * printed. The baseline applies every version; the durable path may fold versions together.
 *
 * Usage: node dist/bench/orderSync.js [--rate 50] [--seconds 60] [--orders 2000] [--shuffle] [--duplicates]
 *        [--quick]  (5 s of load per path unless --seconds is given: about 20-25 s in all)
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { createOrderRuntime } from '../activities/orderRuntime';
import { createRegisterAfterSales, createUpsertHubOrder, createWriteReceipt } from '../activities/orderSaga';
import { createRuntime } from '../activities/runtime';
import { loadConfig } from '../config/loadConfig';
import { loadOrderSettings } from '../config/orderSettings';
import type { LoadOptions, OrderSink, SentEvent } from '../scripts/orderLoad';
import { devhostSink, runLoad } from '../scripts/orderLoad';
import { DEMO_CATALOG } from '../scripts/orderGenerator';
import { messageIdOf, parseOrderMessage, sessionIdOf } from '../sync/orderEvent';
import type { ReceiptStatus } from '../sync/orderSaga';
import { sagaIdOf } from '../sync/orderSyncState';
import { startOrderApp } from '../test/e2e/support/orderHarness';
import { percentile as pct, ratio } from './fixtures/benchStats';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string' },
    orders: { type: 'string', default: '2000' },
    shuffle: { type: 'boolean', default: false },
    duplicates: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
  },
});

/**
 * CPU seconds (user + system) the process `pid` has used so far, from /proc (Linux); null
 * elsewhere. devhost runs the broker, the Durable backend, the worker and its threads in one
 * process, so its CPU per event is the work per event, whatever else loads the machine.
 */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

interface DurableWork {
  /** Orchestration instances created per sent event (ingest runners, sagas where separate). */
  readonly instancesPerEvent: number;
  /** Orchestrator episodes per sent event, from a sample of instance histories. */
  readonly episodesPerEvent: number;
  /** Entity operations answered per sent event (entity calls: responses in the histories). */
  readonly entityCallsPerEvent: number;
  readonly activitiesPerEvent: number;
}

/** Completion events: each one wakes the orchestrator for one more episode. */
const WAKING = new Set([
  'TaskCompleted',
  'TaskFailed',
  'EventRaised',
  'SubOrchestrationInstanceCompleted',
  'SubOrchestrationInstanceFailed',
  'TimerFired',
]);

/** Counts the durable work the load caused, through the Durable HTTP API. */
async function durableWork(origin: string, sent: number): Promise<DurableWork> {
  const base = `${origin}/runtime/webhooks/durabletask/instances`;
  const ids: string[] = [];
  let token: string | null = null;
  do {
    const res: Response = await fetch(`${base}?top=1000`, {
      headers: token === null ? {} : { 'x-ms-continuation-token': token },
    });
    for (const i of (await res.json()) as { instanceId: string }[])
      if (/^order(event|unstick)?-/.test(i.instanceId) && i.instanceId.includes('-b-'))
        ids.push(i.instanceId);
    token = res.headers.get('x-ms-continuation-token');
  } while (token !== null && token !== '');
  // Every 10th instance's history: episodes = 1 + completions; entity answers arrive as EventRaised.
  const sample = ids.filter((_, i) => i % 10 === 0);
  let episodes = 0;
  let entityCalls = 0;
  let activities = 0;
  for (const id of sample) {
    const h = (await fetch(`${base}/${id}?showHistory=true`).then((r) => r.json())) as {
      historyEvents?: { EventType: string }[];
    };
    const events = h.historyEvents ?? [];
    episodes += 1 + events.filter((e) => WAKING.has(e.EventType)).length;
    entityCalls += events.filter((e) => e.EventType === 'EventRaised').length;
    activities += events.filter(
      (e) => e.EventType === 'TaskCompleted' || e.EventType === 'TaskFailed',
    ).length;
  }
  const scale = sample.length === 0 ? 0 : ids.length / sample.length / sent;
  return {
    instancesPerEvent: ids.length / sent,
    episodesPerEvent: episodes * scale,
    entityCallsPerEvent: entityCalls * scale,
    activitiesPerEvent: activities * scale,
  };
}

interface PathFigures {
  readonly sent: number;
  readonly sendSeconds: number;
  /** Load start -> every order's newest version in the hub. */
  readonly totalSeconds: number;
  readonly latencies: readonly number[];
  readonly applies: number;
  /** Baseline only: events per second of time spent applying (its capacity, as fast as possible). */
  readonly capacity?: number;
  /** Durable only: CPU ms of the devhost process per sent event (null off Linux). */
  readonly cpuMsPerEvent?: number | null;
  readonly work?: DurableWork;
}

/** Enqueued -> applied in the hub per sent event, from the hub's audit of the sagas (written > 0). */
function hubLatencies(
  hub: BetterSqlite3.Database,
  sent: readonly SentEvent[],
): { latencies: number[]; applies: number } {
  const applied = new Map<string, { version: number; at: number }[]>();
  for (const r of hub
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
  return { latencies, applies: [...applied.values()].reduce((n, l) => n + l.length, 0) };
}

/** The newest version sent of each order, keyed `region:orderId`. */
function finalVersions(sent: readonly SentEvent[]): Map<string, number> {
  const finalVersion = new Map<string, number>();
  for (const s of sent) {
    const key = `${s.region}:${s.orderId}`;
    finalVersion.set(key, Math.max(finalVersion.get(key) ?? 0, s.version));
  }
  return finalVersion;
}

/** The durable path: the app on devhost, events through its embedded broker. */
async function durablePath(load: LoadOptions): Promise<PathFigures> {
  const app = await startOrderApp();
  try {
    const cpu0 = cpuSeconds(app.host.pid);
    const t0 = Date.now();
    const sent = await runLoad(load, devhostSink(app.host.origin));
    const sendSeconds = (Date.now() - t0) / 1000;
    const finalVersion = finalVersions(sent);
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
      Math.max(120_000, load.seconds * 4000),
    );
    const totalSeconds = (Date.now() - t0) / 1000;
    // Let the last runners finish (they report to their entity after the hub write).
    await new Promise((r) => setTimeout(r, 2000));
    const cpu1 = cpuSeconds(app.host.pid);
    const cpuMsPerEvent = cpu0 === null || cpu1 === null ? null : ((cpu1 - cpu0) * 1000) / sent.length;
    const work = await durableWork(app.host.origin, sent.length);
    return {
      sent: sent.length,
      sendSeconds,
      totalSeconds,
      ...hubLatencies(app.db('cn'), sent),
      cpuMsPerEvent,
      work,
    };
  } finally {
    await app.close();
  }
}

/**
 * The baseline: the same load applied in this process through the saga steps over the app's
 * adapters (fresh SQLite region files, catalog seeded as the harness does), no broker or durable.
 */
async function directPath(load: LoadOptions): Promise<PathFigures> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'region-sync-orders-direct-'));
  const env: Record<string, string> = {
    REGION_SYNC_DATA_DIR: path.join(root, 'data'),
    REGION_SYNC_PSEUDONYM_KEY: randomBytes(32).toString('base64'),
    // Blob clients are built but never called on this path.
    REGION_SYNC_STAGING_CONNECTION: 'UseDevelopmentStorage=true',
  };
  const config = loadConfig(env, { cwd: root });
  const runtime = createRuntime(config);
  const orders = createOrderRuntime(config, loadOrderSettings(env), runtime);
  try {
    await (await orders.sagaStore(orders.hub)).upsertProducts(DEMO_CATALOG);
    const upsertHubOrder = createUpsertHubOrder(orders);
    const registerAfterSales = createRegisterAfterSales(orders);
    const writeReceipt = createWriteReceipt(orders);
    let rejected = 0;
    const apply = async (body: string, messageId: string, sessionId: string): Promise<void> => {
      const parsed = parseOrderMessage(body, { messageId, sessionId }, orders.rules);
      if (!parsed.ok) throw new Error(`baseline event did not parse: ${parsed.reason}`);
      const { event } = parsed;
      const sagaId = sagaIdOf(event.region, event.orderId, event.version);
      const receipt = (status: ReceiptStatus, reason: string | null, hubVersion: number | null) =>
        writeReceipt({
          sourceRegion: event.region,
          receipt: {
            orderId: event.orderId,
            version: event.version,
            status,
            reason,
            hubVersion,
            sagaId,
            at: orders.now().toISOString(),
          },
        });
      const upsert = await upsertHubOrder({ sagaId, event });
      if (upsert.kind === 'stale') {
        await receipt('stale', `the hub holds v${upsert.previousVersion}`, upsert.previousVersion);
        return;
      }
      if (upsert.kind === 'rejected') {
        rejected++;
        return;
      }
      const afterSales = await registerAfterSales({ sagaId, event });
      if (afterSales.kind === 'rejected') {
        rejected++;
        return;
      }
      await receipt('applied', null, event.version);
    };
    let busyMs = 0;
    const sink: OrderSink = {
      async send(events) {
        const started = performance.now();
        for (const e of events) {
          await apply(
            JSON.stringify(e),
            messageIdOf(e.region, e.orderId, e.version),
            sessionIdOf(e.region, e.orderId),
          );
        }
        busyMs += performance.now() - started;
      },
      async close() {},
    };
    const t0 = Date.now();
    const sent = await runLoad(load, sink);
    const sendSeconds = (Date.now() - t0) / 1000;
    // Everything is applied when the load returns (each tick is applied before the next).
    const totalSeconds = sendSeconds;
    if (rejected > 0) throw new Error(`${rejected} baseline events were rejected by a saga step`);
    const hubFile = config.stores[orders.hub];
    if (hubFile?.kind !== 'sqlite') throw new Error('the default topology keeps the hub in SQLite');
    const hub = new BetterSqlite3(hubFile.file, { readonly: true, fileMustExist: true });
    try {
      return {
        sent: sent.length,
        sendSeconds,
        totalSeconds,
        ...hubLatencies(hub, sent),
        capacity: sent.length / (busyMs / 1000),
      };
    } finally {
      hub.close();
    }
  } finally {
    await orders.close();
    await runtime.close();
    rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const rate = Number(values.rate);
  const seconds = Number(values.seconds ?? (values.quick ? '5' : '60'));
  const orders = Number(values.orders);
  const load: LoadOptions = {
    rate,
    seconds,
    orders,
    shuffle: values.shuffle === true,
    duplicates: values.duplicates === true,
    regions: ['sea', 'eu', 'latam'],
    seed: 7,
    prefix: 'b-',
  };
  const base = await directPath(load);
  const durable = await durablePath(load);

  const { latencies, sent, applies } = durable;
  console.log(
    `order sync: ${sent} events (${rate}/s for ${seconds} s, ${orders} orders${values.shuffle ? ', shuffled' : ''}${values.duplicates ? ', duplicates' : ''}) sent in ${durable.sendSeconds.toFixed(1)} s, hub caught up after ${durable.totalSeconds.toFixed(1)} s`,
  );
  console.log(
    `  enqueued -> applied in hub: p50 ${pct(latencies, 50)} ms, p95 ${pct(latencies, 95)} ms, p99 ${pct(latencies, 99)} ms, max ${latencies[latencies.length - 1]} ms (${latencies.length} events measured)`,
  );
  const durableRate = sent / durable.totalSeconds;
  const sustained = durableRate >= rate * 0.95;
  console.log(
    `  throughput: ${durableRate.toFixed(1)} events/s end to end; ${applies} sagas applied (${sent - applies} versions coalesced or dropped)`,
  );
  console.log(
    `  goal ${rate} events/s sustained: ${sustained ? 'met' : 'NOT met'}; goal p99 <= 1000 ms: ${pct(latencies, 99) <= 1000 ? 'met' : 'NOT met'}`,
  );
  const w = durable.work;
  if (w !== undefined)
    console.log(
      `  work per event: devhost CPU ${durable.cpuMsPerEvent === null || durable.cpuMsPerEvent === undefined ? 'n/a' : `${durable.cpuMsPerEvent.toFixed(1)} ms`}` +
        ` (load-independent), ${w.instancesPerEvent.toFixed(2)} orchestration instances, ${w.episodesPerEvent.toFixed(2)} episodes,` +
        ` ${w.entityCallsPerEvent.toFixed(2)} entity calls, ${w.activitiesPerEvent.toFixed(2)} activities`,
    );
  const b = base.latencies;
  const baseRate = base.sent / base.totalSeconds;
  console.log(
    `  baseline, same events applied in-process through the saga steps over the adapters (no broker, no durable): ` +
      `${base.sent} events in ${base.totalSeconds.toFixed(1)} s (${baseRate.toFixed(1)} events/s), ${base.applies} applied; ` +
      `p50 ${pct(b, 50)} ms, p95 ${pct(b, 95)} ms, p99 ${pct(b, 99)} ms, max ${b[b.length - 1]} ms (${b.length} measured); ` +
      `apply capacity ${(base.capacity ?? NaN).toFixed(0)} events/s (events / time spent applying)`,
  );
  console.log(
    `  ratio durable / baseline: latency p50 ${ratio(pct(latencies, 50), pct(b, 50), 1)}, p95 ${ratio(pct(latencies, 95), pct(b, 95), 1)}, ` +
      `p99 ${ratio(pct(latencies, 99), pct(b, 99), 1)}; throughput at the offered rate ${ratio(durableRate, baseRate)}, ` +
      `durable throughput / baseline apply capacity ${ratio(durableRate, base.capacity ?? NaN)}`,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
