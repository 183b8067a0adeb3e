import { SyncError } from '../sync/errors.js';

/** One thing wrong with the settings or the topology, located by its path in the input. */
export interface ConfigProblem {
  /** Dotted path, e.g. `topology.flows[1].tables[0].keyColumns[0]` or `settings.REGION_SYNC_DATA_DIR`. */
  readonly path: string;
  readonly message: string;
}

/**
 * Thrown once by {@link loadConfig} with every problem found, so an operator fixes the document in
 * one pass instead of one error per start-up.
 */
export class ConfigError extends SyncError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(
      'invalid-config',
      `Invalid Region Sync configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n'),
      { retryable: false },
    );
    this.problems = Object.freeze([...problems]);
  }
}

/** Renders a zod / hand-made path as `a.b[0].c`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}
