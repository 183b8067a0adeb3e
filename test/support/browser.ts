/**
 * Headless Chromium for browser tests: Debian's `chromium` package driven by playwright-core with
 * `executablePath` (no browser download). playwright-core is loaded at run time, and only the
 * few calls the tests make are typed here, so the build never depends on it being installed.
 */
import { existsSync } from 'node:fs';

/** Where Debian and Ubuntu put the browser (`apt-get install -y chromium`). */
export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium'].find(
  (p) => existsSync(p),
);

export interface Locator {
  first(): Locator;
  locator(selector: string, options?: { hasText?: string | RegExp }): Locator;
  waitFor(options?: { timeout?: number }): Promise<void>;
  innerText(): Promise<string>;
  inputValue(): Promise<string>;
  getAttribute(name: string): Promise<string | null>;
  selectOption(value: string): Promise<unknown>;
  fill(value: string): Promise<void>;
  click(): Promise<void>;
  check(): Promise<void>;
  count(): Promise<number>;
  isDisabled(): Promise<boolean>;
  screenshot(options: { path: string }): Promise<unknown>;
}

export interface Page {
  goto(url: string): Promise<unknown>;
  locator(selector: string, options?: { hasText?: string | RegExp }): Locator;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown>;
}

export interface Browser {
  newPage(options: { viewport: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}

interface PlaywrightCore {
  chromium: {
    launch(options: { executablePath: string; args: string[] }): Promise<Browser>;
  };
}

/** Why a browser test cannot run here, or null when it can. */
export function browserSkipReason(): string | null {
  if (CHROMIUM === undefined)
    return 'no Chromium here (apt-get install -y chromium, as .ci/run does); the browser test is skipped';
  try {
    require.resolve('playwright-core');
  } catch {
    return 'playwright-core is not installed (npm ci); the browser test is skipped';
  }
  return null;
}

export async function launchChromium(): Promise<Browser> {
  if (CHROMIUM === undefined) throw new Error('no Chromium');
  // A variable specifier: resolved at run time only (see the module comment).
  const name = 'playwright-core';
  const pw = (await import(name)) as PlaywrightCore;
  // --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
  return pw.chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}
