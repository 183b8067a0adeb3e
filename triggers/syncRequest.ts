/**
 * The body of POST /api/sync/{flow}, validated with zod so that every problem is reported in one
 * 400, and the deterministic instance id of a run: identical requests map to the same id, so a
 * second one while the first runs finds it instead of starting another run.
 */
import { z } from 'zod';
import type { RunRequest, SyncMode } from '../activities/contracts.js';
import type { Topology } from '../sync/topology.js';

const isoInstant = z.iso.datetime({
  offset: true,
  message: 'must be an ISO-8601 date-time, e.g. 2026-01-01T00:00:00Z',
});

export const syncBodySchema = z.strictObject({
  mode: z.enum(['incremental', 'full'], { message: "must be 'incremental' or 'full'" }),
  from: isoInstant.optional(),
  to: isoInstant.optional(),
  regions: z.array(z.string().min(1), { message: 'must be an array of region ids' }).min(1).optional(),
  dryRun: z.boolean({ message: 'must be true or false' }).optional(),
  pageSize: z.number().int().min(1).max(100_000).optional(),
});

export interface Problem {
  readonly path: string;
  readonly message: string;
}

export type ParsedRequest = { ok: true; request: RunRequest } | { ok: false; problems: Problem[] };

/** Validates a parsed JSON body against the schema and the topology; lists every problem. */
export function parseSyncBody(
  flow: string,
  body: unknown,
  topology: Topology,
  trigger: string,
): ParsedRequest {
  const problems: Problem[] = [];
  const parsed = syncBodySchema.safeParse(body);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      problems.push({
        path: issue.path.length === 0 ? '(body)' : issue.path.map(String).join('.'),
        message: issue.message,
      });
  }
  // Cross-field and topology checks run on whatever parsed, so they are reported together.
  const raw = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const known = new Set(topology.regions.map((r) => r.id));
  if (Array.isArray(raw.regions)) {
    raw.regions.forEach((r, i) => {
      if (typeof r === 'string' && r !== '' && !known.has(r))
        problems.push({
          path: `regions.${i}`,
          message: `unknown region '${r}' (known: ${[...known].join(', ')})`,
        });
    });
  }
  const from = typeof raw.from === 'string' ? Date.parse(raw.from) : NaN;
  const to = typeof raw.to === 'string' ? Date.parse(raw.to) : NaN;
  if (!Number.isNaN(from) && !Number.isNaN(to) && from >= to)
    problems.push({ path: 'to', message: 'must be later than from' });
  if (!parsed.success || problems.length > 0) return { ok: false, problems };
  const b = parsed.data;
  const window =
    b.from === undefined && b.to === undefined
      ? undefined
      : {
          ...(b.from === undefined ? {} : { from: new Date(b.from).toISOString() }),
          ...(b.to === undefined ? {} : { to: new Date(b.to).toISOString() }),
        };
  return {
    ok: true,
    request: {
      flow,
      mode: b.mode,
      ...(window === undefined ? {} : { window }),
      ...(b.regions === undefined ? {} : { regions: [...new Set(b.regions)].sort() }),
      dryRun: b.dryRun ?? false,
      ...(b.pageSize === undefined ? {} : { pageSize: b.pageSize }),
      trigger,
    },
  };
}

const compact = (iso: string) => iso.replace(/[-:]/g, '').replace(/\.000Z$/, 'Z');

/**
 * `{flow}-{mode}` for a plain run (the timers use the same ids, so a timer firing while an HTTP
 * run of the same kind is running is a no-op), with the window, regions and options appended when
 * given, so different requests are different runs and identical ones the same run.
 */
export function instanceIdFor(
  request: Pick<RunRequest, 'flow' | 'mode' | 'window' | 'regions' | 'dryRun' | 'pageSize'>,
): string {
  const parts: string[] = [request.flow, request.mode];
  if (request.window !== undefined)
    parts.push(
      `${request.window.from === undefined ? 'start' : compact(request.window.from)}_${request.window.to === undefined ? 'now' : compact(request.window.to)}`,
    );
  if (request.regions !== undefined) parts.push([...request.regions].sort().join('.'));
  if (request.dryRun) parts.push('dryrun');
  if (request.pageSize !== undefined) parts.push(`p${request.pageSize}`);
  return parts.join('-');
}

export function isSyncMode(value: string): value is SyncMode {
  return value === 'incremental' || value === 'full';
}
