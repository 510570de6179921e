/**
 * OpenAI Agents SDK (`@openai/agents`) adapter.
 *
 * - `guardTool(engine, options, toolOptions)` creates a function tool whose calls the engine
 *   decides once each: `deny` rejects the call with the decision's reason (the model sees it,
 *   the tool does not run); `require_approval` becomes the SDK's approval flow (`needsApproval`:
 *   the run stops with an interruption, and once the host approves it the adapter grants the
 *   engine an approval for that exact action and decides again, so rate limits still apply);
 *   an `allow` with rewritten params runs the tool with the rewritten params.
 * - `toolInputGuardrail(engine, options)` is a tool input guardrail for tools you do not create
 *   with `guardTool`: it rejects every call that is not allowed (the SDK's guardrails cannot
 *   rewrite arguments or ask for approval).
 */

import {
  tool,
  type FunctionTool,
  type RunContext,
  type ToolInputGuardrailDefinition,
  type ToolInputParameters,
  type ToolOptions,
  type ToolOutputSchema,
} from '@openai/agents';
import { ApprovalRequiredError, DeniedError, refusalMessage, type Action, type Decision, type Engine } from 'portcullis';

/** How the adapter builds actions from the SDK's tool calls. */
export interface OpenAIAgentsOptions<TContext = unknown> {
  /** The acting agent's id in the policy, fixed or read from the run context. */
  agentId: string | ((runContext: RunContext<TContext>) => string);
  /** Host metadata for the action's `context` (session, user, tenant, ...). */
  context?: (runContext: RunContext<TContext>) => Record<string, unknown>;
  /**
   * Lifetime of the engine approval granted for a call the host approved through the SDK, in
   * milliseconds of the engine's clock (default 1000). It covers one use: the call itself.
   */
  approvalTtlMs?: number;
  /**
   * The tool name the policy sees. The SDK renames tools whose names it does not accept
   * (`fs.write` becomes `fs_write`), so by default `guardTool` evaluates the name given in the
   * tool options, never the renamed one. `toolInputGuardrail` only sees the SDK's name: set it
   * there when the tool's name is not already a valid SDK name.
   */
  policyName?: string;
}

interface Pending {
  action: Action;
  decision: Decision;
}

function buildAction<TContext>(
  options: OpenAIAgentsOptions<TContext>,
  runContext: RunContext<TContext>,
  toolName: string,
  params: unknown,
): Action {
  const agentId = typeof options.agentId === 'function' ? options.agentId(runContext) : options.agentId;
  // The engine checks params: arguments that are not an object are an invalid action.
  const action: Action = { tool: toolName, agent: { id: agentId }, params: params as Action['params'] };
  return options.context ? { ...action, context: options.context(runContext) } : action;
}

/** The model's arguments text as params; text that is not JSON stays a string, which the engine denies. */
function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * A tool input guardrail that rejects, with the decision's reason, every call the engine does
 * not allow (including `require_approval`: use `guardTool` to route those to the SDK's approval
 * flow). Each call is evaluated once, so it counts once against rate limits.
 */
export function toolInputGuardrail<TContext = unknown>(
  engine: Engine,
  options: OpenAIAgentsOptions<TContext> & { name?: string },
): ToolInputGuardrailDefinition<TContext> {
  return {
    type: 'tool_input',
    name: options.name ?? 'portcullis',
    run: async ({ context, toolCall }) => {
      const action = buildAction(options, context, options.policyName ?? toolCall.name, parseArguments(toolCall.arguments));
      const decision = engine.evaluateWithJson(action).decision;
      return decision.allowed
        ? { behavior: { type: 'allow' }, outputInfo: decision }
        : { behavior: { type: 'rejectContent', message: refusalMessage(decision) }, outputInfo: decision };
    },
  };
}

/**
 * Creates a function tool (as the SDK's `tool()` does) whose calls the engine decides; see the
 * module comment. The tool's own `needsApproval` still applies to calls the engine allows, and
 * its own input guardrails run after the engine's.
 */
export function guardTool<
  TParameters extends ToolInputParameters = undefined,
  TContext = unknown,
  TResult = string,
  TOutputSchema extends ToolOutputSchema | undefined = undefined,
