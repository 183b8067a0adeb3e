import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { LogLevel } from './worker/coreTypes';
import type { FunctionMetadata } from './worker/coreTypes';
import { parseLogLevel } from './logger';

/** A problem with the app's configuration that stops the host from starting. */
export class HostConfigError extends Error {
  override readonly name = 'HostConfigError';
}

/** The parts of host.json devhost itself reads; extensions read their own sections from `raw`. */
export interface HostJsonSettings {
  raw: Record<string, unknown>;
  /** extensions.http.routePrefix without slashes; '' serves functions at the root. */
  routePrefix: string;
  /** functionTimeout in ms; undefined when unbounded ("-1" or absent). */
  functionTimeoutMs: number | undefined;
  /** logging.logLevel with levels normalised. */
  logLevels: Record<string, LogLevel>;
}

export function readHostJson(appDir: string): HostJsonSettings {
  const file = path.join(appDir, 'host.json');
  let raw: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
      if (!isRecord(parsed)) throw new Error('the top level must be an object');
      raw = parsed;
    } catch (err) {
      throw new HostConfigError(`${file} is not valid: ${(err as Error).message}`);
    }
  }
  const http = pick(pick(raw, 'extensions'), 'http');
  const prefix = http.routePrefix;
  const routePrefix = typeof prefix === 'string' ? prefix.replace(/^\/+|\/+$/g, '') : 'api';

  let functionTimeoutMs: number | undefined;
  if (raw.functionTimeout !== undefined && raw.functionTimeout !== null) {
    const text =
      typeof raw.functionTimeout === 'string' ? raw.functionTimeout : JSON.stringify(raw.functionTimeout);
    if (text.trim() !== '-1') {
      functionTimeoutMs = parseTimeSpan(text);
      if (functionTimeoutMs === undefined || functionTimeoutMs <= 0) {
        throw new HostConfigError(
          `host.json functionTimeout "${text}" is not a TimeSpan such as "00:05:00".`,
        );
      }
    }
  }

  const logLevels: Record<string, LogLevel> = { default: 'information' };
  for (const [category, level] of Object.entries(pick(pick(raw, 'logging'), 'logLevel'))) {
    logLevels[category] = parseLogLevel(level);
  }
  return { raw, routePrefix, functionTimeoutMs, logLevels };
}

/**
 * .NET TimeSpan text as host.json and timer schedules use it: `hh:mm:ss`, `d.hh:mm:ss`,
 * optional fractional seconds. Returns milliseconds, or undefined when the text is not a TimeSpan.
 */
export function parseTimeSpan(text: string): number | undefined {
  const match = /^\s*(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?\s*$/.exec(text);
  if (!match) return undefined;
  const [, days, hours, minutes, seconds, fraction] = match;
  const h = Number(hours);
  const m = Number(minutes);
  const s = Number(seconds ?? 0);
  if (h > 23 || m > 59 || s > 59) return undefined;
  const ms = fraction ? Math.round(Number(`0.${fraction}`) * 1000) : 0;
  return (((Number(days ?? 0) * 24 + h) * 60 + m) * 60 + s) * 1000 + ms;
}

export interface LocalSettingsResult {
  file: string | undefined;
  applied: string[];
  /** Keys already set in the environment; as in Core Tools, the environment wins. */
  skipped: string[];
}

/** Copies local.settings.json `Values` into `env` (Core Tools behaviour: existing variables win). */
export function applyLocalSettings(appDir: string, env: NodeJS.ProcessEnv): LocalSettingsResult {
  const file = path.join(appDir, 'local.settings.json');
  const result: LocalSettingsResult = { file: undefined, applied: [], skipped: [] };
  if (!existsSync(file)) return result;
  result.file = file;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new HostConfigError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isRecord(parsed)) throw new HostConfigError(`${file} must hold a JSON object.`);
  if (parsed.IsEncrypted === true) {
    throw new HostConfigError(
      `${file} is encrypted; devhost reads only plain settings ("IsEncrypted": false).`,
    );
  }
  const values = parsed.Values ?? {};
  if (!isRecord(values)) throw new HostConfigError(`${file}: "Values" must be an object of strings.`);
  for (const [key, value] of Object.entries(values)) {
    if (env[key] !== undefined) {
      result.skipped.push(key);
      continue;
    }
    env[key] =
      value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
    result.applied.push(key);
  }
  return result;
}

/**
 * Resolves `%Setting%` binding expressions in every string property of every binding, in place,
 * as the Functions host does before it indexes a function. `%%` stands for a literal percent sign.
 * Returns the names of settings that are not defined (the function cannot run without them).
 */
export function resolveBindingExpressions(metadata: FunctionMetadata, env: NodeJS.ProcessEnv): string[] {
  const missing = new Set<string>();
  const resolve = (value: string): string =>
    value.replace(/%%|%([^%\s]+)%/g, (whole, name: string | undefined) => {
      if (whole === '%%') return '%';
      const setting = env[name!];
      if (setting === undefined) {
        missing.add(name!);
        return whole;
      }
      return setting;
    });
  for (const binding of Object.values(metadata.bindings)) {
    for (const [key, value] of Object.entries(binding)) {
      if (typeof value === 'string' && value.includes('%') && key !== 'type' && key !== 'direction') {
        binding[key] = resolve(value);
      }
    }
  }
  return [...missing];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pick(obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = obj[key];
  return isRecord(value) ? value : {};
}
