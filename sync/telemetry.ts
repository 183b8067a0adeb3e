/**
 * The telemetry contract (docs/deploy.md §8), in one place: event names, the correlation fields
 * every log line may carry, metric names and their dimensions, and the one-JSON-object-per-line
 * format. Pure: the ports below are implemented by adapters/telemetry*.ts (activities, triggers)
 * and by orchestrators/replaySafeLog.ts (orchestrations, logging only when not replaying).
 */
import type { LinkId } from './model.js';

/** What happened. Application Insights queries filter on `event`. */
export const TELEMETRY_EVENT = {
  // batch sync
  runRequested: 'runRequested',
  runStarted: 'runStarted',
  runFinished: 'runFinished',
  runFailed: 'runFailed',
  linkStarted: 'linkStarted',
  linkFinished: 'linkFinished',
  linkFailed: 'linkFailed',
  linkReconciled: 'linkReconciled',
  tableBegun: 'tableBegun',
  pageExtracted: 'pageExtracted',
  pageApplied: 'pageApplied',
  pageRejected: 'pageRejected',
  pageMissing: 'pageMissing',
  rangeRepaired: 'rangeRepaired',
  reportWritten: 'reportWritten',
  runRecordFailed: 'runRecordFailed',
  // staging retention (the daily purgeStaging timer)
  stagingPurged: 'stagingPurged',
  stagingPurgeFailed: 'stagingPurgeFailed',
  // order sync
  orderReceived: 'orderReceived',
  orderOffered: 'orderOffered',
  sagaStarted: 'sagaStarted',
  sagaStep: 'sagaStep',
  sagaStepFailed: 'sagaStepFailed',
  orderApplied: 'orderApplied',
  orderStale: 'orderStale',
  orderFailed: 'orderFailed',
  orderCompensated: 'orderCompensated',
  orderTakenOver: 'orderTakenOver',
  compensationRun: 'compensationRun',
  deadLettered: 'deadLettered',
  deadLetterReplayed: 'deadLetterReplayed',
  // any activity that threw (retried by its profile, or given up)
  activityFailed: 'activityFailed',
  // a measurement written as a log line (devhost, or where no metrics exporter is configured)
  metric: 'metric',
} as const;

export type TelemetryEventName = (typeof TELEMETRY_EVENT)[keyof typeof TELEMETRY_EVENT];

/**
 * Correlation fields, named the same from trigger to activity. `flowRunId` is the run id of a
 * batch run (`{flowSync instance id}.{start stamp}`, e.g. `pricing-incremental.20261127T030512.345Z`),
 * `link` is `{source}->{target}`, `instanceId` the emitting orchestration's durable instance id.
 */
export interface Correlation {
  readonly flowRunId?: string;
  readonly flow?: string;
  readonly link?: string;
  readonly table?: string;
  readonly page?: number;
  readonly orderId?: string;
  readonly region?: string;
  readonly version?: number;
  readonly sagaId?: string;
  readonly instanceId?: string;
  readonly messageId?: string;
  readonly sessionId?: string;
}

/** Anything else a line says (counts, reasons, durations): JSON scalars only. */
export type TelemetryFields = Correlation &
  Readonly<Record<string, string | number | boolean | null | undefined>>;

export type TelemetryLevel = 'info' | 'warn' | 'error';

/** Structured logging: one JSON object per event. */
export interface TelemetryLog {
  info(event: TelemetryEventName, fields?: TelemetryFields): void;
  warn(event: TelemetryEventName, fields?: TelemetryFields): void;
  error(event: TelemetryEventName, fields?: TelemetryFields): void;
}

/** Custom metrics, one name per measurement. */
export const METRIC = {
  /** Rows applied (inserted + updated) per page; dimensions flow, link. Sum it. */
  rowsMoved: 'regionsync.rows_moved',
  /** Now minus the newest applied row's modified_at, per applied page; dimensions flow, link. */
  syncLagSeconds: 'regionsync.sync_lag_seconds',
  /** Broker enqueued time -> the saga's applied receipt; dimension region. */
  orderLatencyMs: 'regionsync.order_latency_ms',
  /** Messages the order trigger dead-lettered (1 each), and the list endpoint's count as a gauge; dimension queue. */
  deadLetterCount: 'regionsync.dead_letter_count',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** The dimensions each metric carries (and no others: cardinality stays bounded). */
export interface MetricDimensions {
  readonly 'regionsync.rows_moved': { readonly flow: string; readonly link: string };
  readonly 'regionsync.sync_lag_seconds': { readonly flow: string; readonly link: string };
  readonly 'regionsync.order_latency_ms': { readonly region: string };
  readonly 'regionsync.dead_letter_count': { readonly queue: string; readonly source?: string };
}

/** The metrics port: record one measurement. Implementations never throw. */
export interface Metrics {
  record<N extends MetricName>(name: N, value: number, dimensions: MetricDimensions[N]): void;
}

/** A link as the telemetry names it: `cn->sea`. */
export function linkLabel(link: Pick<LinkId, 'source' | 'target'>): string {
  return `${link.source}->${link.target}`;
}

/**
 * The log message of one event: a JSON object with `event` first, then the base fields (`zone`),
 * then the event's fields; undefined fields are left out. KQL reads it with parse_json(message).
 */
export function telemetryLine(
  event: TelemetryEventName,
  base: Readonly<Record<string, string | undefined>>,
  fields: TelemetryFields = {},
): string {
  const out: Record<string, unknown> = { event };
  for (const [k, v] of Object.entries(base)) if (v !== undefined) out[k] = v;
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && k !== 'event') out[k] = v;
  return JSON.stringify(out);
}

/** Whole seconds from an ISO timestamp to `now` (never negative: clocks of regions differ a little). */
export function secondsSince(iso: string, now: Date): number | null {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return null;
  return Math.max(0, Math.round((now.getTime() - t) / 1000));
}

/** Milliseconds from an ISO timestamp to `now`, or null when the timestamp is not one. */
export function millisSince(iso: string | null | undefined, now: Date): number | null {
  if (iso === null || iso === undefined) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? Math.max(0, now.getTime() - t) : null;
}
