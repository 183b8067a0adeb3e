/**
 * Typed activity registration: every activity of a group is registered over its contract, so its
 * handler takes the contract's input type and returns its output type (no casts), its raw input
 * is parsed by the group's zod schema first (activityInput.ts), and its telemetry wraps both.
 */
import * as df from 'durable-functions';
import type { z } from 'zod';
import type { Telemetry } from '../adapters/telemetry.js';
import { parseActivityInput } from './activityInput.js';
import type { TelemetryOf } from './activityTelemetry.js';
import { withTelemetry } from './activityTelemetry.js';
import type { ActivityContract, InputOf, OutputOf } from './contracts.js';

type Contracts = Readonly<Record<string, ActivityContract<unknown, unknown>>>;

/** What a group registers, keyed like its contracts: a handler and an input schema for each. */
export interface ActivityGroup<C extends Contracts> {
  readonly handlers: { readonly [K in keyof C]: (input: InputOf<C[K]>) => Promise<OutputOf<C[K]>> };
  readonly inputs: { readonly [K in keyof C]: z.ZodType<InputOf<C[K]>> };
  readonly telemetry: TelemetryOf<C>;
}

export function registerActivityGroup<C extends Contracts>(
  contracts: C,
  group: ActivityGroup<C>,
  telemetry: Telemetry,
  now: () => Date,
): void {
  for (const key of Object.keys(contracts) as (keyof C & string)[]) {
    // Each key's handler, schema and telemetry agree with its contract (ActivityGroup's types);
    // the loop itself only moves them, so it sees them without their per-key types.
    const contract = contracts[key] as ActivityContract<unknown, unknown>;
    const schema = group.inputs[key] as z.ZodType<unknown>;
    const run = withTelemetry(
      contract.name,
      group.handlers[key] as (input: unknown) => Promise<unknown>,
      group.telemetry[key],
      telemetry,
      now,
      (raw) => parseActivityInput(contract.name, schema, raw),
    );
    df.app.activity(contract.name, { handler: (input: unknown, context) => run(input, context) });
  }
}
