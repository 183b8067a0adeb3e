#!/usr/bin/env node
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { ManualClock, SystemClock, type Clock } from './clock';
import type { Host } from './host';
import { DEFAULT_DEVHOST_URL } from './origin';
import { registerServiceBusCommands } from './servicebus/cli';
import type { EmulatorMode } from './storage/developmentStorage';

/** The line a supervisor (tests, scripts) waits for: the prefix, then one JSON object. */
export const READY_PREFIX = 'DEVHOST_READY ';

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError('A port is 0-65535.');
  return port;
}

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0)
    throw new InvalidArgumentError('Give a number of seconds ≥ 0.');
  return seconds;
}

/** `system`, `manual` (starts at the current time) or `manual:<ISO time>`. */
export function parseClock(value: string): Clock {
  if (value === 'system') return new SystemClock();
  if (value === 'manual') return new ManualClock(Date.now());
  if (value.startsWith('manual:')) {
    const at = Date.parse(value.slice('manual:'.length));
    if (Number.isNaN(at))
      throw new InvalidArgumentError(`"${value}": use manual:<ISO time>, e.g. manual:2026-01-01T00:00:00Z.`);
    return new ManualClock(at);
  }
  throw new InvalidArgumentError('Use system, manual or manual:<ISO time>.');
}

interface StartFlags {
  port: number;
  host: string;
  exposeAdmin?: boolean;
  clock?: Clock;
  dataDir?: string;
  shutdownTimeout: number;
  storageEmulator?: EmulatorMode;
}

function parseEmulator(value: string): EmulatorMode {
  if (value === 'own' || value === 'external') return value;
  throw new InvalidArgumentError('Use own or external.');
}

export const program = new Command('devhost')
  .description('Local Azure Functions + Durable host for Node.js v4-model apps.')
  .showHelpAfterError();

program
  .command('start')
  .description('Load a v4-model function app and serve it.')
  .argument('[appDir]', 'the function app directory (holds package.json and host.json)', '.')
  .option('-p, --port <port>', 'HTTP port (0 picks a free one)', parsePort, 7071)
  .option('--host <address>', 'interface to listen on', '127.0.0.1')
  .option('--expose-admin', 'let non-loopback callers reach /admin and /runtime routes')
  .option('--clock <clock>', 'system, manual or manual:<ISO time> (moved by POST /admin/clock)', parseClock)
  .option(
    '--data-dir <dir>',
    "where durable state and timer status live; ':memory:' keeps none (default <appDir>/.data)",
  )
  .option('--shutdown-timeout <seconds>', 'how long a stop waits for running invocations', parseSeconds, 30)
  .option(
    '--storage-emulator <mode>',
    "UseDevelopmentStorage=true leads to devhost's own Azurite per data directory on free ports (own, the default) or to the emulator already listening on DEVHOST_AZURITE_PORTS, default 10000-10002 (external); setting DEVHOST_STORAGE_EMULATOR",
    parseEmulator,
  )
  .action(async (appDir: string, flags: StartFlags) => {
    await start(appDir, flags);
  });

program
  .command('status')
  .description("A running devhost's health: storage emulator, task hub, broker (exit code 1 when unhealthy).")
  .option(
    '--url <origin>',
    'devhost origin (default: DEVHOST_URL or http://127.0.0.1:7071)',
    DEFAULT_DEVHOST_URL,
  )
  .option('--json', 'print the answer as JSON')
  .action(async (flags: { url: string; json?: boolean }) => {
    process.exitCode = await status(flags.url, flags.json === true);
  });

registerServiceBusCommands(program);

async function start(appDir: string, flags: StartFlags): Promise<void> {
  let host: Host;
  try {
    // Loaded here, not at the top: the sb subcommands then start without loading every extension (Azurite, Durable, ...).
    const [{ Host }, { defaultExtensions }] = await Promise.all([
      import('./host.js'),
      import('./defaultExtensions.js'),
    ]);
    host = await Host.start({
      appDir,
      port: flags.port,
      host: flags.host,
      exposeAdmin: flags.exposeAdmin ?? false,
      clock: flags.clock ?? new SystemClock(),
      ...(flags.dataDir
        ? { dataDir: flags.dataDir === ':memory:' ? ':memory:' : path.resolve(flags.dataDir) }
        : {}),
      shutdownTimeoutMs: flags.shutdownTimeout * 1000,
      extensions: defaultExtensions({
        storage: flags.storageEmulator ? { emulator: flags.storageEmulator } : {},
      }),
    });
  } catch (err) {
    const why =
      (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
        ? `Port ${flags.port} on ${flags.host} is already in use (another devhost?). Start with --port <n>, or --port 0 for a free one.`
        : describe(err);
    process.stderr.write(`devhost: the app in ${path.resolve(appDir)} cannot start.\n${why}\n`);
    process.exit(1);
  }

  const lines = ['', 'Functions:', ''];
  for (const fn of host.functionUrls) {
    const where = fn.url ? `[${fn.methods?.join(',')}] ${fn.url}` : fn.trigger;
    lines.push(`        ${fn.name}: ${where}${fn.disabledReason ? '  (disabled)' : ''}`);
  }
  lines.push(
    '',
    `Admin API: ${host.origin}/admin/functions   Clock: ${host.clock instanceof ManualClock ? 'manual' : 'system'}`,
    '',
  );
  process.stdout.write(lines.join('\n') + '\n');
  process.stdout.write(
    READY_PREFIX +
      JSON.stringify({ origin: host.origin, port: Number(new URL(host.origin).port), pid: process.pid }) +
      '\n',
  );

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`devhost: second ${signal}, exiting without waiting.\n`);
      process.exit(1);
    }
    host.logger.info('Host.Shutdown', `${signal} received; stopping (running invocations may finish).`);
    host.stop().then(
      () => {
        host.logger.info('Host.Shutdown', 'devhost stopped.');
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`devhost: stop failed: ${describe(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** `devhost status`: prints each check; 0 when healthy, 1 when not or when devhost cannot be reached. */
async function status(origin: string, json: boolean): Promise<number> {
  const url = `${origin.replace(/\/+$/, '')}/admin/status`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    process.stderr.write(
      `devhost status: cannot reach devhost at ${url} (${(err as Error).message}); is it running? (--url / DEVHOST_URL)\n`,
    );
    return 1;
  }
  const text = await response.text();
  let body: { status?: string; checks?: { name: string; ok: boolean; detail: string }[] } | undefined;
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = undefined;
  }
  if (!body?.checks) {
    process.stderr.write(`devhost status: ${url} answered ${response.status}: ${text}\n`);
    return 1;
  }
  if (json) process.stdout.write(JSON.stringify(body, null, 2) + '\n');
  else {
    process.stdout.write(`devhost at ${origin}: ${body.status}\n`);
    for (const c of body.checks)
      process.stdout.write(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}\n`);
  }
  return body.status === 'ok' ? 0 : 1;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    // Load errors already carry the app's stack in their message.
    return err.name === 'AppLoadError' || err.name === 'HostConfigError'
      ? err.message
      : (err.stack ?? err.message);
  }
  return String(err);
}

if (require.main === module) {
  program.parseAsync(process.argv).catch((err: unknown) => {
    process.stderr.write(`devhost: ${describe(err)}\n`);
    process.exit(1);
  });
}
