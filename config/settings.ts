/**
 * Every app setting Region Sync reads, in one place. Only config/ reads the environment; the
 * rest of the app receives the validated, frozen {@link AppConfig} from loadConfig.
 */

export const SETTING = {
  /**
   * Path of a JSON topology document (ARCHITECTURE §4). Relative paths resolve against the app root
   * (the directory of package.json), not the working directory; Azure ships `config/topology.json`.
   * Unset (and no REGION_SYNC_TOPOLOGY_JSON): the embedded default is used.
   */
  topologyPath: 'REGION_SYNC_TOPOLOGY_PATH',
  /** The topology document inline, as JSON (handy as an Azure app setting). Exclusive with the path. */
  topologyJson: 'REGION_SYNC_TOPOLOGY_JSON',
  /** Directory that relative SQLite store paths resolve against. Default `.data`. */
  dataDir: 'REGION_SYNC_DATA_DIR',
  /**
   * Key of the keyed HMAC-SHA-256 that pseudonymizes columns crossing a border: base64 of at least
   * 32 random bytes (e.g. `openssl rand -base64 32`), kept in Key Vault in Azure. Required when
   * any residency rule pseudonymizes. Changing it changes every pseudonym, so joins across the
   * change break: rotate only with a full re-sync.
   */
  pseudonymKey: 'REGION_SYNC_PSEUDONYM_KEY',
  /**
   * Storage connection string for blob staging, or `UseDevelopmentStorage=true` (Azurite).
   * Unset: falls back to `AzureWebJobsStorage`, then to `UseDevelopmentStorage=true`.
   */
  stagingConnection: 'REGION_SYNC_STAGING_CONNECTION',
  /** Blob endpoint for identity-based staging (managed identity); takes precedence over the connection string. */
  stagingAccountUrl: 'REGION_SYNC_STAGING_ACCOUNT_URL',
  /** Container of staged pages. Default `sync-staging`. */
  stagingContainer: 'REGION_SYNC_STAGING_CONTAINER',
  /**
   * Staged pages last modified more than this many days ago are purged by the daily `purgeStaging`
   * timer. Default 7; at least 1, the floor that keeps the pages of a run still going.
   */
  stagingRetentionDays: 'REGION_SYNC_STAGING_RETENTION_DAYS',
  /** When the `purgeStaging` timer runs: a six-field NCRONTAB expression (UTC). Default `0 30 4 * * *`. */
  stagingPurgeSchedule: 'REGION_SYNC_STAGING_PURGE_SCHEDULE',
  /**
   * Run history: container (in the staging storage account) keeping one record per batch run.
   * Default `sync-runs`.
   */
  runHistoryContainer: 'REGION_SYNC_RUN_HISTORY_CONTAINER',
  /** Run history: records of runs started more than this many days ago are deleted. Default 45. */
  runRetentionDays: 'REGION_SYNC_RUN_RETENTION_DAYS',
  /**
   * SQLite stores: how long (ms) a write waits for another connection's lock before it fails with
   * a retryable conflict. Default 5000 (the adapter's). Tests shorten it to simulate an outage.
   */
  sqliteBusyTimeoutMs: 'REGION_SYNC_SQLITE_BUSY_TIMEOUT_MS',
  /**
   * Order sync: how old (ms) an order's turn must be before a later event of that order checks
   * that the orchestration holding it still runs (and takes the turn over if it does not).
   * Default 30000. (REGION_SYNC_ORDER_GAP_WAIT_MS is gone: no version waits for a missing one.)
   */
  orderRunnerCheckMs: 'REGION_SYNC_ORDER_RUNNER_CHECK_MS',
  /** Order sync: blob container keeping refused order events (the app's dead letters). Default `order-deadletters`. */
  orderDeadLetterContainer: 'REGION_SYNC_ORDER_DEADLETTER_CONTAINER',
  /**
   * The zone (region id) this app is: `cn`, `sea`, ... Set in Azure: batch sync runs only the links
   * whose source is the zone, and only the connections of the regions its work touches are required.
   * Also the `zone` field of every log line (`local` when unset: devhost runs every link).
   */
  zone: 'REGION_SYNC_ZONE',
  /**
   * Telemetry: Application Insights. When set, custom metrics are exported with Azure Monitor
   * OpenTelemetry (the host ships the logs itself); unset (devhost), metrics are written as log lines.
   */
  appInsightsConnection: 'APPLICATIONINSIGHTS_CONNECTION_STRING',
  /** Telemetry: `Authorization=AAD;ClientId=<uami client id>` for Entra ID ingestion of the metrics. */
  appInsightsAuthentication: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  /** The Functions host's storage; only read as the staging fallback. */
  webJobsStorage: 'AzureWebJobsStorage',
  /**
   * Test-only: a SQL Server connection string; when set the RegionStore conformance suite also runs
   * against SQL Server (it creates and drops its own tables).
   */
  mssqlTestConnection: 'MSSQL_TEST_CONNECTION',
} as const;

export type SettingName = (typeof SETTING)[keyof typeof SETTING];

/** The environment as config sees it (process.env, or a test's own record). */
export type Env = Readonly<Record<string, string | undefined>>;

/** Reads the test-only SQL Server connection (the conformance suite calls this, not process.env). */
export function mssqlTestConnection(env: Env): string | null {
  const value = env[SETTING.mssqlTestConnection]?.trim();
  return value === undefined || value === '' ? null : value;
}

/** The variable the command-line tools (`npm run sync`, `npm run orders`, `devhost sb`) read for the app's origin. */
export const APP_URL_VARIABLE = 'DEVHOST_URL';
/** Where `npm start` serves the app unless told otherwise. */
export const DEFAULT_APP_URL = 'http://127.0.0.1:7071';

/** The app's origin for the command-line tools: DEVHOST_URL, else the default port. */
export function appOrigin(env: Env): string {
  const value = env[APP_URL_VARIABLE]?.trim();
  return value === undefined || value === '' ? DEFAULT_APP_URL : value.replace(/\/+$/, '');
}
