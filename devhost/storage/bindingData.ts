import type { TypedData } from '../worker/coreTypes';
import type { InvocationRequest } from '../worker/invoker';
import { typedDataToValue } from '../worker/typedData';
import type { BindingData } from './expressions';

/**
 * The binding data `{name}` expressions of input and output bindings resolve against, built
 * from what the trigger handed the invoker, as the host builds it per trigger:
 * - trigger metadata as sent (QueueTrigger, DequeueCount, BlobTrigger, captures of a blob path, ...);
 * - for HTTP: route parameters, query parameters (also under `Query`), `Headers`, and the
 *   properties of a JSON body;
 * - for any other trigger whose payload is a JSON object: its properties, which win over the
 *   built-in names, as in the host.
 */
export function bindingDataOf(request: InvocationRequest | undefined): BindingData {
  const data: BindingData = {};
  if (!request) return data;
  for (const [key, value] of Object.entries(request.triggerMetadata ?? {})) {
    data[key] = metadataValue(value);
  }
  const trigger = request.triggerData;
  if (trigger?.http) {
    const http = trigger.http;
    const query = { ...(http.query ?? {}) };
    Object.assign(data, query);
    data.Query = query;
    data.Headers = { ...(http.headers ?? {}) };
    const body = http.body ? parseJsonPayload(http.body) : undefined;
    if (isPlainObject(body)) Object.assign(data, body);
    Object.assign(data, http.params ?? {});
    return data;
  }
  const payload = trigger ? parseJsonPayload(trigger) : undefined;
  if (isPlainObject(payload)) Object.assign(data, payload);
  return data;
}

/** Metadata strings stay strings ({queueTrigger} is the message text even when it is JSON). */
function metadataValue(value: TypedData): unknown {
  if (value.string != null) return value.string;
  try {
    return typedDataToValue(value);
  } catch {
    return undefined;
  }
}

function parseJsonPayload(value: TypedData): unknown {
  let text: string | undefined;
  if (value.json != null) text = value.json;
  else if (value.string != null) text = value.string;
  else if (value.bytes != null) text = Buffer.from(value.bytes).toString('utf8');
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !Buffer.isBuffer(value);
}
