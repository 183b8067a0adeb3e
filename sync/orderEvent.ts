/**
 * The order-change event a regional CRM publishes to the `order-events` queue (ARCHITECTURE §6),
 * its validation, and its mapping onto the order aggregate of the `orders` flow.
 *
 * Every event is a full snapshot of the order at `version` (header + every live line), so any
 * newer version supersedes all older ones: that is what lets the per-order entity coalesce.
 * Validation is pure and total: it returns the reasons instead of throwing, so the trigger can
 * dead-letter a malformed message with them.
 */
import { z } from 'zod';
import type { OrderAggregate, RegionId, SqlValue, SyncRow } from './model.js';
import type { OrderTables } from './ports.js';
import type { Flow, FlowTable, Topology } from './topology.js';
import { hubOf, linksOf, tableMappingFor } from './topology.js';

/** Upper bound on lines per order: keeps one event (and the entity state holding it) small. */
export const ORDER_EVENT_MAX_LINES = 500;

const sqlValue = z.union([z.string().max(4000), z.number().finite(), z.boolean(), z.null()]);
const columnName = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'not a canonical column name');

const ISO_INSTANT =
  /^(\d{4})-?(\d{2})-?(\d{2})[Tt](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/;

/**
 * An ISO-8601 instant (calendar date, time to the minute or finer, `Z` or an offset; extended or
 * basic format; `.` or `,` before a fraction) as `toISOString()` UTC with milliseconds (finer
 * fractions are truncated), or null. A date or time without a zone is not an instant.
 */
export function isoInstant(text: string): string | null {
  const m = ISO_INSTANT.exec(text);
  if (m === null) return null;
  const [y, mo, d, h, mi] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const sec = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  const offsetMin =
    m[8] !== undefined ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11] ?? 0));
  if (
    mo < 1 ||
    mo > 12 ||
    h > 23 ||
    mi > 59 ||
    sec > 59 ||
    Number(m[10] ?? 0) > 23 ||
    Number(m[11] ?? 0) > 59
  )
    return null;
  const local = Date.UTC(y, mo - 1, d, h, mi, sec, ms);
  if (new Date(local).getUTCDate() !== d) return null; // 2026-02-30 and the like
  const at = new Date(local - offsetMin * 60_000);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

/** Order ids travel in session ids (`{region}:{orderId}`) and instance ids: no ':' '/' '#' '?'. */
export const ORDER_ID_PATTERN = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const orderEventSchema = z
  .object({
    region: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'not a region id'),
    orderId: z.string().regex(ORDER_ID_PATTERN, 'letters, digits, . _ - only (no ..), at most 64'),
    version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    // Any ISO-8601 instant, kept as canonical UTC with milliseconds: modified_at is compared as
    // text in the stores.
    changedAt: z.string().transform((v, ctx) => {
      const instant = isoInstant(v);
      if (instant === null) {
        ctx.addIssue({
          code: 'custom',
          message: 'not an ISO-8601 instant (a date and time with Z or an offset, e.g. 2026-12-04T13:00:00Z)',
        });
        return z.NEVER;
      }
      return instant;
    }),
    op: z.enum(['upsert', 'delete']),
    order: z.record(columnName, sqlValue),
    lines: z
      .array(
        z
          .object({ line_no: z.number().int().nonnegative(), sku: z.string().min(1).max(64) })
          .catchall(sqlValue),
      )
      .max(ORDER_EVENT_MAX_LINES),
  })
  .strict();

export type OrderEvent = z.infer<typeof orderEventSchema>;

/**
 * Canonical columns that count or price something: never negative in an order event (a return
 * or credit note is its own document, not a negative order).
 */
export const NON_NEGATIVE_COLUMNS: ReadonlySet<string> = new Set([
  'quantity',
  'unit_price',
  'line_amount',
  'total_amount',
]);

function negativeProblem(path: string, column: string, value: unknown): string | null {
  if (!NON_NEGATIVE_COLUMNS.has(column)) return null;
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return n < 0 ? `${path}: must not be negative, got ${String(value)}` : null;
}

/** What a message carries beside its body (the trigger's metadata). */
export interface OrderMessageMeta {
  readonly messageId?: string | undefined;
  readonly sessionId?: string | undefined;
}

