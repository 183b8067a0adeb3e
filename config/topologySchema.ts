/**
 * Schema of the topology document (ARCHITECTURE §4): the shape is checked with zod, then the
 * cross-references (one hub, known regions, key columns that exist, ...) are checked on the raw
 * document too, so that one pass reports every problem, structural or not, with its path.
 */
import { z } from 'zod';
import { IDENTIFIER_PATTERN, RESERVED_COLUMNS, TABLE_NAME_PATTERN } from '../sync/identifiers.js';
import type { Topology } from '../sync/topology.js';
import { ncrontabProblem } from './ncrontab.js';
import type { ConfigProblem } from './configError.js';
import { formatPath } from './configError.js';

const REGION_ID_PATTERN = /^[a-z][a-z0-9-]{0,15}$/;
const FLOW_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;

const identifier = z
  .string()
  .regex(IDENTIFIER_PATTERN, 'must be an identifier: a letter or _, then letters, digits or _ (max 128)');
const tableName = z
  .string()
  .regex(TABLE_NAME_PATTERN, 'must be a table name: identifier or schema.identifier (letters, digits, _)');
const regionId = z.string().regex(REGION_ID_PATTERN, 'must be a region id: lower-case letters, digits, -');
const ncrontab = z.string().superRefine((value, ctx) => {
  const problem = ncrontabProblem(value);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});
const sqlValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const storeSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('sqlite'), path: z.string().min(1) }),
  z.strictObject({
    kind: z.literal('mssql'),
    connectionSetting: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an app setting name'),
  }),
]);

const regionSchema = z.strictObject({
  id: regionId,
  displayName: z.string().min(1),
  role: z.enum(['hub', 'spoke']),
  priority: z.number().int().min(0).max(1_000_000),
  store: storeSchema,
});

const predicateSchema = z.union([
  z.strictObject({ column: identifier, op: z.enum(['eq', 'ne']), value: sqlValue }),
  z.strictObject({ column: identifier, op: z.enum(['in', 'not-in']), values: z.array(sqlValue).min(1) }),
  z.strictObject({ column: identifier, op: z.enum(['is-null', 'not-null']) }),
]);

const residencySchema = z.strictObject({
  from: z.union([z.literal('*'), regionId]),
  to: z.union([z.literal('*'), regionId]),
  table: identifier,
  drop: z.array(identifier).default([]),
  pseudonymize: z.array(identifier).default([]),
  where: z.array(predicateSchema).default([]),
});

const tableSchema = z.strictObject({
  canonical: identifier,
  keyColumns: z.array(identifier).min(1),
  columns: z.array(identifier).min(1),
  regionNames: z
    .record(
      regionId,
      z.strictObject({ table: tableName.optional(), columns: z.record(identifier, identifier).optional() }),
    )
    .default({}),
});

const flowSchema = z.strictObject({
  name: z.string().regex(FLOW_NAME_PATTERN, 'must be a flow name: lower-case letters, digits, -'),
  direction: z.enum(['hub-to-spokes', 'spokes-to-hub', 'bidirectional']),
  tables: z.array(tableSchema).min(1),
  schedule: z.strictObject({ incremental: ncrontab, fullCompare: ncrontab }),
  realtime: z.boolean().default(false),
  pageSize: z.number().int().min(1).max(100_000),
  conflictPolicy: z.enum(['last-writer-wins', 'hub-wins', 'origin-wins']),
  homeRegionColumn: identifier.optional(),
  forwardSpokeOrigins: z.boolean().default(false),
  concurrencyPerTarget: z.number().int().min(1).max(64),
  residency: z.array(residencySchema).default([]),
});

/** The structural schema; {@link topologyProblems} adds the cross-reference checks. */
export const topologySchema = z.strictObject({
  regions: z.array(regionSchema).min(1),
  flows: z.array(flowSchema).min(1),
});

// The schema's output type and the hand-written model in sync/ must stay the same shape.
type SchemaOutput = z.output<typeof topologySchema>;
const _shapeCheck: (t: SchemaOutput) => Topology = (t) => t;
void _shapeCheck;

