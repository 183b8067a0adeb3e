/**
 * Sane defaults for a machine that is not Azure, so a fresh clone runs with no local.settings.json:
 * when no pseudonym key is set, a random development key is created once under the data directory
 * (`<dataDir>/pseudonym-dev.key`, owner-only) and reused, so pseudonyms stay stable across
 * restarts. In Azure (the platform sets WEBSITE_SITE_NAME) nothing is defaulted: a missing key is
 * the configuration error loadConfig reports.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Env } from './settings.js';
import { SETTING } from './settings.js';

/** Set by the Functions platform on every Azure site; never set locally. */
const AZURE_SITE = 'WEBSITE_SITE_NAME';

export const DEV_KEY_FILE = 'pseudonym-dev.key';

export interface LocalDefaults {
  readonly env: Env;
  /** What was defaulted, for the start-up log. */
  readonly notes: readonly string[];
}

/** Returns the environment with local defaults filled in (never changes the input). */
export function withLocalDefaults(env: Env, cwd: string = process.cwd()): LocalDefaults {
  const notes: string[] = [];
  const key = env[SETTING.pseudonymKey]?.trim();
  if ((key === undefined || key === '') && (env[AZURE_SITE] ?? '') === '') {
    const dirSetting = env[SETTING.dataDir]?.trim() || '.data';
    const dir = isAbsolute(dirSetting) ? dirSetting : resolve(cwd, dirSetting);
    const file = join(dir, DEV_KEY_FILE);
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      try {
        writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      } catch (e) {
        // Another process created it first: use theirs.
        if ((e as { code?: string }).code !== 'EEXIST') throw e;
      }
      notes.push(
        `created a development pseudonym key in ${file} (set ${SETTING.pseudonymKey} to use your own)`,
      );
    } else notes.push(`using the development pseudonym key in ${file}`);
    return { env: { ...env, [SETTING.pseudonymKey]: readFileSync(file, 'utf8').trim() }, notes };
  }
  return { env, notes };
}
