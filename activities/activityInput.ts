/**
 * Activity inputs checked at the boundary (STYLE §12 for activities): each activity's input is
 * parsed by a zod schema before its handler runs, and a bad input fails the activity with every
 * problem and its path on one line (durable keeps the first line of a failure).
 *
 * A schema is declared against the contract's TypeScript type with {@link inputSchema}, which
 * refuses to compile when the schema's output and the type differ in a field (missing, extra,
 * optional vs required, another type), so the two cannot drift apart.
 */
import type { z } from 'zod';
import { formatPath } from '../config/configError.js';
import { SyncError } from '../sync/errors.js';

/** T without readonly modifiers, recursively (zod outputs are mutable; contracts are readonly). */
type Mutable<T> = T extends readonly (infer E)[]
  ? Mutable<E>[]
  : T extends object
    ? { -readonly [K in keyof T]: Mutable<T[K]> }
    : T;
/** Identical types: the same fields, each as optional and of the same type (not mere assignability). */
type Same<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
type SameShape<A, B> = Same<Mutable<A>, Mutable<B>>;

/**
 * `inputSchema<ApplyPageInput>()(z.object({...}))`: the schema, typed as parsing to exactly `I`.
 * A mismatch is a compile error on the schema argument.
 */
export function inputSchema<I>() {
  return <S extends z.ZodType>(
    schema: S & (SameShape<z.output<S>, I> extends true ? unknown : { schemaDiffersFrom: I }),
  ): z.ZodType<I> => schema as unknown as z.ZodType<I>;
}

/** Parses an activity's input, or throws one not-retryable error listing every problem. */
export function parseActivityInput<I>(activity: string, schema: z.ZodType<I>, raw: unknown): I {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  throw new SyncError(
    'invalid-input',
    `activity ${activity} refused its input (${problems.length} problem${problems.length === 1 ? '' : 's'}): ` +
      problems.join('; '),
  );
}
