import { ApprovalRequiredError, DeniedError } from './errors';
import type { Engine } from './engine';
import type { ActionKind, JsonObject } from './types';

/** What `guard` adds to each action besides the tool, agent and params. */
export interface GuardOptions {
  /** Default `tool_call`. */
  kind?: ActionKind;
  /** For `message` actions: the receiving agent's id. */
  target?: string;
  /** Host metadata for the action's `context`, or a function that returns it per call. */
  context?: JsonObject | (() => JsonObject);
}

/**
 * Wraps `fn` so that each call is decided first. The first argument is the call's params; the
 * action is `{ tool: toolName, agent: { id: agentId }, params, ... }`. When the decision is not
 * allow, `fn` is not called and the wrapper throws `DeniedError` (`ApprovalRequiredError` for
 * `require_approval`) carrying the decision. Otherwise `fn` receives the params the engine
 * decided on: the rewritten ones when a `modify` rule changed them, else a copy of what was
 * evaluated (so a getter cannot hand `fn` something other than what was allowed). Further
 * arguments are passed through unchanged.
 */
export function guard<P extends JsonObject | undefined, A extends unknown[], R>(
  engine: Engine,
  agentId: string,
  toolName: string,
  fn: (params: P, ...rest: A) => R,
  options: GuardOptions = {},
): (params: P, ...rest: A) => R {
  return function guarded(params: P, ...rest: A): R {
    const action: Record<string, unknown> = { tool: toolName, agent: { id: agentId } };
    if (params !== undefined) action.params = params;
    if (options.kind !== undefined) action.kind = options.kind;
    if (options.target !== undefined) action.target = options.target;
    const context = typeof options.context === 'function' ? options.context() : options.context;
    if (context !== undefined) action.context = context;

    const { decision, json } = engine.evaluateWithJson(action);
    if (!decision.allowed || json === null) {
      throw decision.effect === 'require_approval' ? new ApprovalRequiredError(decision) : new DeniedError(decision);
    }
    const evaluated = decision.params ?? (JSON.parse(json) as { params?: JsonObject }).params;
    return fn(evaluated as P, ...rest);
  };
}
