import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { devhostNodeOptions } from '../../devhost/nodeOptions';

/** The compiled CLI, next to this file's compiled copy (dist/test/support -> dist/devhost). */
export const CLI_PATH = path.resolve(__dirname, '../../devhost/cli.js');
const READY_PREFIX = 'DEVHOST_READY ';

export interface DevhostOptions {
  /** The function app directory (holds package.json). */
  appDir: string;
  /** `manual` or `manual:<ISO>` to let the test move time with POST /admin/clock. */
  clock?: string;
  /** Defaults to ':memory:' so tests leave nothing behind; give a directory to test restarts. */
  dataDir?: string;
  /** Added to (and overriding) the parent's environment. */
  env?: Record<string, string | undefined>;
  /** Extra CLI flags, e.g. ['--shutdown-timeout', '5']. */
  args?: string[];
  /** 0 (a free port, the default) or a fixed one. */
  port?: number;
  readyTimeoutMs?: number;
  /** Flags for the node process itself, e.g. ['--cpu-prof', '--cpu-prof-dir=prof'] (benchmarks). */
  nodeArgs?: string[];
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Devhost {
  /** e.g. `http://127.0.0.1:41234`. */
  origin: string;
  pid: number;
  /** Everything the process wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves with the first output line matching `pattern` (waits for it up to `timeoutMs`). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Graceful stop (SIGTERM); resolves with how the process exited. */
  stop(): Promise<ExitInfo>;
  /** Crash (SIGKILL); resolves once the process is gone. */
  kill(): Promise<ExitInfo>;
  /** Resolves when the process exits, however it ends. */
  exited: Promise<ExitInfo>;
}

/** Raised when devhost exits or stays silent before it is ready. Carries the output and exit code. */
export class DevhostStartError extends Error {
  override readonly name = 'DevhostStartError';
  constructor(
    message: string,
    readonly output: string,
    readonly exit: ExitInfo | undefined,
  ) {
    super(`${message}\n--- devhost output ---\n${output}`);
  }
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts `node <devhostNodeOptions()> dist/devhost/cli.js start <appDir>` as a child process on a
 * free port and waits for its ready line. The child is SIGKILLed if the test process exits first.
 */
export async function startDevhost(options: DevhostOptions): Promise<Devhost> {
  const args = [
    ...devhostNodeOptions(),
    ...(options.nodeArgs ?? []),
    CLI_PATH,
    'start',
    options.appDir,
    '--port',
    String(options.port ?? 0),
  ];
  args.push('--data-dir', options.dataDir ?? ':memory:');
  if (options.clock) args.push('--clock', options.clock);
  args.push(...(options.args ?? []));
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);

  let output = '';
  const watchers = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const watcher of watchers) watcher();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      exitInfo = { code, signal };
      for (const watcher of watchers) watcher();
      resolve(exitInfo);
    });
  });

  const waitForOutput = (pattern: RegExp, timeoutMs = 10_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const line = output.split('\n').find((l) => pattern.test(l));
        if (line !== undefined) {
          done();
          resolve(line);
        } else if (exitInfo) {
          done();
          reject(
            new DevhostStartError(`devhost exited before printing ${String(pattern)}`, output, exitInfo),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new DevhostStartError(
            `No output matching ${String(pattern)} within ${timeoutMs} ms`,
            output,
            exitInfo,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        watchers.delete(check);
      };
      watchers.add(check);
      check();
    });

  let readyLine: string;
  try {
    readyLine = await waitForOutput(new RegExp(`^${READY_PREFIX}`), options.readyTimeoutMs ?? 30_000);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
  const ready = JSON.parse(readyLine.slice(READY_PREFIX.length)) as { origin: string; pid: number };

  const signal = async (sig: NodeJS.Signals) => {
    if (!exitInfo) child.kill(sig);
    return exited;
  };
  return {
    origin: ready.origin,
    pid: ready.pid,
    output: () => output,
    waitForOutput,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    exited,
  };
}

/** Runs `devhost start` expecting it to fail; resolves with its exit and output. */
export async function runDevhostToExit(
  options: DevhostOptions,
  timeoutMs = 30_000,
): Promise<ExitInfo & { output: string }> {
  try {
    const host = await startDevhost({ ...options, readyTimeoutMs: timeoutMs });
    const output = host.output();
    await host.kill();
    throw new Error(`devhost started although it was expected to fail:\n${output}`);
  } catch (err) {
    if (!(err instanceof DevhostStartError) || !err.exit) throw err;
    return { ...err.exit, output: err.output };
  }
}
