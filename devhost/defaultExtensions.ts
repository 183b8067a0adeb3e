import { DurableExtension } from './durable/durableExtension';
import type { HostExtension } from './extension';
import { ServiceBusExtension } from './servicebus/extension';
import { StorageExtension } from './storage/storageExtension';

/**
 * The extensions `devhost start` runs with: each drives some trigger and binding types
 * (Durable, Service Bus, storage, ...). The host itself runs HTTP and timer triggers.
 */
export function defaultExtensions(): HostExtension[] {
  return [new DurableExtension(), new ServiceBusExtension(), new StorageExtension()];
}
