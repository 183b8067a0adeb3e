/**
 * The operations dashboard, served by the app itself: GET /api/dashboard is one HTML document
 * (plain HTML, CSS and JS from the `dashboard/` folder, inlined so that one request carries the
 * function key), and a few JSON reads of its own under /api/dashboard/data/. Everything else the
 * page shows comes from the app's public endpoints (sync status, run history, dead letters).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { createOrderOverview } from '../activities/orderOverview.js';
import type { OrderIngestInput } from '../activities/orderContracts.js';
import { ORDER_SYNC_ENTITY, orderOrchestrators } from '../activities/orderContracts.js';
import type { OrderRuntime } from '../activities/orderRuntime.js';
import type { SyncRuntime } from '../activities/runtime.js';
import type { OrderSyncState } from '../sync/orderSyncState.js';
import { orderEntityKey } from '../sync/orderSyncState.js';
import { linksOf } from '../sync/topology.js';

/** The page's folder: `dashboard/` at the app root (dist/triggers -> ../../dashboard). */
export const DASHBOARD_DIR = path.resolve(__dirname, '../../dashboard');

/** The page with its stylesheet and script inlined (read once: the files ship with the app). */
export function dashboardDocument(dir = DASHBOARD_DIR): string {
  const read = (name: string) => readFileSync(path.join(dir, name), 'utf8');
  // Function replacements: `$` in the sources must not be read as a replacement pattern.
  return read('index.html')
    .replace('<!-- dashboard.css -->', () => `<style>\n${read('dashboard.css')}</style>`)
    .replace('<!-- dashboard.js -->', () => `<script>\n${read('dashboard.js')}</script>`);
}

export function createDashboardPage(dir = DASHBOARD_DIR) {
  let html: string | null = null;
  return async function dashboardPage(
    _request: HttpRequest,
    _context: InvocationContext,
  ): Promise<HttpResponseInit> {
    html ??= dashboardDocument(dir);
    return {
      status: 200,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy':
          "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
      },
      body: html,
    };
  };
}

/** GET /api/dashboard/data/topology: the flows, their links and the regions (for tables and the form). */
export function createDashboardTopology(runtime: Pick<SyncRuntime, 'topology' | 'zone'>) {
  return async function dashboardTopology(): Promise<HttpResponseInit> {
    const t = runtime.topology;
    return {
      status: 200,
      jsonBody: {
        zone: runtime.zone,
        regions: t.regions.map((r) => ({ id: r.id, name: r.displayName, role: r.role })),
        flows: t.flows.map((f) => ({
          name: f.name,
          tables: f.tables.map((x) => x.canonical),
          links: linksOf(t, f, runtime.zone ?? undefined).map((l) => `${l.source}>${l.target}`),
        })),
      },
    };
  };
}

const ACTIVE: df.OrchestrationRuntimeStatus[] = [
  df.OrchestrationRuntimeStatus.Running,
  df.OrchestrationRuntimeStatus.Pending,
];
/** Coordinators read per view to tell which orders hold versions back. */
const STATE_READS = 100;

/**
 * GET /api/dashboard/data/orders: the last hour from the receipts (events/min, enqueue -> applied
 * p50/p99 per minute, failure receipts) and, from the Durable client, what is in flight now: the
 * running ingest orchestrations (each offers one event and, holding its order's turn, runs the
 * saga inline), and the orders whose coordinator holds newer versions back while an apply runs.
 */
export function createDashboardOrders(deps: Pick<OrderRuntime, 'rules' | 'sagaStore' | 'now'>) {
  const overview = createOrderOverview(deps);
  return async function dashboardOrders(
    request: HttpRequest,
    client: df.DurableClient,
    _context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const minutesText = request.query.get('minutes') ?? '60';
    const minutes = Number(minutesText);
    if (!/^\d+$/.test(minutesText) || minutes < 1 || minutes > 1440)
      return {
        status: 400,
        jsonBody: { error: 'invalid request', problems: [{ path: 'minutes', message: 'must be 1 to 1440' }] },
      };
    const figures = await overview(minutes);
    const active = await client.getStatusBy({ runtimeStatus: ACTIVE });
    const ingests = active.filter((s) => s.name === orderOrchestrators.orderIngest.name);
    const orders = new Set<string>();
    for (const s of ingests) {
      const input = s.input as OrderIngestInput | undefined;
      const order =
        input === undefined
          ? null
          : input.kind === 'offer'
            ? input.event
            : { region: input.region, orderId: input.orderId };
      if (order !== null && deps.rules.sourceRegions.includes(order.region))
        orders.add(orderEntityKey(order.region, order.orderId));
    }
    const held: { order: string; waiting: number[]; applying: number | null }[] = [];
    let applying = 0;
    for (const key of [...orders].slice(0, STATE_READS)) {
      const read = await client.readEntityState<OrderSyncState>(new df.EntityId(ORDER_SYNC_ENTITY, key));
      const state = read.entityExists ? read.entityState : undefined;
      if (state === undefined) continue;
      if (state.running !== null) applying++;
      if (state.waiting.length > 0)
        held.push({
          order: key,
          waiting: state.waiting.map((w) => w.version),
          applying: state.running?.version ?? null,
        });
    }
    return {
      status: 200,
      jsonBody: {
        ...figures,
        inFlight: { ingests: ingests.length, applying, heldOrders: held.length, held },
        compensations: figures.failed,
      },
    };
  };
}
