/**
 * The order saga's steps and compensations (ARCHITECTURE §6.4), as factories over the order
 * runtime's ports. Each is idempotent: run twice, it leaves what one run leaves. Business outcomes
 * (a stale version, an unknown SKU, a residency refusal) come back as values; only faults a retry
 * can cure are thrown, and a fault no retry can cure becomes a rejection so it is not retried.
 */
import { conflictPolicyFor } from '../sync/topology.js';
import { policyLabel } from '../sync/conflict.js';
import { SyncError, toSyncError } from '../sync/errors.js';
import type { ResidencyGuard, SqlValue, SyncRow } from '../sync/model.js';
import { orderAggregateOf } from '../sync/orderEvent.js';
import { planEntitlements } from '../sync/orderSaga.js';
import { applyResidency, guardFor, residencyLabel } from '../sync/residency.js';
import { residencyFor } from '../sync/topology.js';
import type {
  OrderStepInput,
  RegisterAfterSalesOutput,
  RemoveAfterSalesInput,
  RestoreHubOrderInput,
  RestoreHubOrderOutput,
  UpsertHubOrderOutput,
  WriteReceiptInput,
  WriteReceiptOutput,
} from './orderContracts.js';
import type { OrderRuntime } from './orderRuntime.js';

type Deps = Pick<
  OrderRuntime,
  'topology' | 'pseudonymKey' | 'flow' | 'hub' | 'rules' | 'store' | 'sagaStore' | 'now'
>;

/** Runs a step; a non-retryable fault is returned as a rejection instead of thrown (and retried). */
async function asOutcome<T>(
  step: () => Promise<T>,
): Promise<T | { readonly kind: 'rejected'; readonly reason: string; readonly detail: string }> {
  try {
    return await step();
  } catch (e) {
    const err = toSyncError(e);
    if (err.retryable) throw err;
    return { kind: 'rejected', reason: err.code, detail: err.message };
  }
}

const versionOf = (v: SqlValue | undefined): number | null =>
  typeof v === 'number' ? v : v === undefined || v === null ? null : Number(v);

/**
 * Snapshots the hub's order (kept once per saga, so a retry after a crash does not snapshot its
 * own write), then upserts header and lines in the hub, after the link's residency policy (e.g.
 * EU PII dropped or pseudonymized) and re-checked by its guard; the crossing is audited in the hub
 * under the saga id.
 */
export function createUpsertHubOrder(deps: Deps) {
  return async function upsertHubOrder(input: OrderStepInput): Promise<UpsertHubOrderOutput> {
    const { event } = input;
    const hub = await deps.store(deps.hub);
    const sagaStore = await deps.sagaStore(deps.hub);
    const snapshot = await sagaStore.keepSnapshot(
      input.sagaId,
      () => hub.snapshotOrder(deps.rules.tables, { region: event.region, orderId: event.orderId }),
      deps.now().toISOString(),
    );
    const before = versionOf(snapshot.aggregate?.header.values[deps.rules.tables.versionColumn]);
    const outcome = await asOutcome(async () => {
      const link = { flow: deps.flow.name, source: event.region, target: deps.hub };
      const { header, lines } = deps.rules.tables;
      const headerPolicy = residencyFor(deps.flow, link, header.canonical);
      const linePolicy = residencyFor(deps.flow, link, lines.canonical);
      const aggregate = orderAggregateOf(event, deps.rules);
      const keys = { pseudonymKey: deps.pseudonymKey };
      const outHeader = applyResidency(aggregate.header, headerPolicy, link, keys);
      const outLines = aggregate.lines
        .map((l) => applyResidency(l, linePolicy, link, keys))
        .filter((l): l is SyncRow => l !== null);
      if (outHeader === null || outLines.length !== aggregate.lines.length)
        return {
          kind: 'rejected',
          reason: 'residency-held-back',
          detail: `the ${link.source}>${link.target} residency policy keeps this order in ${link.source}`,
        } as const;
      const hGuard = guardFor(headerPolicy);
      const lGuard = guardFor(linePolicy);
      const guard: ResidencyGuard = {
        forbiddenColumns: [...new Set([...hGuard.forbiddenColumns, ...lGuard.forbiddenColumns])],
        pseudonymizedColumns: [...new Set([...hGuard.pseudonymizedColumns, ...lGuard.pseudonymizedColumns])],
      };
      const result = await hub.replaceOrder(deps.rules.tables, { header: outHeader, lines: outLines }, guard);
      const rows = 1 + outLines.length;
      await hub.recordAudit({
        ...link,
        runId: input.sagaId,
        effect: 'upsert',
        table: header.canonical,
        rows,
        written: result.kind === 'applied' ? rows : 0,
        policy: `${policyLabel(conflictPolicyFor(deps.topology, deps.flow))}; ${residencyLabel(headerPolicy)}; realtime`,
        at: deps.now().toISOString(),
      });
      if (result.kind === 'rejected')
        return { kind: 'rejected', reason: result.reason, detail: result.detail } as const;
      return result;
    });
    return { ...outcome, before };
  };
}

