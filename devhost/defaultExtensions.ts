import { DurableExtension } from './durable/durableExtension';
import type { HostExtension } from './extension';
import { ServiceBusExtension } from './servicebus/extension';
import { StorageExtension, type StorageExtensionOptions } from './storage/storageExtension';

/**
 * The extensions `devhost start` runs with: each drives some trigger and binding types
 * (Durable, Service Bus, storage, ...). The host itself runs HTTP and timer triggers.
 */
export function defaultExtensions(options: { storage?: StorageExtensionOptions } = {}): HostExtension[] {
  return [new DurableExtension(), new ServiceBusExtension(), new StorageExtension(options.storage)];
}
