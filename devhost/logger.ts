import type { LogLevel } from './worker/coreTypes';

const ORDER: Record<LogLevel, number> = {
  trace: 0,
  debug: 1,
  information: 2,
  warning: 3,
  error: 4,
  critical: 5,
  none: 6,
};

/** host.json spells levels in PascalCase ("Information"); the worker protocol in lower case. */
export function parseLogLevel(value: unknown, fallback: LogLevel = 'information'): LogLevel {
  if (typeof value !== 'string') return fallback;
  const lower = value.toLowerCase();
  return lower in ORDER ? (lower as LogLevel) : fallback;
}

export interface LogSink {
  write(line: string, level: LogLevel): void;
}

export const consoleSink: LogSink = {
  write(line, level) {
    if (ORDER[level] >= ORDER.warning) process.stderr.write(line + '\n');
    else process.stdout.write(line + '\n');
  },
};

/**
 * Category-filtered logger. Categories follow the Functions host's names ("Host.Startup",
 * "Function.<name>", "Function.<name>.User", "Host.Results"); host.json `logging.logLevel`
 * sets the minimum level per category prefix, the longest matching prefix winning.
 */
export class Logger {
  constructor(
    private readonly levels: Record<string, LogLevel> = { default: 'information' },
    private readonly sink: LogSink = consoleSink,
  ) {}

  minimumFor(category: string): LogLevel {
    let best: LogLevel = this.levels.default ?? 'information';
    let bestLength = -1;
    for (const [prefix, level] of Object.entries(this.levels)) {
      if (prefix === 'default') continue;
      if ((category === prefix || category.startsWith(prefix + '.')) && prefix.length > bestLength) {
        best = level;
        bestLength = prefix.length;
      }
    }
    return best;
  }

  enabled(category: string, level: LogLevel): boolean {
    return level !== 'none' && ORDER[level] >= ORDER[this.minimumFor(category)];
  }

  log(category: string, level: LogLevel, message: string): void {
    if (!this.enabled(category, level)) return;
    this.sink.write(`[${new Date().toISOString()}] ${level.padEnd(11)} ${category}: ${message}`, level);
  }

  info(category: string, message: string): void {
    this.log(category, 'information', message);
  }
  warn(category: string, message: string): void {
    this.log(category, 'warning', message);
  }
  error(category: string, message: string): void {
    this.log(category, 'error', message);
  }
  debug(category: string, message: string): void {
    this.log(category, 'debug', message);
  }
}
