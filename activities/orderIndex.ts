import * as df from 'durable-functions';
import type { Telemetry } from '../adapters/telemetry.js';
import { silentTelemetry } from '../adapters/telemetry.js';
import { orderTelemetry, withTelemetry } from './activityTelemetry.js';
import { orderActivities } from './orderContracts.js';
import type { OrderRuntime } from './orderRuntime.js';
import { runnerStatus } from './orderRunner.js';
import {
  createRegisterAfterSales,
  createRemoveAfterSales,
  createRestoreHubOrder,
  createUpsertHubOrder,
  createWriteReceipt,
} from './orderSaga.js';

/** Registers the order saga's steps and compensations over the order runtime's ports. */
export function registerOrderActivities(runtime: OrderRuntime, telemetry: Telemetry = silentTelemetry): void {
  const handlers: Record<
    Exclude<keyof typeof orderActivities, 'runnerStatus'>,
    (input: never) => Promise<unknown>
  > = {
    upsertHubOrder: createUpsertHubOrder(runtime),
    registerAfterSales: createRegisterAfterSales(runtime),
    writeReceipt: createWriteReceipt(runtime),
    restoreHubOrder: createRestoreHubOrder(runtime),
    removeAfterSales: createRemoveAfterSales(runtime),
  };
  for (const [key, handler] of Object.entries(handlers)) {
    const name = orderActivities[key as keyof typeof orderActivities].name;
    const run = withTelemetry(name, handler, orderTelemetry[key], telemetry, () => runtime.now());
    df.app.activity(name, { handler: (input: unknown, context) => run(input, context) });
  }
  // The runner check reads instance status through the durable client binding.
  df.app.activity(orderActivities.runnerStatus.name, {
    extraInputs: [df.input.durableClient()],
    handler: (input: unknown, context) =>
      runnerStatus(df.getClient(context), input as Parameters<typeof runnerStatus>[1]),
  });
}
