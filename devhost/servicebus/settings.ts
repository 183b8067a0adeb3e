import { cpus } from 'node:os';

/** How the trigger host behaves: host.json `extensions.serviceBus`, with the extension's defaults. */
export interface TriggerHostOptions {
  /** Default `true`; a binding's own `autoCompleteMessages` wins. */
  autoCompleteMessages: boolean;
  /** Concurrent invocations per function without sessions. Default 16 × cores. */
  maxConcurrentCalls: number;
  /** Sessions held at once per session-enabled function. Default 8. */
  maxConcurrentSessions: number;
  /** Largest batch for `cardinality: many`. Default 1000. */
  maxMessageBatchSize: number;
  /** Locks are renewed while a handler runs, up to this long. Default 5 minutes. */
  maxAutoLockRenewalDurationMs: number;
  /**
   * How long a session receiver waits for the next message of its session before it lets the
   * session go. Azure's default is the SDK try-timeout (60 s); devhost's embedded broker lets
   * a session go as soon as it has nothing available, which orders the same and frees the slot.
   */
  sessionIdleTimeoutMs: number | undefined;
}

/**
 * Entity properties of the embedded broker. In Azure these live on the queue/subscription (Bicep,
 * portal); devhost reads them from host.json `extensions.serviceBus` (unknown keys there are
 * ignored by the Azure host), optionally per entity under `entities: {"<queue>" | "<topic>/Subscriptions/<sub>": {...}}`.
 */
export interface EntityOptions {
  /** Default 10. */
  maxDeliveryCount: number;
  /** Peek-lock duration. Default 60 s (Azure's default). */
  lockDurationMs: number;
  /** Duplicate detection history window; 0 turns detection off. Default 10 minutes. */
  duplicateDetectionWindowMs: number;
  /** Expired messages go to the dead-letter queue (`TTLExpiredException`) instead of being dropped. Default false, as in Azure. */
  deadLetteringOnMessageExpiration: boolean;
  /** Default time to live; undefined means never. */
  defaultMessageTimeToLiveMs: number | undefined;
}

export const DEFAULT_ENTITY_OPTIONS: EntityOptions = {
  maxDeliveryCount: 10,
  lockDurationMs: 60_000,
  duplicateDetectionWindowMs: 10 * 60_000,
  deadLetteringOnMessageExpiration: false,
  defaultMessageTimeToLiveMs: undefined,
};

export interface ServiceBusSettings {
  host: TriggerHostOptions;
  entityDefaults: EntityOptions;
  entityOverrides: Record<string, Partial<EntityOptions>>;
}

/** Reads `extensions.serviceBus` from host.json, accepting the v5 names and the older nested v4 ones. */
export function readServiceBusSettings(hostJson: Record<string, unknown>): ServiceBusSettings {
  const extensions = asRecord(hostJson.extensions);
  const sb = asRecord(extensions.serviceBus);
  const legacyMessage = asRecord(sb.messageHandlerOptions);
  const legacySession = asRecord(sb.sessionHandlerOptions);
  const batch = asRecord(sb.batchOptions);
  const host: TriggerHostOptions = {
    autoCompleteMessages: bool(sb.autoCompleteMessages ?? legacyMessage.autoComplete, true),
    maxConcurrentCalls: int(
      sb.maxConcurrentCalls ?? legacyMessage.maxConcurrentCalls,
      16 * Math.max(1, cpus().length),
    ),
    maxConcurrentSessions: int(sb.maxConcurrentSessions ?? legacySession.maxConcurrentSessions, 8),
    maxMessageBatchSize: int(sb.maxMessageBatchSize ?? batch.maxMessageCount, 1000),
    maxAutoLockRenewalDurationMs:
      duration(sb.maxAutoLockRenewalDuration ?? legacyMessage.maxAutoRenewDuration) ?? 5 * 60_000,
    sessionIdleTimeoutMs: duration(sb.sessionIdleTimeout ?? legacySession.messageWaitTimeout),
  };
  const entityDefaults = { ...DEFAULT_ENTITY_OPTIONS, ...entityOptions(sb) };
  const entityOverrides: Record<string, Partial<EntityOptions>> = {};
  for (const [path, value] of Object.entries(asRecord(sb.entities))) {
    entityOverrides[path.toLowerCase()] = entityOptions(asRecord(value));
  }
  return { host, entityDefaults, entityOverrides };
}

export function entityOptionsFor(settings: ServiceBusSettings, path: string): EntityOptions {
  return { ...settings.entityDefaults, ...settings.entityOverrides[path.toLowerCase()] };
}

function entityOptions(raw: Record<string, unknown>): Partial<EntityOptions> {
  const out: Partial<EntityOptions> = {};
  if (raw.maxDeliveryCount !== undefined) out.maxDeliveryCount = int(raw.maxDeliveryCount, 10);
  const lock = duration(raw.lockDuration);
  if (lock !== undefined) out.lockDurationMs = lock;
  const dup = duration(raw.duplicateDetectionHistoryTimeWindow);
  if (dup !== undefined) out.duplicateDetectionWindowMs = dup;
  if (raw.requiresDuplicateDetection === false) out.duplicateDetectionWindowMs = 0;
  if (raw.deadLetteringOnMessageExpiration !== undefined)
    out.deadLetteringOnMessageExpiration = bool(raw.deadLetteringOnMessageExpiration, false);
  const ttl = duration(raw.defaultMessageTimeToLive);
  if (ttl !== undefined) out.defaultMessageTimeToLiveMs = ttl;
  return out;
}

/** A .NET TimeSpan string (`[d.]hh:mm:ss[.fffffff]`), an ISO 8601 duration (`PT30S`), or a number of ms. */
export function duration(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const span = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d+))?$/.exec(value.trim());
  if (span) {
    const [, d, h, m, s, frac] = span;
    const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
    return ((Number(d ?? 0) * 24 + Number(h)) * 60 + Number(m)) * 60_000 + Number(s) * 1000 + ms;
  }
  const iso = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(value.trim());
  if (iso) {
    const [, d, h, m, s] = iso;
    return Math.round(
      ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(m ?? 0)) * 60_000 + Number(s ?? 0) * 1000,
    );
  }
  throw new Error(`"${value}" is not a duration (expected hh:mm:ss, d.hh:mm:ss or ISO 8601 like PT30S).`);
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function bool(value: unknown, fallback: boolean): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.toLowerCase() === 'true';
  return fallback;
}

function int(value: unknown, fallback: number): number {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : fallback;
}
