/**
 * Telemetry adapters (sync/telemetry.ts): structured log lines written through the invocation's
 * `context.log`/`warn`/`error` (the Functions host ships worker logs to Application Insights as
 * traces, with the invocation id and function name), and the metrics port: Azure Monitor custom
 * metrics when Application Insights is configured, otherwise `metric` log lines (devhost).
 */
import type { TelemetrySettings } from '../config/telemetrySettings.js';
import type {
  MetricDimensions,
  MetricName,
  Metrics,
  TelemetryEventName,
  TelemetryFields,
  TelemetryLog,
} from '../sync/telemetry.js';
import { TELEMETRY_EVENT, telemetryLine } from '../sync/telemetry.js';

/** Where a line goes: an InvocationContext (or a test's recorder) has these. */
export interface LogSink {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** One invocation's telemetry. */
export interface InvocationTelemetry {
  readonly log: TelemetryLog;
  readonly metrics: Metrics;
}

export interface Telemetry {
  readonly zone: string;
  /** The log and metrics of one invocation, writing through its context. */
  forInvocation(sink: LogSink): InvocationTelemetry;
  /** Flushes and stops the metrics exporter, if any. */
  close(): Promise<void>;
}

/** Structured log lines through a sink, with `zone` on every line. */
export function sinkLog(sink: LogSink, zone: string): TelemetryLog {
  const write =
    (level: 'log' | 'warn' | 'error') =>
    (event: TelemetryEventName, fields?: TelemetryFields): void => {
      try {
        sink[level](telemetryLine(event, { zone }, fields));
      } catch {
        // Telemetry never fails the work it describes.
      }
    };
  return { info: write('log'), warn: write('warn'), error: write('error') };
}

/** Metrics as `metric` log lines: `{"event":"metric","metric":"regionsync.rows_moved","value":12,...}`. */
export function logMetrics(log: TelemetryLog): Metrics {
  return {
    record<N extends MetricName>(name: N, value: number, dimensions: MetricDimensions[N]): void {
      if (!Number.isFinite(value)) return;
      log.info(TELEMETRY_EVENT.metric, { metric: name, value, ...dimensions });
    },
  };
}

/** An exporter of custom metrics (Azure Monitor); `record` never throws. */
export interface MetricsExporter {
  readonly metrics: Metrics;
  close(): Promise<void>;
}

/**
 * Builds the app's telemetry. With Application Insights configured, `loadExporter` (the Azure
 * Monitor adapter, imported lazily so devhost never loads OpenTelemetry) exports the metrics;
 * otherwise they are log lines of the invocation that measured them.
 */
export function createTelemetry(
  settings: TelemetrySettings,
  loadExporter: (settings: NonNullable<TelemetrySettings['appInsights']>, zone: string) => MetricsExporter = (
    s,
    zone,
  ) => lazyAzureMonitor(s, zone),
): Telemetry {
  const exporter = settings.appInsights === null ? null : loadExporter(settings.appInsights, settings.zone);
  return {
    zone: settings.zone,
    forInvocation(sink) {
      const log = sinkLog(sink, settings.zone);
      return { log, metrics: exporter?.metrics ?? logMetrics(log) };
    },
    close: async () => {
      await exporter?.close();
    },
  };
}

/** Telemetry that writes nothing (tests that do not look at it). */
export const silentTelemetry: Telemetry = {
  zone: 'test',
  forInvocation: () => {
    const log: TelemetryLog = { info() {}, warn() {}, error() {} };
    return { log, metrics: { record() {} } };
  },
  close: async () => {},
};

/** Loads adapters/telemetryAzureMonitor.ts on first use; measurements wait for it (and are dropped if it fails). */
function lazyAzureMonitor(
  settings: NonNullable<TelemetrySettings['appInsights']>,
  zone: string,
): MetricsExporter {
  const ready: Promise<MetricsExporter | null> = import('./telemetryAzureMonitor.js')
    .then((m) => m.startAzureMonitorMetrics(settings, zone))
    .catch((e: unknown) => {
      console.error(`region-sync: custom metrics disabled, Azure Monitor did not start: ${String(e)}`);
      return null;
    });
  return {
    metrics: {
      record(name, value, dimensions) {
        void ready.then((x) => x?.metrics.record(name, value, dimensions));
      },
    },
    close: async () => {
      await (await ready)?.close();
    },
  };
}
