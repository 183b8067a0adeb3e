/**
 * Telemetry of activities, beside them rather than inside: each registered activity is wrapped so
 * that its outcome is logged as one JSON line through the invocation's context, with the
 * correlation fields its typed input carries (run id, link, page / order, version, saga), and the
 * metrics are recorded from its output. A thrown fault is logged (`activityFailed`) and rethrown.
 */
import type { InvocationTelemetry, LogSink, Telemetry } from '../adapters/telemetry.js';
import type { LinkId } from '../sync/model.js';
import type { Correlation } from '../sync/telemetry.js';
import { METRIC, TELEMETRY_EVENT, linkLabel, millisSince, secondsSince } from '../sync/telemetry.js';
import type {
  activities,
  ApplyPageInput,
  ApplyPageOutput,
  BeginLinkInput,
  BeginLinkOutput,
  ExtractPageInput,
  ExtractPageOutput,
  InputOf,
  OutputOf,
  RepairCounts,
  RepairRangeInput,
  WriteReportInput,
  WriteReportOutput,
} from './contracts.js';
import type {
  orderActivities,
  OrderStepInput,
  RemoveAfterSalesInput,
  RestoreHubOrderInput,
  WriteReceiptInput,
  WriteReceiptOutput,
} from './orderContracts.js';

/** How an activity's input names its correlation and what its outcome logs and measures. */
export interface Described<I, O> {
  correlation(input: I): Correlation;
  done?(input: I, output: O, t: InvocationTelemetry, correlation: Correlation, now: Date): void;
}

/** Telemetry per activity of a group of contracts, typed by each contract. */
export type TelemetryOf<C> = { readonly [K in keyof C]?: Described<InputOf<C[K]>, OutputOf<C[K]>> };

const linkFields = (link: LinkId, runId?: string): Correlation => ({
  ...(runId === undefined ? {} : { flowRunId: runId }),
  flow: link.flow,
  link: linkLabel(link),
});

/** The first line of a fault's message (at most 500 characters): what a log line says went wrong. */
export const firstLine = (e: unknown): string => {
  const text = e instanceof Error ? e.message : String(e);
  return (text.split('\n', 1)[0] ?? text).slice(0, 500);
};

const beginLink: Described<BeginLinkInput, BeginLinkOutput> = {
  correlation: (i) => ({ ...linkFields(i.link, i.runId), table: i.table }),
  done: (i, o, t, c) =>
    t.log.info(TELEMETRY_EVENT.tableBegun, {
      ...c,
      backfill: i.backfill,
      upTo: o.upTo,
      resumeAfter: o.after?.change ?? null,
    }),
};

const extractPage: Described<ExtractPageInput, ExtractPageOutput> = {
  correlation: (i) => ({ ...linkFields(i.link, i.runId), table: i.table, page: i.page }),
  done: (_i, o, t, c) =>
    t.log.info(TELEMETRY_EVENT.pageExtracted, { ...c, read: o.read, staged: o.rows, hasMore: o.hasMore }),
};

const applyPage: Described<ApplyPageInput, ApplyPageOutput> = {
  correlation: (i) => ({ ...linkFields(i.link, i.runId), table: i.table, page: i.page }),
  done: (i, o, t, c, now) => {
    if (o.kind === 'rejected') {
      t.log.warn(TELEMETRY_EVENT.pageRejected, { ...c, reason: o.reason, detail: o.detail });
      return;
    }
    if (o.kind === 'staged-page-missing') {
      t.log.warn(TELEMETRY_EVENT.pageMissing, { ...c, blob: o.blob });
      return;
    }
    const rowsMoved = o.inserted + o.updated;
    const lag = o.newestModifiedAt === undefined ? null : secondsSince(o.newestModifiedAt, now);
    t.log.info(TELEMETRY_EVENT.pageApplied, {
      ...c,
      inserted: o.inserted,
      updated: o.updated,
      unchanged: o.unchanged,
      lostConflicts: o.lostConflicts,
      rowsMoved,
      ...(lag === null ? {} : { lagSeconds: lag }),
    });
    const dims = { flow: i.link.flow, link: linkLabel(i.link) };
    t.metrics.record(METRIC.rowsMoved, rowsMoved, dims);
    if (lag !== null) t.metrics.record(METRIC.syncLagSeconds, lag, dims);
  },
};

const repairRange: Described<RepairRangeInput, RepairCounts> = {
  correlation: (i) => ({ ...linkFields(i.link, i.runId), table: i.table }),
  done: (i, o, t, c) => t.log.info(TELEMETRY_EVENT.rangeRepaired, { ...c, dryRun: i.dryRun, ...o }),
};

const writeReport: Described<WriteReportInput, WriteReportOutput> = {
  correlation: (i) => ({ flowRunId: i.runId, flow: i.flow }),
  done: (_i, o, t, c) => t.log.info(TELEMETRY_EVENT.reportWritten, { ...c, blob: o.blob }),
};

