/**
 * The ports order sync needs, built once at the composition root beside the batch-sync runtime
 * (whose region stores it shares) and closed with it: the saga tables of each region, the
 * dead-letter destination, and the order settings.
 */
import { BlobOrderDeadLetters } from '../adapters/blobOrderDeadLetters.js';
import { openMssqlOrderSagaStore } from '../adapters/mssqlOrderSaga.js';
import { SqliteOrderSagaStore } from '../adapters/sqliteOrderSaga.js';
import type { AppConfig } from '../config/loadConfig.js';
import type { OrderSettings } from '../config/orderSettings.js';
import { SyncError } from '../sync/errors.js';
import type { RegionId } from '../sync/model.js';
import type { OrderDeadLetters, OrderEventRules } from '../sync/orderEvent.js';
import { orderFlowRules } from '../sync/orderEvent.js';
import type { OrderSagaStore } from '../sync/orderSaga.js';
import type { RegionStore } from '../sync/ports.js';
import type { Flow, Topology } from '../sync/topology.js';

export interface OrderRuntime {
  readonly topology: Topology;
  readonly pseudonymKey: string | null;
  readonly settings: OrderSettings;
  /** The realtime orders flow, the hub and the event rules derived from them. */
  readonly flow: Flow;
  readonly hub: RegionId;
  readonly rules: OrderEventRules;
  store(region: RegionId): Promise<RegionStore>;
  sagaStore(region: RegionId): Promise<OrderSagaStore>;
  readonly deadLetters: OrderDeadLetters;
  now(): Date;
  close(): Promise<void>;
}

export function createOrderRuntime(
  config: AppConfig,
  settings: OrderSettings,
  shared: { store(region: RegionId): Promise<RegionStore> },
): OrderRuntime {
  const { flow, hub, rules } = orderFlowRules(config.topology);
  const sagas = new Map<RegionId, Promise<OrderSagaStore>>();
  // The same storage account as staging: a connection string locally, the managed identity in Azure.
  const deadLetters = BlobOrderDeadLetters.create({
    connectionString: config.staging.connectionString,
    accountUrl: config.staging.accountUrl,
    container: settings.deadLetterContainer,
  });
  const openSaga = async (region: RegionId): Promise<OrderSagaStore> => {
    const resolved = config.stores[region];
    if (resolved === undefined) throw new SyncError('invalid-config', `unknown region '${region}'`);
    // Saga tables sit beside the region's order tables: the same database file or SQL Server
    // database (its dbo schema, like the RegionStore's sync tables), on a connection of their own.
    const store: OrderSagaStore =
      resolved.kind === 'mssql'
        ? openMssqlOrderSagaStore({ region, connectionString: resolved.connectionString })
        : new SqliteOrderSagaStore({
            region,
            file: resolved.file,
            ...(resolved.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: resolved.busyTimeoutMs }),
          });
    await store.migrate();
    return store;
  };
  return {
    topology: config.topology,
    pseudonymKey: config.pseudonymKey,
    settings,
    flow,
    hub,
    rules,
    store: (region) => shared.store(region),
    sagaStore(region) {
      let p = sagas.get(region);
      if (p === undefined) {
        p = openSaga(region);
        sagas.set(region, p);
        p.catch(() => sagas.delete(region));
      }
      return p;
    },
    deadLetters,
    now: () => new Date(),
    async close() {
      const opened = await Promise.allSettled([...sagas.values()]);
      sagas.clear();
      for (const s of opened) if (s.status === 'fulfilled') await s.value.close();
    },
  };
}
