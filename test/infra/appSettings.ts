/** The app settings infra/app/functionApp.bicep gives the Function App, read from its source. */
import type { BicepFile } from './bicepScan';
import { leafKeys, readBicep } from './bicepScan';
import { FUNCTION_APP_BICEP } from './paths';

export interface ProvidedSettings {
  /** Names set literally, with the var that sets them. */
  readonly names: ReadonlyMap<string, string>;
  /** Names built from a template such as 'SQL_CONNECTION_${...}', as patterns. */
  readonly patterns: readonly RegExp[];
  readonly file: BicepFile;
}

/** Vars of functionApp.bicep whose object literals are app settings. */
export const SETTINGS_VARS = [
  'hostStorageSettings',
  'serviceBusSettings',
  'appSettingsBase',
  'sqlSettings',
  'durableBackendSettings',
  'durableSettings',
  'elasticPremiumSettings',
] as const;

export function providedSettings(): ProvidedSettings {
  const file = readBicep(FUNCTION_APP_BICEP);
  const names = new Map<string, string>();
  const patterns: RegExp[] = [];
  for (const varName of SETTINGS_VARS) {
    const expression = file.vars.get(varName);
    if (expression === undefined) throw new Error(`functionApp.bicep has no var ${varName}`);
    for (const key of leafKeys(expression)) names.set(key, varName);
    // toObject(regions, r => 'SQL_CONNECTION_${...}', ...): a family of names.
    for (const m of expression.matchAll(/=>\s*'([A-Z][A-Z0-9_]*)\$\{/g)) {
      patterns.push(new RegExp(`^${m[1] ?? ''}[A-Z0-9_]+$`));
    }
  }
  return { names, patterns, file };
}

export function isProvided(settings: ProvidedSettings, name: string): boolean {
  return settings.names.has(name) || settings.patterns.some((p) => p.test(name));
}
