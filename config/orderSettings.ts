/**
 * Settings of near-real-time order sync (issue 7), validated like loadConfig's: one ConfigError
 * naming every problem.
 */
import { ConfigError } from './configError.js';
import type { ConfigProblem } from './configError.js';
import type { Env } from './settings.js';
import { SETTING } from './settings.js';

export interface OrderSettings {
  /** How old a turn must be before a later event checks that its runner still runs. */
  readonly runnerCheckAfterMs: number;
  readonly deadLetterContainer: string;
}

const CONTAINER_PATTERN = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

export function loadOrderSettings(env: Env): OrderSettings {
  const problems: ConfigProblem[] = [];
  const checkText = env[SETTING.orderRunnerCheckMs]?.trim() || '30000';
  const runnerCheckAfterMs = Number(checkText);
  if (!/^\d+$/.test(checkText) || runnerCheckAfterMs > 3_600_000)
    problems.push({
      path: `settings.${SETTING.orderRunnerCheckMs}`,
      message: `must be whole milliseconds from 0 to 3600000, got '${checkText}'`,
    });
  const deadLetterContainer = env[SETTING.orderDeadLetterContainer]?.trim() || 'order-deadletters';
  if (!CONTAINER_PATTERN.test(deadLetterContainer))
    problems.push({
      path: `settings.${SETTING.orderDeadLetterContainer}`,
      message: `'${deadLetterContainer}' is not a valid blob container name`,
    });
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ runnerCheckAfterMs, deadLetterContainer });
}
