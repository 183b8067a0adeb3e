/**
 * The batch-sync activities' inputs as zod schemas, each checked against its contract's type
 * (activities/contracts.ts) by `inputSchema`, parsed at the activity boundary on registration.
 */
import { z } from 'zod';
import { isChangeValue } from '../sync/cursor.js';
import type { RunRecord } from '../sync/runHistory.js';
import { inputSchema } from './activityInput.js';
import type {
  ApplyPageInput,
  BeginLinkInput,
  CompareLinkInput,
  ExtractPageInput,
  PlanFlowInput,
  RecordRunInput,
  RepairRangeInput,
  SyncReport,
  WriteReportInput,
} from './contracts.js';

const name = z.string().min(1);
const change = z.string().refine(isChangeValue, 'must be a change value (a non-negative decimal integer)');
const sqlValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const link = z.object({ flow: name, source: name, target: name });
const cursor = z.object({ change, key: z.array(sqlValue) });
const instant = z.iso.datetime({ offset: true });
const window = z.object({ from: instant.optional(), to: instant.optional() });
const pageNumber = z.number().int().nonnegative();

const planFlow = inputSchema<PlanFlowInput>()(z.object({ flow: name, regions: z.array(name).optional() }));

const beginLink = inputSchema<BeginLinkInput>()(
  z.object({ link, table: name, backfill: z.boolean(), runId: name.optional() }),
);

const extractPage = inputSchema<ExtractPageInput>()(
  z.object({
    link,
    table: name,
    runId: name,
    page: pageNumber,
    after: cursor.nullable(),
    upTo: change,
    pageSize: z.number().int().positive(),
    window: window.optional(),
  }),
);

const applyPage = inputSchema<ApplyPageInput>()(
  z.object({
    link,
    table: name,
    checkpointTable: name,
    runId: name,
    page: pageNumber,
    blob: name.nullable(),
    nextCursor: cursor,
  }),
);

const compareLink = inputSchema<CompareLinkInput>()(
  z.object({ link, table: name, ranges: z.number().int().positive() }),
);

const repairRange = inputSchema<RepairRangeInput>()(
  z.object({
    link,
    table: name,
    range: z.object({ lo: z.number(), hi: z.number() }),
    runId: name,
    dryRun: z.boolean(),
  }),
);

// The report is flowSync's own output handed straight back: checked for its identity, not field by field.
const report = z.custom<SyncReport>(
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Partial<SyncReport>).runId === 'string' &&
    Array.isArray((v as Partial<SyncReport>).links),
  'must be a sync report (runId, links)',
);

// Likewise the run's record, built by flowSync from its own state.
const record = z.custom<RunRecord>(
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Partial<RunRecord>).runId === 'string' &&
    typeof (v as Partial<RunRecord>).flow === 'string' &&
    typeof (v as Partial<RunRecord>).status === 'string',
  'must be a run record (runId, flow, status)',
);

const recordRun = inputSchema<RecordRunInput>()(z.object({ record }));

const writeReport = inputSchema<WriteReportInput>()(z.object({ flow: name, runId: name, report }));

/** Keyed like `activities` (contracts.ts). */
export const batchInputs = {
  planFlow,
  beginLink,
  extractPage,
  applyPage,
  compareLink,
  repairRange,
  writeReport,
  recordRun,
} as const;