/** What the `orders` flow allows in an event, derived once from the topology. */
export interface OrderEventRules {
  /** Regions that may publish order events (the flow's sources into the hub). */
  readonly sourceRegions: readonly RegionId[];
  readonly tables: OrderTables;
  /** Canonical column of the header naming the order's home region, when the flow has one. */
  readonly homeRegionColumn?: string | undefined;
}

export type OrderEventParse =
  | { readonly ok: true; readonly event: OrderEvent }
  | { readonly ok: false; readonly reason: string; readonly issues: readonly string[] };

export const sessionIdOf = (region: RegionId, orderId: string): string => `${region}:${orderId}`;
export const messageIdOf = (region: RegionId, orderId: string, version: number): string =>
  `${region}:${orderId}:${version}`;

function fail(reason: string, issues: readonly string[]): OrderEventParse {
  return { ok: false, reason, issues };
}

/**
 * Validates one message body (text or already-parsed JSON) against the schema, the message's own
 * ids and the flow's columns. The first failing stage names the reason; `issues` lists every
 * problem of that stage with its path.
 */
export function parseOrderMessage(
  body: unknown,
  meta: OrderMessageMeta,
  rules: OrderEventRules,
): OrderEventParse {
  let value = body;
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const text = typeof body === 'string' ? body : new TextDecoder().decode(body);
    try {
      value = JSON.parse(text) as unknown;
    } catch (e) {
      return fail('invalid-json', [(e as Error).message]);
    }
  }
  const parsed = orderEventSchema.safeParse(value);
  if (!parsed.success) {
    return fail(
      'schema',
      parsed.error.issues.map((i) => `${i.path.length === 0 ? '(root)' : i.path.join('.')}: ${i.message}`),
    );
  }
  const event = parsed.data;
  const problems: string[] = [];
  if (!rules.sourceRegions.includes(event.region))
    problems.push(
      `region: '${event.region}' does not publish orders (expected one of ${rules.sourceRegions.join(', ')})`,
    );
  const sessionId = sessionIdOf(event.region, event.orderId);
  if (meta.sessionId !== undefined && meta.sessionId !== sessionId)
    problems.push(`sessionId: '${meta.sessionId}' should be '${sessionId}'`);
  const messageId = messageIdOf(event.region, event.orderId, event.version);
  if (meta.messageId !== undefined && meta.messageId !== messageId)
    problems.push(`messageId: '${meta.messageId}' should be '${messageId}'`);
  const { header, lines, versionColumn, orderColumn, regionColumn } = rules.tables;
  const headerColumns = new Set(Object.keys(header.columns));
  const owned = new Set([orderColumn, versionColumn, regionColumn]);
  for (const [c, v] of Object.entries(event.order)) {
    if (owned.has(c)) problems.push(`order.${c}: set from the event's own fields, not the order`);
    else if (!headerColumns.has(c)) problems.push(`order.${c}: not a column of ${header.canonical}`);
    const negative = negativeProblem(`order.${c}`, c, v);
    if (negative !== null) problems.push(negative);
  }
  const lineColumns = new Set(Object.keys(lines.columns));
  const seen = new Set<number>();
  event.lines.forEach((line, i) => {
    if (seen.has(line.line_no)) problems.push(`lines.${i}.line_no: ${line.line_no} repeated`);
    seen.add(line.line_no);
    for (const [c, v] of Object.entries(line)) {
      if (owned.has(c) && c !== 'line_no') problems.push(`lines.${i}.${c}: set from the event, not the line`);
      else if (!lineColumns.has(c)) problems.push(`lines.${i}.${c}: not a column of ${lines.canonical}`);
      const negative = negativeProblem(`lines.${i}.${c}`, c, v);
      if (negative !== null) problems.push(negative);
    }
  });
  if (event.op === 'delete' && event.lines.length > 0)
    problems.push('lines: a delete carries no lines (every line of a deleted order is removed)');
  if (problems.length > 0) return fail('contract', problems);
  return { ok: true, event };
}

/**
 * The order aggregate an event describes, in canonical columns: the order id, version and home
 * region come from the event itself; a delete is a tombstone header with no lines (the store turns
 * every existing line into a tombstone).
 */
