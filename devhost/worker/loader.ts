import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import fg from 'fast-glob';
import { AppRegistry, beginRegistration } from './coreApi';
import type { LogLevel } from './coreTypes';

export class AppLoadError extends Error {
  override readonly name = 'AppLoadError';
}

/** The files the worker would load: package.json `main`, expanded as a glob relative to the app. */
export function resolveEntryPoints(appDir: string): string[] {
  const pkgPath = path.join(appDir, 'package.json');
  let main: unknown;
  try {
    main = (JSON.parse(readFileSync(pkgPath, 'utf8')) as { main?: unknown }).main;
  } catch (err) {
    throw new AppLoadError(`Cannot read ${pkgPath}: ${(err as Error).message}`);
  }
  if (typeof main !== 'string' || main.trim() === '') {
    throw new AppLoadError(
      `${pkgPath} has no "main" entry; the v4 programming model needs it to find the functions.`,
    );
  }
  const files = fg.sync(main.replace(/\\/g, '/'), { cwd: appDir, absolute: true, onlyFiles: true });
  if (files.length === 0) {
    throw new AppLoadError(`"main" in ${pkgPath} is "${main}" and matches no file. Did you build the app?`);
  }
  return files.sort();
}

/**
 * Loads the app the way the Node worker does: every entry point in order, CommonJS through
 * require and ES modules through import(), with `@azure/functions-core` answered by devhost.
 */
export async function loadApp(
  appDir: string,
  systemLog: (level: LogLevel, message: string) => void,
): Promise<AppRegistry> {
  const registry = new AppRegistry(systemLog);
  const files = resolveEntryPoints(appDir);
  const endRegistration = beginRegistration(registry);
  try {
    for (const file of files) {
      try {
        if (file.endsWith('.mjs') || (file.endsWith('.js') && isEsmPackage(file))) {
          await import(pathToFileURL(file).href);
        } else {
          // The worker loads CommonJS apps with require, so module caching and globals match.
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          require(file);
        }
      } catch (err) {
        const cause = err instanceof Error ? (err.stack ?? err.message) : String(err);
        throw new AppLoadError(`Worker failed to load ${path.relative(appDir, file) || file}: ${cause}`);
      }
    }
  } finally {
    endRegistration();
  }
  if (registry.functions.size > 0 && !registry.programmingModel) {
    throw new AppLoadError(
      'The app registered functions but no programming model; is @azure/functions v4 installed?',
    );
  }
  return registry;
}

function isEsmPackage(file: string): boolean {
  let dir = path.dirname(file);
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { type?: string };
      return pkg.type === 'module';
    } catch {
      const parent = path.dirname(dir);
      if (parent === dir) return false;
      dir = parent;
    }
  }
}
