/**
 * Typed orchestrator registration: an orchestrator is registered over its contract and receives
 * the contract's input as a parameter, and its generator must return the contract's output.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import type { OrchestratorContract } from './contracts.js';

/** An orchestrator of a contract: `function* (context, input: I): Generator<Task, O, unknown>`. */
export type OrchestratorHandler<I, O> = (
  context: OrchestrationContext,
  input: I,
) => Generator<Task, O, unknown>;

export function registerOrchestration<I, O>(
  contract: OrchestratorContract<I, O>,
  handler: OrchestratorHandler<I, O>,
): void {
  df.app.orchestration(contract.name, (context) => handler(context, context.df.getInput<I>()));
}
