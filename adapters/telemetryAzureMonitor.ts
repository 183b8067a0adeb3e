/**
 * Custom metrics in Azure: Azure Monitor OpenTelemetry (metrics only). Loaded by adapters/telemetry.ts
 * only when APPLICATIONINSIGHTS_CONNECTION_STRING is set, so devhost and tests never load it.
 *
 * Everything but the meter is switched off: the Functions host already sends requests,
 * dependencies and the worker's logs (our structured lines among them), so the distro's HTTP and
 * Azure SDK instrumentations, standard metrics and live metrics would only duplicate them.
 * Measurements land in `customMetrics` (name = the metric, dimensions in customDimensions).
 */
import { ManagedIdentityCredential, DefaultAzureCredential } from '@azure/identity';
import { shutdownAzureMonitor, useAzureMonitor } from '@azure/monitor-opentelemetry';
import type { Histogram } from '@opentelemetry/api';
import { metrics as otelMetrics } from '@opentelemetry/api';
import type { TelemetrySettings } from '../config/telemetrySettings.js';
import type { MetricName, Metrics } from '../sync/telemetry.js';
import { METRIC } from '../sync/telemetry.js';
import type { MetricsExporter } from './telemetry.js';

const UNITS: Readonly<Record<MetricName, string>> = {
  [METRIC.rowsMoved]: '{row}',
  [METRIC.syncLagSeconds]: 's',
  [METRIC.orderLatencyMs]: 'ms',
  [METRIC.deadLetterCount]: '{message}',
};

export function startAzureMonitorMetrics(
  settings: NonNullable<TelemetrySettings['appInsights']>,
  zone: string,
): MetricsExporter {
  const credential =
    settings.auth.kind === 'key'
      ? undefined
      : settings.auth.clientId !== null
        ? new ManagedIdentityCredential({ clientId: settings.auth.clientId })
        : new DefaultAzureCredential();
  useAzureMonitor({
    azureMonitorExporterOptions: {
      connectionString: settings.connectionString,
      ...(credential === undefined ? {} : { credential }),
    },
    enableLiveMetrics: false,
    enableStandardMetrics: false,
    enablePerformanceCounters: false,
    instrumentationOptions: {
      azureSdk: { enabled: false },
      http: { enabled: false },
      mongoDb: { enabled: false },
      mySql: { enabled: false },
      postgreSql: { enabled: false },
      redis: { enabled: false },
      redis4: { enabled: false },
      bunyan: { enabled: false },
      winston: { enabled: false },
    },
  });
  const meter = otelMetrics.getMeter('region-sync');
  // Histograms: Azure Monitor keeps sum, count, min and max per export interval, so one
  // instrument answers "rows moved" (sum), "lag" (max/avg) and "dead letters" (sum/count).
  const instruments = new Map<MetricName, Histogram>();
  const instrument = (name: MetricName): Histogram => {
    let h = instruments.get(name);
    if (h === undefined) {
      h = meter.createHistogram(name, { unit: UNITS[name] });
      instruments.set(name, h);
    }
    return h;
  };
  const metrics: Metrics = {
    record(name, value, dimensions) {
      if (!Number.isFinite(value)) return;
      try {
        instrument(name).record(value, { ...dimensions, zone });
      } catch {
        // Telemetry never fails the work it describes.
      }
    },
  };
  return { metrics, close: () => shutdownAzureMonitor() };
}