/** Batch-sync activities with their telemetry (the others log only their faults). */
export const batchTelemetry: TelemetryOf<typeof activities> = {
  beginLink,
  extractPage,
  applyPage,
  repairRange,
  writeReport,
  planFlow: { correlation: (i: { flow: string }) => ({ flow: i.flow }) },
  recordRun: {
    correlation: (i: { record: { flow: string; runId: string } }) => ({
      flow: i.record.flow,
      flowRunId: i.record.runId,
    }),
  },
  compareLink: {
    correlation: (i: { link: LinkId; table: string }) => ({ ...linkFields(i.link), table: i.table }),
  },
};

// ---- the order saga -----------------------------------------------------------------------------

const sagaStep = (step: string): Described<OrderStepInput, { kind: string }> => ({
  correlation: (i) => ({
    orderId: i.event.orderId,
    region: i.event.region,
    version: i.event.version,
    sagaId: i.sagaId,
  }),
  done: (_i, o, t, c) => {
    const rejected = o.kind === 'rejected' ? (o as unknown as { reason: string; detail: string }) : null;
    const fields = { ...c, step, outcome: o.kind, ...(rejected ?? {}) };
    if (rejected !== null) t.log.warn(TELEMETRY_EVENT.sagaStep, fields);
    else t.log.info(TELEMETRY_EVENT.sagaStep, fields);
  },
});

const writeReceipt: Described<WriteReceiptInput, WriteReceiptOutput> = {
  correlation: (i) => ({
    orderId: i.receipt.orderId,
    region: i.sourceRegion,
    version: i.receipt.version,
    sagaId: i.receipt.sagaId,
  }),
  done: (i, o, t, c, now) => {
    const latency =
      o.kind === 'written' && i.receipt.status === 'applied' ? millisSince(i.enqueuedTimeUtc, now) : null;
    t.log.info(TELEMETRY_EVENT.sagaStep, {
      ...c,
      step: 'writeReceipt',
      outcome: o.kind,
      status: i.receipt.status,
      ...(o.kind === 'rejected' ? { reason: o.reason, detail: o.detail } : {}),
      ...(latency === null ? {} : { latencyMs: latency }),
    });
    if (latency !== null) t.metrics.record(METRIC.orderLatencyMs, latency, { region: i.sourceRegion });
  },
};

const restoreHubOrder: Described<RestoreHubOrderInput, { kind: string }> = {
  correlation: (i) => ({
    sagaId: i.sagaId,
    region: i.sourceRegion,
    ...(i.orderId === undefined ? {} : { orderId: i.orderId }),
    ...(i.version === undefined ? {} : { version: i.version }),
  }),
  done: (_i, o, t, c) =>
    t.log.info(TELEMETRY_EVENT.sagaStep, { ...c, step: 'restoreHubOrder', outcome: o.kind }),
};

const removeAfterSales: Described<RemoveAfterSalesInput, { kind: string; count: number }> = {
  correlation: (i) => ({
    orderId: i.orderId,
    version: i.version,
    ...(i.sagaId === undefined ? {} : { sagaId: i.sagaId }),
    ...(i.sourceRegion === undefined ? {} : { region: i.sourceRegion }),
  }),
  done: (_i, o, t, c) =>
    t.log.info(TELEMETRY_EVENT.sagaStep, { ...c, step: 'removeAfterSales', outcome: o.kind, count: o.count }),
};

/** Order-saga activities with their telemetry, keyed like orderActivities. */
export const orderTelemetry: TelemetryOf<typeof orderActivities> = {
  upsertHubOrder: sagaStep('upsertHubOrder'),
  registerAfterSales: sagaStep('registerAfterSales'),
  writeReceipt,
  restoreHubOrder,
  removeAfterSales,
};

/**
 * Wraps an activity handler: the returned function takes the raw input and the invocation's
 * context (or any log sink) as the host passes them, parses the input (`parse`, e.g. its zod
 * schema), logs the outcome or the fault (a refused input included) with the input's correlation,
 * and returns what the handler returned.
 */
export function withTelemetry<I, O>(
  activity: string,
  handler: (input: I) => Promise<O>,
  described: Described<I, O> | undefined,
  telemetry: Telemetry,
  now: () => Date,
  parse: (raw: unknown) => I = (raw) => raw as I,
): (input: unknown, sink: LogSink) => Promise<O> {
  return async (raw, sink) => {
    const t = telemetry.forInvocation(sink);
    let correlation: Correlation = {};
    try {
      correlation = described?.correlation(raw as I) ?? {};
    } catch {
      // an input parse will refuse anyway
    }
    let input: I;
    let output: O;
    try {
      input = parse(raw);
      output = await handler(input);
    } catch (e) {
      t.log.error(TELEMETRY_EVENT.activityFailed, { ...correlation, activity, error: firstLine(e) });
      throw e;
    }
    try {
      described?.done?.(input, output, t, correlation, now());
    } catch {
      // Telemetry never fails the work it describes.
    }
    return output;
  };
}
