/**
 * The functions an app module registers, captured the way a host captures them: a test registry
 * stands in for `@azure/functions-core` (devhost's, as the Node worker's) while `register` runs.
 */
import { AppRegistry, beginRegistration } from '../../devhost/worker/coreApi';
import type { RegisteredFunction } from '../../devhost/worker/coreApi';

export function captureRegistrations(register: () => void): AppRegistry {
  const registry = new AppRegistry(() => undefined);
  const end = beginRegistration(registry);
  try {
    register();
  } finally {
    end();
  }
  return registry;
}

/** The one function `register` registered under `name`; fails naming what it registered. */
export function registeredFunction(registry: AppRegistry, name: string): RegisteredFunction {
  const found = registry.get(name);
  if (found === undefined)
    throw new Error(
      `no function named '${name}'; registered: ${registry
        .list()
        .map((f) => f.metadata.name)
        .join(', ')}`,
    );
  return found;
}
