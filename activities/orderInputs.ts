/**
 * The order saga activities' inputs as zod schemas, each checked against its contract's type
 * (activities/orderContracts.ts) by `inputSchema`, parsed at the activity boundary on registration.
 */
import { z } from 'zod';
import { orderEventSchema } from '../sync/orderEvent.js';
import { inputSchema } from './activityInput.js';
import type {
  RemoveAfterSalesInput,
  RestoreHubOrderInput,
  OrderStepInput,
  RunnerStatusInput,
  WriteReceiptInput,
} from './orderContracts.js';

const name = z.string().min(1);
const version = z.number().int().positive();
// The wire schema, without refusing what rides beside it through the entity (enqueuedTimeUtc).
const event = z.object(orderEventSchema.shape);

const step = inputSchema<OrderStepInput>()(z.object({ sagaId: name, event }));

const writeReceipt = inputSchema<WriteReceiptInput>()(
  z.object({
    sourceRegion: name,
    receipt: z.object({
      orderId: name,
      version,
      status: z.enum(['applied', 'failed', 'stale']),
      reason: z.string().nullable(),
      hubVersion: z.number().int().nullable(),
      sagaId: name,
      at: z.iso.datetime({ offset: true }),
      enqueuedAt: z.iso.datetime({ offset: true }).nullable().optional(),
    }),
    enqueuedTimeUtc: z.string().optional(),
  }),
);

const restoreHubOrder = inputSchema<RestoreHubOrderInput>()(
  z.object({ sagaId: name, sourceRegion: name, orderId: name, version }),
);

const removeAfterSales = inputSchema<RemoveAfterSalesInput>()(
  z.object({ sourceRegion: name, orderId: name, version, sagaId: name.optional() }),
);

/** The runner check (registered on its own: it takes the durable client). */
export const runnerStatusInput = inputSchema<RunnerStatusInput>()(z.object({ instanceId: name }));

/** Keyed like `orderActivities` (orderContracts.ts), the runner check aside. */
export const orderInputs = {
  upsertHubOrder: step,
  registerAfterSales: step,
  writeReceipt,
  restoreHubOrder,
  removeAfterSales,
} as const;