/** Registers a warranty entitlement per device line in the hub; unknown SKUs reject the order. */
export function createRegisterAfterSales(deps: Deps) {
  return async function registerAfterSales(input: OrderStepInput): Promise<RegisterAfterSalesOutput> {
    return asOutcome(async () => {
      const { event } = input;
      const aggregate = orderAggregateOf(event, deps.rules);
      const lines = event.op === 'delete' ? [] : aggregate.lines;
      const saga = await deps.sagaStore(deps.hub);
      const catalog = await saga.lookupProducts(lines.map((l) => String(l.values.sku)));
      const plan = planEntitlements(
        {
          orderId: event.orderId,
          version: event.version,
          sourceRegion: event.region,
          startsAt: event.changedAt,
          lines,
        },
        catalog,
      );
      if (plan.kind === 'unknown-skus')
        return {
          kind: 'rejected',
          reason: 'unknown-sku',
          detail: `the hub catalog does not know ${plan.skus.join(', ')}`,
        } as const;
      const order = { region: event.region, orderId: event.orderId };
      const count = await saga.registerEntitlements(order, event.version, plan.rows);
      return { kind: 'registered', entitlements: count } as const;
    });
  };
}

/** Writes the receipt in the source region (a crossing hub -> source, audited there). */
export function createWriteReceipt(deps: Deps) {
  return async function writeReceipt(input: WriteReceiptInput): Promise<WriteReceiptOutput> {
    return asOutcome(async () => {
      const saga = await deps.sagaStore(input.sourceRegion);
      await saga.writeReceipt(
        input.sourceRegion,
        input.enqueuedTimeUtc === undefined || input.receipt.status !== 'applied'
          ? input.receipt
          : { ...input.receipt, enqueuedAt: input.enqueuedTimeUtc },
      );
      const source = await deps.store(input.sourceRegion);
      await source.recordAudit({
        flow: deps.flow.name,
        source: deps.hub,
        target: input.sourceRegion,
        runId: input.receipt.sagaId,
        effect: `receipt ${input.receipt.status}`,
        table: 'order_sync_receipt',
        rows: 1,
        written: 1,
        policy: `receipt ${input.receipt.status}`,
        at: deps.now().toISOString(),
      });
      return { kind: 'written' } as const;
    });
  };
}

/**
 * Compensation of the upsert: puts the hub's order back as the snapshot held it, but only while
 * the hub still holds the version this saga wrote; a newer write since (a nightly batch page, a
 * later saga) is kept. Throws on any failure (a compensation is retried with its long profile;
 * giving up is an incident, not a value).
 */
export function createRestoreHubOrder(deps: Deps) {
  return async function restoreHubOrder(input: RestoreHubOrderInput): Promise<RestoreHubOrderOutput> {
    const snapshot = await (await deps.sagaStore(deps.hub)).readSnapshot(input.sagaId);
    // No snapshot: the upsert never got as far as changing anything.
    if (snapshot === null) return { kind: 'restored' };
    const hub = await deps.store(deps.hub);
    const result = await hub.restoreOrder(
      deps.rules.tables,
      { ...snapshot, region: snapshot.region ?? input.sourceRegion },
      input.version,
    );
    await hub.recordAudit({
      flow: deps.flow.name,
      source: input.sourceRegion,
      target: deps.hub,
      runId: input.sagaId,
      effect: 'restore',
      table: deps.rules.tables.header.canonical,
      rows: 0,
      written: 0,
      policy:
        result.kind === 'restored'
          ? 'compensation: restored snapshot'
          : `compensation: superseded (the hub holds v${String(result.currentVersion)}), kept`,
      at: deps.now().toISOString(),
    });
    return result;
  };
}

export function createRemoveAfterSales(deps: Deps) {
  return async function removeAfterSales(
    input: RemoveAfterSalesInput,
  ): Promise<{ readonly kind: 'removed'; readonly count: number }> {
    if (!Number.isInteger(input.version)) throw new SyncError('invalid-config', 'version must be an integer');
    const saga = await deps.sagaStore(deps.hub);
    const order = { region: input.sourceRegion, orderId: input.orderId };
    return { kind: 'removed', count: await saga.removeEntitlements(order, input.version) };
  };
}
