/**
 * The load generator's stand-in for a spoke CRM (issue 12 point 6): every order change is first
 * written to the order's own region database (header and lines, the customer's full data, removed
 * lines as tombstones, a cancellation as a tombstone order), and only then published, as a CRM's
 * transactional outbox would. The events therefore describe orders the spokes really hold, and the
 * monthly full compare finds the same orders on both sides of each link.
 */
import { openMssqlRegionStore } from '../adapters/mssqlRegionStore.js';
import { openSqliteRegionStore } from '../adapters/sqliteRegionStore.js';
import type { AppConfig } from '../config/loadConfig.js';
import { OPEN_GUARD } from '../sync/model.js';
import type { RegionId } from '../sync/model.js';
import type { OrderEvent } from '../sync/orderEvent.js';
import { orderAggregateOf, orderFlowRules } from '../sync/orderEvent.js';
import type { OrderTables, RegionStore } from '../sync/ports.js';
import { tableMappingFor } from '../sync/topology.js';

export interface OrderOutbox {
  /** Writes these order versions to their regions' databases (in version order per order). */
  write(events: readonly OrderEvent[]): Promise<void>;
  close(): Promise<void>;
}

/** The spoke databases of the configured topology (SQLite files or SQL Server). */
export function spokeOutbox(config: AppConfig): OrderOutbox {
  const { flow, rules } = orderFlowRules(config.topology);
  const [header, lines] = flow.tables;
  if (header === undefined || lines === undefined) throw new Error('the orders flow has no header and lines');
  const stores = new Map<RegionId, Promise<{ store: RegionStore; tables: OrderTables }>>();
  const open = (region: RegionId) => {
    let s = stores.get(region);
    if (s === undefined) {
      s = (async () => {
        const resolved = config.stores[region];
        if (resolved === undefined) throw new Error(`no database configured for region '${region}'`);
        const store =
          resolved.kind === 'mssql'
            ? openMssqlRegionStore({ region, connectionString: resolved.connectionString })
            : openSqliteRegionStore({ region, file: resolved.file });
        // The region's own names for the order tables.
        const tables: OrderTables = {
          ...rules.tables,
          header: tableMappingFor(header, region),
          lines: tableMappingFor(lines, region),
        };
        await store.migrate([tables.header, tables.lines]);
        return { store, tables };
      })();
      stores.set(region, s);
    }
    return s;
  };
  return {
    async write(events) {
      const ordered = [...events].sort((a, b) => a.version - b.version);
      for (const e of ordered) {
        const { store, tables } = await open(e.region);
        // Version-guarded like any writer: an older or repeated version changes nothing.
        const out = await store.replaceOrder(tables, orderAggregateOf(e, rules), OPEN_GUARD);
        if (out.kind === 'rejected') throw new Error(`${e.region} refused order ${e.orderId}: ${out.detail}`);
      }
    },
    async close() {
      for (const s of stores.values()) await (await s).store.close();
      stores.clear();
    },
  };
}
