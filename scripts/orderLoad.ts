/**
 * The order-change load: a steady rate of realistic order versions across many orders, sent to the
 * `order-events` queue either through devhost's embedded broker (its admin HTTP) or to Azure
 * Service Bus (a connection string). Used by `npm run orders` and bench/orderSync.
 */
import { ServiceBusClient } from '@azure/service-bus';
import type { OrderEvent } from '../sync/orderEvent.js';
import { messageIdOf, sessionIdOf } from '../sync/orderEvent.js';
import { fetchApp } from './appUrl.js';
import { orderHistory, rngOf, shuffle } from './orderGenerator.js';
import type { OrderOutbox } from './spokeOutbox.js';

export interface LoadOptions {
  /** Events per second. */
  readonly rate: number;
  readonly seconds: number;
  /** Distinct orders the events spread over. */
  readonly orders: number;
  /** Send some versions of an order out of order (the later one first). */
  readonly shuffle: boolean;
  /** Send about one message in ten twice (same message id, as a retrying publisher does). */
  readonly duplicates: boolean;
  readonly regions: readonly string[];
  readonly seed: number;
  /** Prefix of generated order ids (runs that share a hub use different ones). */
  readonly prefix: string;
}

export interface SentEvent {
  readonly region: string;
  readonly orderId: string;
  readonly version: number;
  readonly sentAt: number;
}

export interface OrderSink {
  send(events: readonly OrderEvent[]): Promise<void>;
  close(): Promise<void>;
}

/** The embedded broker of a running devhost (`http://127.0.0.1:7071`). */
export function devhostSink(origin: string, queue = 'order-events'): OrderSink {
  return {
    async send(events) {
      if (events.length === 0) return;
      const url = `${origin}/admin/servicebus/entities/${queue}/messages`;
      const res = await fetchApp(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(
          events.map((e) => ({
            body: e,
            messageId: messageIdOf(e.region, e.orderId, e.version),
            sessionId: sessionIdOf(e.region, e.orderId),
            contentType: 'application/json',
          })),
        ),
      });
      if (res.status !== 201)
        throw new Error(`devhost at ${url} answered ${res.status}: ${await res.text()}`);
    },
    async close() {},
  };
}

/** Azure Service Bus through a connection string. */
export function serviceBusSink(connectionString: string, queue = 'order-events'): OrderSink {
  const client = new ServiceBusClient(connectionString);
  const sender = client.createSender(queue);
  return {
    async send(events) {
      if (events.length === 0) return;
      await sender.sendMessages(
        events.map((e) => ({
          body: e,
          messageId: messageIdOf(e.region, e.orderId, e.version),
          sessionId: sessionIdOf(e.region, e.orderId),
          contentType: 'application/json',
        })),
      );
    },
    async close() {
      await sender.close();
      await client.close();
    },
  };
}

const TICK_MS = 100;
const VERSIONS_PER_ORDER = 12;

/**
 * Sends the load in ticks of 100 ms and returns what it sent with the send times (duplicates are
 * not listed twice). With an `outbox`, each tick's order versions are first written to their
 * spoke databases, as a spoke CRM does before it publishes (scripts/spokeOutbox.ts); the broker
 * may still deliver them out of order. `onTick` reports progress.
 */
export async function runLoad(
  options: LoadOptions,
  sink: OrderSink,
  onTick?: (sent: number) => void,
  outbox?: OrderOutbox,
): Promise<SentEvent[]> {
  const rng = rngOf(options.seed);
  const start = Date.now();
  const histories = new Map<number, OrderEvent[]>();
  const next = new Map<number, number>();
  const history = (i: number): OrderEvent[] => {
    let h = histories.get(i);
    if (h === undefined) {
      const region = options.regions[i % options.regions.length] as string;
      h = orderHistory(region, `${options.prefix}${i}`, VERSIONS_PER_ORDER, {
        seed: options.seed * 100_003 + i,
        start,
      });
      histories.set(i, h);
    }
    return h;
  };
  const sent: SentEvent[] = [];
  const total = Math.round(options.rate * options.seconds);
  const ticks = Math.ceil((options.seconds * 1000) / TICK_MS);
  const pendingDuplicates: OrderEvent[] = [];
  let produced = 0;
  for (let t = 0; t < ticks; t++) {
    const due = Math.round(((t + 1) * total) / ticks) - produced;
    let batch: OrderEvent[] = [];
    while (batch.length < due) {
      const i = Math.floor(rng() * options.orders);
      const v = next.get(i) ?? 0;
      if (v >= VERSIONS_PER_ORDER) continue;
      const h = history(i);
      if (options.shuffle && v + 1 < VERSIONS_PER_ORDER && rng() < 0.25 && batch.length + 2 <= due + 1) {
        // The next two versions of this order, newer first.
        batch.push(h[v + 1] as OrderEvent, h[v] as OrderEvent);
        next.set(i, v + 2);
      } else {
        batch.push(h[v] as OrderEvent);
        next.set(i, v + 1);
      }
    }
    produced += batch.length;
    await outbox?.write(batch);
    if (options.shuffle) batch = shuffle(batch, rng);
    const now = Date.now();
    for (const e of batch)
      sent.push({ region: e.region, orderId: e.orderId, version: e.version, sentAt: now });
    const dupes = pendingDuplicates.splice(0);
    if (options.duplicates) for (const e of batch) if (rng() < 0.1) pendingDuplicates.push(e);
    await sink.send([...batch, ...dupes]);
    onTick?.(sent.length);
    const wait = start + (t + 1) * TICK_MS - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await sink.send(pendingDuplicates);
  return sent;
}
