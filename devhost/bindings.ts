import type { HostExtension } from './extension';
import type { RegisteredFunction } from './worker/coreApi';
import type { BindingInfo } from './worker/coreTypes';
import { isTrigger } from './worker/invoker';

/** What the host runs by itself, before any extension. */
const BUILT_IN_TRIGGERS = ['httpTrigger', 'timerTrigger'];
const BUILT_IN_BINDINGS = ['http'];

/** The binding types a host with `extensions` can run, lower-cased. */
export class BindingSupport {
  readonly triggers = new Set<string>();
  readonly bindings = new Set<string>();

  constructor(extensions: readonly HostExtension[]) {
    for (const t of BUILT_IN_TRIGGERS) this.triggers.add(t.toLowerCase());
    for (const b of BUILT_IN_BINDINGS) this.bindings.add(b.toLowerCase());
    for (const ext of extensions) {
      for (const t of ext.triggerTypes) this.triggers.add(t.toLowerCase());
      for (const b of ext.bindingTypes ?? []) this.bindings.add(b.toLowerCase());
    }
  }

  /** Bindings of `fn` the host cannot run; the function must be disabled when any is returned. */
  unsupported(fn: RegisteredFunction): BindingInfo[] {
    const triggers = Object.values(fn.metadata.bindings).filter((b) => isTrigger(b.type));
    const problems = Object.values(fn.metadata.bindings).filter((b) =>
      isTrigger(b.type) ? !this.triggers.has(b.type.toLowerCase()) : !this.bindings.has(b.type.toLowerCase()),
    );
    // A function needs exactly one trigger; report a missing one as an unsupported "(no trigger)".
    if (triggers.length !== 1)
      problems.push({ type: triggers.length === 0 ? '(no trigger)' : '(several triggers)', direction: 'in' });
    return problems;
  }
}

/** The function's trigger binding, if it has exactly one place to look (never throws). */
export function triggerOf(fn: RegisteredFunction): BindingInfo | undefined {
  return Object.values(fn.metadata.bindings).find((b) => isTrigger(b.type));
}
