/**
 * Telemetry settings (docs/deploy.md §8), validated like loadConfig's: one ConfigError naming
 * every problem.
 */
import { ConfigError } from './configError.js';
import type { ConfigProblem } from './configError.js';
import type { Env } from './settings.js';
import { SETTING } from './settings.js';

export interface TelemetrySettings {
  /** `zone` of every log line and metric. */
  readonly zone: string;
  /** Null: no Application Insights (devhost), metrics go to the log. */
  readonly appInsights: {
    readonly connectionString: string;
    /** Entra ID ingestion: `aad` with the user-assigned identity's client id (null: any identity). */
    readonly auth: { readonly kind: 'aad'; readonly clientId: string | null } | { readonly kind: 'key' };
  } | null;
}

export function loadTelemetrySettings(env: Env): TelemetrySettings {
  const problems: ConfigProblem[] = [];
  const zone = env[SETTING.zone]?.trim() || 'local';
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(zone))
    problems.push({ path: `settings.${SETTING.zone}`, message: `'${zone}' is not a region id` });
  const connectionString = env[SETTING.appInsightsConnection]?.trim() ?? '';
  let appInsights: TelemetrySettings['appInsights'] = null;
  if (connectionString !== '') {
    if (!/(^|;)\s*(InstrumentationKey|IngestionEndpoint)=/i.test(connectionString))
      problems.push({
        path: `settings.${SETTING.appInsightsConnection}`,
        message: 'not an Application Insights connection string (no InstrumentationKey=...)',
      });
    const authText = env[SETTING.appInsightsAuthentication]?.trim() ?? '';
    const parts = new Map(
      authText
        .split(';')
        .map((p) => p.split('=').map((s) => s.trim()))
        .filter((kv): kv is [string, string] => kv.length === 2 && kv[0] !== '')
        .map(([k, v]) => [k.toLowerCase(), v] as const),
    );
    const aad = parts.get('authorization')?.toLowerCase() === 'aad';
    if (authText !== '' && !aad)
      problems.push({
        path: `settings.${SETTING.appInsightsAuthentication}`,
        message: "expected 'Authorization=AAD' (and optionally 'ClientId=<client id>')",
      });
    appInsights = {
      connectionString,
      auth: aad ? { kind: 'aad', clientId: parts.get('clientid') || null } : { kind: 'key' },
    };
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ zone, appInsights });
}
