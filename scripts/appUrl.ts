/**
 * How the command-line tools reach the app: `--url` (before or after the subcommand), else
 * DEVHOST_URL, else http://127.0.0.1:7071; a request that cannot reach it says which URL it tried.
 */
import type { Command } from 'commander';
import { APP_URL_VARIABLE, appOrigin } from '../config/settings.js';

export const URL_HELP = `the app's origin (default: ${APP_URL_VARIABLE}, else http://127.0.0.1:7071)`;

/** The nearest explicit `--url` from this command up to the program, else DEVHOST_URL or the default. */
export function urlOf(command: Command, env: NodeJS.ProcessEnv = process.env): string {
  for (let c: Command | null = command; c !== null; c = c.parent) {
    const url = c.opts<{ url?: string }>().url;
    if (url !== undefined && url.trim() !== '') return url.trim().replace(/\/+$/, '');
  }
  return appOrigin(env);
}

/** fetch, with a network failure reported as "cannot reach the app at <url>". */
export async function fetchApp(url: string | URL, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
    const shown = new URL(url);
    shown.search = ''; // the function key (?code=) stays out of error messages
    throw new Error(
      `cannot reach the app at ${shown.href} (${why}); is it running (npm start)? Give its origin with --url or ${APP_URL_VARIABLE}.`,
    );
  }
}
