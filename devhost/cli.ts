#!/usr/bin/env node
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { ManualClock, SystemClock, type Clock } from './clock';
import type { Host } from './host';
import { registerServiceBusCommands } from './servicebus/cli';

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
  .action(async (appDir: string, flags: StartFlags) => {
    await start(appDir, flags);
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
      extensions: defaultExtensions(),
    });
  } catch (err) {
    process.stderr.write(`devhost: the app in ${path.resolve(appDir)} cannot start.\n${describe(err)}\n`);
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