>(
  engine: Engine,
  options: OpenAIAgentsOptions<TContext>,
  toolOptions: ToolOptions<TParameters, TContext, TOutputSchema>,
): FunctionTool<TContext, TParameters, TResult> {
  // Decisions made in needsApproval, by run context and call id, for the guardrail and execute.
  const pending = new WeakMap<object, Map<string, Pending>>();
  const remember = (runContext: object, callId: string | undefined, entry: Pending): void => {
    if (callId === undefined) return;
    let calls = pending.get(runContext);
    if (calls === undefined) pending.set(runContext, (calls = new Map()));
    calls.set(callId, entry);
  };
  const recall = (runContext: object | undefined, callId: string | undefined): Pending | undefined =>
    runContext === undefined || callId === undefined ? undefined : pending.get(runContext)?.get(callId);
  const forget = (runContext: object | undefined, callId: string | undefined): void => {
    if (runContext !== undefined && callId !== undefined) pending.get(runContext)?.delete(callId);
  };

  const ownApproval = toolOptions.needsApproval;
  const ownExecute = toolOptions.execute as (input: unknown, runContext?: RunContext<TContext>, details?: unknown) => unknown;
  const approvalTtlMs = options.approvalTtlMs ?? 1000;
  let created: FunctionTool<TContext, TParameters, TResult> | undefined;
  // The name the SDK knows the tool by (approvals are recorded under it), which may be a renamed
  // form of the one the user gave; the policy always sees the user's name.
  const sdkName = (): string => created?.name ?? toolOptions.name ?? '';
  const policyName = options.policyName ?? toolOptions.name ?? (toolOptions.execute as { name?: string }).name ?? '';
  const toolName = (): string => policyName;

  const guardrail: ToolInputGuardrailDefinition<TContext> = {
    type: 'tool_input',
    name: 'portcullis',
    run: async ({ context, toolCall }) => {
      let entry = recall(context, toolCall.callId);
      if (entry === undefined) {
        // needsApproval was skipped (the SDK already holds a decision for this call): decide now.
        const action = buildAction(options, context, toolName(), parseArguments(toolCall.arguments));
        entry = { action, decision: engine.evaluateWithJson(action).decision };
        remember(context, toolCall.callId, entry);
      }
      const { decision } = entry;
      if (decision.effect === 'deny') {
        forget(context, toolCall.callId);
        return { behavior: { type: 'rejectContent', message: refusalMessage(decision) }, outputInfo: decision };
      }
      return { behavior: { type: 'allow' }, outputInfo: decision };
    },
  };

  const guarded = {
    ...toolOptions,
    needsApproval: async (runContext: RunContext<TContext>, input: unknown, callId?: string): Promise<boolean> => {
      const action = buildAction(options, runContext, toolName(), input);
      const decision = engine.evaluateWithJson(action).decision;
      remember(runContext, callId, { action, decision });
      if (decision.effect === 'require_approval') return true;
      if (!decision.allowed) return false; // the guardrail rejects it with the reason
      if (typeof ownApproval === 'function') return ownApproval(runContext, input as never, callId);
      return ownApproval === true;
    },
    inputGuardrails: [guardrail, ...((toolOptions.inputGuardrails ?? []) as ToolInputGuardrailDefinition<TContext>[])],
    execute: async (input: unknown, runContext?: RunContext<TContext>, details?: { toolCall?: { callId?: string } }) => {
      const callId = details?.toolCall?.callId;
      const entry = recall(runContext, callId);
      forget(runContext, callId);
      let decision: Decision;
      const action = entry?.action ?? buildAction(options, runContext as RunContext<TContext>, toolName(), input);
      if (entry === undefined) {
        // Called outside the SDK's tool loop (no needsApproval, no guardrail): decide here.
        decision = engine.evaluateWithJson(action).decision;
      } else {
        decision = entry.decision;
      }
      if (decision.effect === 'require_approval') {
        if (runContext === undefined || callId === undefined || !runContext.isToolApproved({ toolName: sdkName(), callId })) {
          throw new ApprovalRequiredError(decision);
        }
        // The host approved this call through the SDK: bind that approval to this exact action.
        engine.approve(action, { ttlMs: approvalTtlMs, uses: 1 });
        decision = engine.evaluateWithJson(action).decision;
      }
      if (!decision.allowed) throw new DeniedError(decision);
      return ownExecute(decision.params ?? input, runContext, details);
    },
  };
  created = tool(guarded as unknown as ToolOptions<TParameters, TContext, TOutputSchema>) as unknown as FunctionTool<
    TContext,
    TParameters,
    TResult
  >;
  return created;
}