export function orderAggregateOf(event: OrderEvent, rules: OrderEventRules): OrderAggregate {
  const { versionColumn, orderColumn, regionColumn } = rules.tables;
  // The order's key (origin region, order id) comes from the event, on the header and every line.
  const key: Record<string, SqlValue> = { [regionColumn]: event.region, [orderColumn]: event.orderId };
  const meta = { modifiedAt: event.changedAt, originRegion: event.region };
  const headerRow: SyncRow = {
    values: { ...event.order, [versionColumn]: event.version, ...key },
    ...meta,
    isDeleted: event.op === 'delete',
  };
  const lines: SyncRow[] = event.lines.map((line) => ({
    values: { ...line, ...key },
    ...meta,
    isDeleted: false,
  }));
  return { header: headerRow, lines };
}

/** A message the trigger refused, kept with its reason until someone fixes and replays it. */
export interface DeadLetteredOrderEvent {
  /** Derived from the message id and sequence number: a redelivery rewrites the same record. */
  readonly id: string;
  readonly reason: string;
  readonly issues: readonly string[];
  readonly deadLetteredAt: string;
  readonly message: {
    readonly messageId: string | null;
    readonly sessionId: string | null;
    readonly sequenceNumber: number | null;
    readonly enqueuedTimeUtc: string | null;
    readonly deliveryCount: number | null;
    /** The body as received (text). */
    readonly body: string;
  };
  /** Replay attempts, oldest first. */
  readonly replays: readonly {
    readonly at: string;
    readonly outcome: 'accepted' | 'invalid';
    readonly instanceId?: string;
    readonly reason?: string;
    readonly issues?: readonly string[];
  }[];
}

/** Where refused order events are kept (the app's own dead-letter destination). */
export interface OrderDeadLetters {
  /** Stores (or rewrites) a record. Throws only transient faults. */
  put(record: DeadLetteredOrderEvent): Promise<void>;
  get(id: string): Promise<DeadLetteredOrderEvent | null>;
  /** Newest first, at most `max`. */
  list(max: number): Promise<readonly DeadLetteredOrderEvent[]>;
}

/**
 * A record id that is a safe blob/URL segment: `sea_1234_7-42`. Hostile message ids (`sea:../x:1`,
 * `a/b`) are flattened: no separators and no `..`, which the store refuses as a path trick; the
 * sequence number keeps flattened ids apart.
 */
export function deadLetterId(messageId: string | null, sequenceNumber: number | null): string {
  const base = (messageId ?? 'no-message-id')
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/\.{2,}/g, (dots) => '_'.repeat(dots.length))
    .slice(0, 150);
  return `${base}-${sequenceNumber ?? 0}`;
}

/** The canonical column holding an order's version (ARCHITECTURE §3). */
export const ORDER_VERSION_COLUMN = 'version';

/** The realtime flow carrying orders, and what its events may hold, from the topology. */
export function orderFlowRules(topology: Topology): {
  readonly flow: Flow;
  readonly hub: RegionId;
  readonly rules: OrderEventRules;
} {
  const flow = topology.flows.find(
    (f) => f.realtime && f.tables.length >= 2 && f.direction !== 'hub-to-spokes',
  );
  if (flow === undefined) throw new Error('the topology has no realtime flow of orders into the hub');
  const hub = hubOf(topology).id;
  const [headerTable, linesTable] = flow.tables as [FlowTable, FlowTable];
  // Config validation guarantees this shape (config/topologySchema.ts); checked again here.
  const regionColumn = flow.homeRegionColumn;
  const orderColumn = headerTable.keyColumns.find((c) => c !== regionColumn);
  if (regionColumn === undefined || orderColumn === undefined || headerTable.keyColumns.length !== 2)
    throw new Error(
      `the ${flow.name} flow must key ${headerTable.canonical} by (homeRegionColumn, order id)`,
    );
  const sourceRegions = linksOf(topology, flow)
    .filter((l) => l.target === hub)
    .map((l) => l.source);
  return {
    flow,
    hub,
    rules: {
      sourceRegions,
      tables: {
        header: tableMappingFor(headerTable, hub),
        lines: tableMappingFor(linesTable, hub),
        versionColumn: ORDER_VERSION_COLUMN,
        regionColumn,
        orderColumn,
      },
      homeRegionColumn: flow.homeRegionColumn,
    },
  };
}