type Path = (string | number)[];
const rec = (x: unknown): Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
const strs = (x: unknown): string[] => arr(x).filter((v): v is string => typeof v === 'string');

/** Cross-reference checks on the raw document; tolerant of any shape (zod reports shape problems). */
function crossProblems(doc: unknown): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const add = (path: Path, message: string) => out.push({ path: formatPath(path), message });
  const root = rec(doc);

  const regions = arr(root.regions).map(rec);
  const regionIds = new Set<string>();
  const sqlitePaths = new Map<string, number>();
  regions.forEach((r, i) => {
    const id = str(r.id);
    if (id !== undefined) {
      if (regionIds.has(id)) add(['regions', i, 'id'], `duplicate region id '${id}'`);
      regionIds.add(id);
    }
    const store = rec(r.store);
    const p = str(store.path);
    if (store.kind === 'sqlite' && p !== undefined) {
      const first = sqlitePaths.get(p);
      if (first !== undefined) add(['regions', i, 'store', 'path'], `same SQLite file as regions[${first}]`);
      else sqlitePaths.set(p, i);
    }
  });
  const hubs = regions.filter((r) => r.role === 'hub').length;
  if (Array.isArray(root.regions) && hubs !== 1)
    add(['regions'], `exactly one region must have role 'hub', found ${hubs}`);
  if (Array.isArray(root.regions) && regions.filter((r) => r.role === 'spoke').length === 0) {
    add(['regions'], `at least one region must have role 'spoke'`);
  }

  const flowNames = new Set<string>();
  arr(root.flows).forEach((rawFlow, f) => {
    const flow = rec(rawFlow);
    const name = str(flow.name);
    if (name !== undefined) {
      if (flowNames.has(name)) add(['flows', f, 'name'], `duplicate flow name '${name}'`);
      flowNames.add(name);
    }
    const tableColumns = new Map<string, Set<string>>();
    const tableKeys = new Map<string, Set<string>>();
    arr(flow.tables).forEach((rawTable, t) => {
      const table = rec(rawTable);
      const canonical = str(table.canonical);
      const columns = strs(table.columns);
      const colSet = new Set(columns);
      const keys = strs(table.keyColumns);
      if (canonical !== undefined) {
        if (tableColumns.has(canonical))
          add(['flows', f, 'tables', t, 'canonical'], `duplicate table '${canonical}'`);
        tableColumns.set(canonical, colSet);
        tableKeys.set(canonical, new Set(keys));
      }
      const seen = new Set<string>();
      columns.forEach((c, i) => {
        if (seen.has(c)) add(['flows', f, 'tables', t, 'columns', i], `duplicate column '${c}'`);
        seen.add(c);
        if (RESERVED_COLUMNS.includes(c))
          add(['flows', f, 'tables', t, 'columns', i], `'${c}' is a reserved sync column`);
      });
      keys.forEach((k, i) => {
        if (!colSet.has(k))
          add(['flows', f, 'tables', t, 'keyColumns', i], `key column '${k}' is not in columns`);
      });
      if (new Set(keys).size !== keys.length)
        add(['flows', f, 'tables', t, 'keyColumns'], 'duplicate key column');
      for (const [region, rawNaming] of Object.entries(rec(table.regionNames))) {
        if (!regionIds.has(region))
          add(['flows', f, 'tables', t, 'regionNames', region], `unknown region '${region}'`);
        const mapped = rec(rec(rawNaming).columns);
        const physical = new Map<string, string>();
        for (const [canon, phys] of Object.entries(mapped)) {
          const path: Path = ['flows', f, 'tables', t, 'regionNames', region, 'columns', canon];
          if (!colSet.has(canon)) add(path, `'${canon}' is not a column of this table`);
          if (typeof phys === 'string') {
            const other = physical.get(phys.toLowerCase());
            if (other !== undefined) add(path, `physical column '${phys}' is also mapped from '${other}'`);
            physical.set(phys.toLowerCase(), canon);
            if (RESERVED_COLUMNS.includes(phys.toLowerCase()))
              add(path, `'${phys}' is a reserved sync column`);
          }
        }
      }
    });

    const policy = flow.conflictPolicy;
    const home = str(flow.homeRegionColumn);
    if (policy === 'origin-wins') {
      if (home === undefined)
        add(['flows', f, 'homeRegionColumn'], `required when conflictPolicy is 'origin-wins'`);
      else {
        for (const [table, cols] of tableColumns) {
          if (!cols.has(home))
            add(['flows', f, 'homeRegionColumn'], `'${home}' is not a column of table '${table}'`);
        }
      }
    }
    if (flow.realtime === true) {
      // An order is its origin region and its id: the header is keyed by exactly those two
      // columns and every line's key starts with them, so one region's order never overwrites
      // another's with the same id.
      const tables = arr(flow.tables).map(rec);
      const headerKeys = strs(tables[0]?.keyColumns);
      if (home === undefined) add(['flows', f, 'homeRegionColumn'], 'required for a realtime (order) flow');
      else if (tables.length < 2)
        add(['flows', f, 'tables'], 'a realtime flow has a header and a lines table');
      else if (headerKeys.length !== 2 || headerKeys[0] !== home)
        add(
          ['flows', f, 'tables', 0, 'keyColumns'],
          `the order header is keyed by ['${home}', <order id>] (origin region first)`,
        );
      else
        tables.slice(1).forEach((t, i) => {
          const keys = strs(t.keyColumns);
          if (keys[0] !== headerKeys[0] || keys[1] !== headerKeys[1])
            add(
              ['flows', f, 'tables', i + 1, 'keyColumns'],
              `must start with the order key ['${headerKeys.join("', '")}']`,
            );
        });
    }
    if (flow.forwardSpokeOrigins === true && flow.direction !== 'bidirectional') {
      add(
        ['flows', f, 'forwardSpokeOrigins'],
        `only meaningful for a bidirectional flow (this one is ${String(flow.direction)})`,
      );
    }

    arr(flow.residency).forEach((rawRule, r) => {
      const rule = rec(rawRule);
      for (const end of ['from', 'to'] as const) {
        const id = str(rule[end]);
        if (id !== undefined && id !== '*' && !regionIds.has(id))
          add(['flows', f, 'residency', r, end], `unknown region '${id}'`);
      }
      const table = str(rule.table);
      const cols = table === undefined ? undefined : tableColumns.get(table);
      if (table !== undefined && cols === undefined) {
        add(['flows', f, 'residency', r, 'table'], `'${table}' is not a table of this flow`);
        return;
      }
      const keys = table === undefined ? new Set<string>() : (tableKeys.get(table) ?? new Set<string>());
      for (const list of ['drop', 'pseudonymize'] as const) {
        strs(rule[list]).forEach((c, i) => {
          const path: Path = ['flows', f, 'residency', r, list, i];
          if (cols !== undefined && !cols.has(c)) add(path, `'${c}' is not a column of table '${table}'`);
          if (list === 'drop' && keys.has(c)) add(path, `key column '${c}' cannot be dropped`);
          if (c === home) add(path, `'${c}' is the flow's homeRegionColumn and must cross unchanged`);
        });
      }
      arr(rule.where).forEach((p, i) => {
        const c = str(rec(p).column);
        if (c !== undefined && cols !== undefined && !cols.has(c)) {
          add(
            ['flows', f, 'residency', r, 'where', i, 'column'],
            `'${c}' is not a column of table '${table}'`,
          );
        }
      });
    });
  });
  return out;
}

/** Every problem of a topology document: shape (zod) and cross-references, each with its path. */
export function topologyProblems(doc: unknown): { topology: Topology | null; problems: ConfigProblem[] } {
  const parsed = topologySchema.safeParse(doc);
  const problems: ConfigProblem[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
  problems.push(...crossProblems(doc));
  const unique = new Map<string, ConfigProblem>();
  for (const p of problems) unique.set(`${p.path}\u0000${p.message}`, p);
  return {
    topology: parsed.success && problems.length === 0 ? parsed.data : null,
    problems: [...unique.values()],
  };
}
