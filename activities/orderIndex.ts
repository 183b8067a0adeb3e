import * as df from 'durable-functions';
import type { Telemetry } from '../adapters/telemetry.js';
import { silentTelemetry } from '../adapters/telemetry.js';
import { parseActivityInput } from './activityInput.js';
import { orderTelemetry } from './activityTelemetry.js';
import { orderActivities } from './orderContracts.js';
import { orderInputs, runnerStatusInput } from './orderInputs.js';
import { runnerStatus } from './orderRunner.js';
import type { OrderRuntime } from './orderRuntime.js';
import {
  createRegisterAfterSales,
  createRemoveAfterSales,
  createRestoreHubOrder,
  createUpsertHubOrder,
  createWriteReceipt,
} from './orderSaga.js';
import { registerActivityGroup } from './registration.js';

/** Registers the order saga's steps and compensations over the order runtime's ports. */
export function registerOrderActivities(runtime: OrderRuntime, telemetry: Telemetry = silentTelemetry): void {
  const { runnerStatus: runnerStatusContract, ...sagaSteps } = orderActivities;
  registerActivityGroup(
    sagaSteps,
    {
      handlers: {
        upsertHubOrder: createUpsertHubOrder(runtime),
        registerAfterSales: createRegisterAfterSales(runtime),
        writeReceipt: createWriteReceipt(runtime),
        restoreHubOrder: createRestoreHubOrder(runtime),
        removeAfterSales: createRemoveAfterSales(runtime),
      },
      inputs: orderInputs,
      telemetry: orderTelemetry,
    },
    telemetry,
    () => runtime.now(),
  );
  // The runner check reads instance status through the durable client binding.
  df.app.activity(runnerStatusContract.name, {
    extraInputs: [df.input.durableClient()],
    handler: (input: unknown, context) =>
      runnerStatus(
        df.getClient(context),
        parseActivityInput(runnerStatusContract.name, runnerStatusInput, input),
      ),
  });
}
