/**
 * The topology and flow model (ARCHITECTURE §4) and the pure questions asked of it: which links a
 * flow has, how a table is named in a region, which conflict policy and residency rules apply.
 *
 * config/ validates a document into a {@link Topology}; everything else only reads it.
 */
import type {
  ConflictPolicy,
  ConflictPolicyName,
  LinkId,
  RegionId,
  SqlValue,
  TableMapping,
} from './model.js';

export type RegionRole = 'hub' | 'spoke';

/** Where a region's database lives. */
export type StoreConfig =
  /** Embedded default; a relative path is resolved against the data directory setting. */
  | { readonly kind: 'sqlite'; readonly path: string }
  /** SQL Server / Azure SQL; the connection string is in the named app setting (Key Vault reference in Azure). */
  | { readonly kind: 'mssql'; readonly connectionSetting: string };

export interface RegionConfig {
  readonly id: RegionId;
  readonly displayName: string;
  readonly role: RegionRole;
  /** Conflict tie-break: higher wins. */
  readonly priority: number;
  readonly store: StoreConfig;
}

export type FlowDirection = 'hub-to-spokes' | 'spokes-to-hub' | 'bidirectional';

/** How one region names a canonical table and its columns (unmapped names are the canonical ones). */
export interface RegionNaming {
  readonly table?: string;
  readonly columns?: Readonly<Record<string, string>>;
}

export interface FlowTable {
  /** Canonical table name. */
  readonly canonical: string;
  /** Canonical key columns, in key order (also listed in `columns`). */
  readonly keyColumns: readonly string[];
  /** Every canonical business column that is synchronised. */
  readonly columns: readonly string[];
  /** Per-region physical names. */
  readonly regionNames: Readonly<Record<RegionId, RegionNaming>>;
}

/**
 * A row predicate of a residency rule: only rows that satisfy every predicate cross the link.
 * A value of `$source` / `$target` stands for the link's source / target region id.
 */
export type RowPredicate =
  | { readonly column: string; readonly op: 'eq' | 'ne'; readonly value: SqlValue }
  | { readonly column: string; readonly op: 'in' | 'not-in'; readonly values: readonly SqlValue[] }
  | { readonly column: string; readonly op: 'is-null' | 'not-null' };

/** Residency rule for the links it matches (`*` matches any region). */
export interface ResidencyRule {
  /** Source region id, or `*` for any. */
  readonly from: string;
  /** Target region id, or `*` for any. */
  readonly to: string;
  /** Canonical table name the rule applies to. */
  readonly table: string;
  /** Columns removed before the row leaves the source region. */
  readonly drop: readonly string[];
  /** Columns replaced by a keyed HMAC-SHA-256 pseudonym (stable, so joins on them still work). */
  readonly pseudonymize: readonly string[];
  /** Rows crossing the link must satisfy all of these. */
  readonly where: readonly RowPredicate[];
}

export interface FlowSchedule {
  /** NCRONTAB (6 fields, with seconds) of the incremental run, e.g. nightly. */
  readonly incremental: string;
  /** NCRONTAB of the full compare + repair run, e.g. monthly. */
  readonly fullCompare: string;
}

export interface Flow {
  readonly name: string;
  readonly direction: FlowDirection;
  readonly tables: readonly FlowTable[];
  readonly schedule: FlowSchedule;
  /** Changes also travel in near real time (order events); the schedule is then a safety net. */
  readonly realtime: boolean;
  readonly pageSize: number;
  readonly conflictPolicy: ConflictPolicyName;
  /** Required for `origin-wins`: canonical column holding the row's home region. */
  readonly homeRegionColumn?: string;
  /** Whether the hub forwards rows that originated in one spoke to the other spokes. */
  readonly forwardSpokeOrigins: boolean;
  /** At most this many links of this flow write into one target region at once. */
  readonly concurrencyPerTarget: number;
  readonly residency: readonly ResidencyRule[];
}

export interface Topology {
  readonly regions: readonly RegionConfig[];
  readonly flows: readonly Flow[];
}

/** The residency policy of one link for one table, all matching rules merged. */
export interface LinkResidency {
  readonly drop: readonly string[];
  readonly pseudonymize: readonly string[];
  readonly where: readonly RowPredicate[];
}

export function hubOf(topology: Topology): RegionConfig {
  const hub = topology.regions.find((r) => r.role === 'hub');
  if (hub === undefined) throw new Error('topology has no hub (config validation should have refused it)');
  return hub;
}

export function regionOf(topology: Topology, id: RegionId): RegionConfig {
  const region = topology.regions.find((r) => r.id === id);
  if (region === undefined) throw new Error(`unknown region '${id}'`);
  return region;
}

export function flowOf(topology: Topology, name: string): Flow {
  const flow = topology.flows.find((f) => f.name === name);
  if (flow === undefined) throw new Error(`unknown flow '${name}'`);
  return flow;
}

/**
 * Every directed link of a flow, hub-to-spoke links first, spokes in topology order; with a
 * `source` zone, only the links leaving it.
 */
export function linksOf(topology: Topology, flow: Flow, source?: RegionId | null): LinkId[] {
  const hub = hubOf(topology).id;
  const spokes = topology.regions.filter((r) => r.role === 'spoke').map((r) => r.id);
  const links: LinkId[] = [];
  if (flow.direction !== 'spokes-to-hub') {
    for (const s of spokes) links.push({ flow: flow.name, source: hub, target: s });
  }
  if (flow.direction !== 'hub-to-spokes') {
    for (const s of spokes) links.push({ flow: flow.name, source: s, target: hub });
  }
  return source === undefined || source === null ? links : links.filter((l) => l.source === source);
}

/** The physical names of a flow's table in one region. */
export function tableMappingFor(table: FlowTable, region: RegionId): TableMapping {
  const naming = table.regionNames[region];
  const columns: Record<string, string> = {};
  for (const c of table.columns) columns[c] = naming?.columns?.[c] ?? c;
  return Object.freeze({
    canonical: table.canonical,
    table: naming?.table ?? table.canonical,
    keyColumns: table.keyColumns,
    columns: Object.freeze(columns),
  });
}

export function conflictPolicyFor(topology: Topology, flow: Flow): ConflictPolicy {
  const priorities: Record<RegionId, number> = {};
  for (const r of topology.regions) priorities[r.id] = r.priority;
  return Object.freeze({
    name: flow.conflictPolicy,
    priorities: Object.freeze(priorities),
    hubRegion: hubOf(topology).id,
    ...(flow.homeRegionColumn === undefined ? {} : { homeRegionColumn: flow.homeRegionColumn }),
  });
}

/** Merges every residency rule of the flow that matches this link and table. */
export function residencyFor(flow: Flow, link: LinkId, table: string): LinkResidency {
  const drop = new Set<string>();
  const pseudonymize = new Set<string>();
  const where: RowPredicate[] = [];
  for (const rule of flow.residency) {
    if (rule.table !== table) continue;
    if (rule.from !== '*' && rule.from !== link.source) continue;
    if (rule.to !== '*' && rule.to !== link.target) continue;
    rule.drop.forEach((c) => drop.add(c));
    rule.pseudonymize.forEach((c) => pseudonymize.add(c));
    where.push(...rule.where);
  }
  // A column both dropped and pseudonymized is dropped: the stricter rule wins.
  for (const c of drop) pseudonymize.delete(c);
  return { drop: [...drop].sort(), pseudonymize: [...pseudonymize].sort(), where };
}
