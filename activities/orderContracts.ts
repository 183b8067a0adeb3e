/**
 * Typed contracts of the order saga's activities and orchestrations (issue 7), beside the batch
 * ones in contracts.ts and called through the same typed helper (`callActivity`). Orchestrators
 * import this module and pure sync/ code only.
 */
import type { OrchestratorContract } from '../orchestrators/contracts.js';
import type { OrderIngestOutput } from '../orchestrators/orderIngest.js';
import type { ActivityContract } from './contracts.js';
import type { OrderEvent } from '../sync/orderEvent.js';
import type { SyncReceipt } from '../sync/orderSaga.js';
import type { RetryProfileName } from './retryProfiles.js';

function contract<I, O>(name: string, retry: RetryProfileName): ActivityContract<I, O> {
  return Object.freeze({ name, retry });
}

/**
 * An event as the trigger delivered it: the broker's enqueued time rides beside the validated
 * body (it is not part of the wire schema) through the entity to the saga, for the order latency
 * metric. Events replayed from the dead letters have none.
 */
export type DeliveredOrderEvent = OrderEvent & { readonly enqueuedTimeUtc?: string };

/** Every saga step knows its saga (audit run id) and the event it applies. */
export interface OrderStepInput {
  readonly sagaId: string;
  readonly event: OrderEvent;
}

/**
 * The upsert first keeps a snapshot of the hub's order (once per saga, in the hub: see
 * OrderSagaStore.keepSnapshot); `before` is the version it holds (null: no such order).
 */
export type UpsertHubOrderOutput = { readonly before: number | null } & (
  | {
      /** `unchanged`: the hub already held this version (e.g. the step is retried after a crash). */
      readonly kind: 'applied' | 'unchanged';
      readonly previousVersion: number | null;
    }
  /** The hub holds a newer version of the order: nothing written. */
  | { readonly kind: 'stale'; readonly previousVersion: number }
  | { readonly kind: 'rejected'; readonly reason: string; readonly detail: string }
);

export type RegisterAfterSalesOutput =
  | { readonly kind: 'registered'; readonly entitlements: number }
  | { readonly kind: 'rejected'; readonly reason: string; readonly detail: string };

export interface RestoreHubOrderInput {
  /** The saga whose kept snapshot is put back. */
  readonly sagaId: string;
  /** The order's origin region (with orderId, the order's key). */
  readonly sourceRegion: string;
  readonly orderId: string;
  /** The version the saga wrote: the snapshot is put back only while the hub still holds it. */
  readonly version: number;
}

/** `superseded`: the hub no longer held the saga's version (a newer write landed), nothing changed. */
export type RestoreHubOrderOutput =
  { readonly kind: 'restored' } | { readonly kind: 'superseded'; readonly currentVersion: number | null };

export interface RemoveAfterSalesInput {
  /** The order's origin region (with orderId, the order's key). */
  readonly sourceRegion: string;
  readonly orderId: string;
  readonly version: number;
  /** Telemetry correlation only. */
  readonly sagaId?: string;
}

export interface WriteReceiptInput {
  readonly sourceRegion: string;
  readonly receipt: SyncReceipt;
  /** When the broker enqueued the event (an applied receipt then records the order latency). */
  readonly enqueuedTimeUtc?: string;
}

export type WriteReceiptOutput =
  | { readonly kind: 'written' }
  | { readonly kind: 'rejected'; readonly reason: string; readonly detail: string };

export const orderActivities = {
  /** Snapshot (kept once per saga) + upsert of header and lines. */
  upsertHubOrder: contract<OrderStepInput, UpsertHubOrderOutput>('orderUpsertHub', 'orderStep'),
  registerAfterSales: contract<OrderStepInput, RegisterAfterSalesOutput>(
    'orderRegisterAfterSales',
    'orderStep',
  ),
  writeReceipt: contract<WriteReceiptInput, WriteReceiptOutput>('orderWriteReceipt', 'orderStep'),
  restoreHubOrder: contract<RestoreHubOrderInput, RestoreHubOrderOutput>('orderRestoreHub', 'compensation'),
  removeAfterSales: contract<RemoveAfterSalesInput, { readonly kind: 'removed'; readonly count: number }>(
    'orderRemoveAfterSales',
    'compensation',
  ),
  /** Whether an orchestration holding an order's turn still runs (the durable client's status). */
  runnerStatus: contract<RunnerStatusInput, RunnerStatusOutput>('orderRunnerStatus', 'planning'),
} as const;

export interface RunnerStatusInput {
  readonly instanceId: string;
}

export interface RunnerStatusOutput {
  /** Running, Pending, ContinuedAsNew or Suspended (a person's deliberate pause keeps its turn). */
  readonly alive: boolean;
  /** The runtime status, or `missing` when the instance does not exist (purged). */
  readonly status: string;
}

// ---- orchestrations ----------------------------------------------------------------------------

/** One apply of the saga (orchestrators/orderApply.ts), run inline by the orderIngest runner. */
export interface OrderApplyInput {
  readonly event: OrderEvent;
  /** `order-sea-1234-v7`: the audit run id and the key of the hub snapshot the compensation restores. */
  readonly sagaId: string;
  /** Versions folded into this apply (for the log). */
  readonly coalesced: readonly number[];
}

export interface OrderApplyOutput {
  readonly kind: 'applied' | 'stale' | 'failed';
  readonly version: number;
  /** The hub's version of the order once the saga ended. */
  readonly hubVersion: number | null;
  readonly reason: string | null;
  /** Compensations that ran, in the order they ran. */
  readonly compensated: readonly string[];
}

/**
 * Input of orderIngest: an event to offer; a turn to take from a runner that stopped (the unstick
 * endpoint); or, after continue-as-new, a decision to act on.
 */
export type OrderIngestInput =
  | { readonly kind: 'offer'; readonly event: OrderEvent }
  | {
      readonly kind: 'takeover';
      readonly region: string;
      readonly orderId: string;
      readonly staleRunner: string;
      readonly reason: string;
    }
  | {
      readonly kind: 'resume';
      readonly region: string;
      readonly orderId: string;
      readonly decision: unknown;
    };

export const orderOrchestrators = {
  /** Undefined when it continued as new. */
  orderIngest: { name: 'orderIngest' } as OrchestratorContract<
    OrderIngestInput,
    OrderIngestOutput | undefined
  >,
} as const;

/** The per-order entity's name (instances are `orderSync@{region}:{orderId}`). */
export const ORDER_SYNC_ENTITY = 'orderSync';

/** Operations of the orderSync entity. */
export const orderSyncOps = {
  offer: 'offer',
  completed: 'completed',
  takeOver: 'takeOver',
  get: 'get',
} as const;

/** The ingest orchestration of one delivered event: `orderevent-sea-1234-v7`. */
export function ingestInstanceId(region: string, orderId: string, version: number): string {
  return `orderevent-${region}-${orderId}-v${version}`;
}

/** The orchestration an unstick request starts: `orderunstick-sea-1234-<ms>`. */
export function unstickInstanceId(region: string, orderId: string, at: Date): string {
  return `orderunstick-${region}-${orderId}-${at.getTime()}`;
}
