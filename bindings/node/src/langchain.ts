/**
 * LangChain.js v1 (`langchain`) adapter: an agent middleware whose `wrapToolCall` asks the
 * engine about every tool call. A call that is denied never reaches the tool: the agent gets a
 * `ToolMessage` with status `error` and the decision's reason instead. An allowed call whose
 * params a `modify` rule rewrote runs with the rewritten arguments.
 *
 * `require_approval` uses LangGraph's human-in-the-loop interrupt, with the request and response
 * shapes of LangChain's `humanInTheLoopMiddleware`: the run stops and `result.__interrupt__`
 * carries an `HITLRequest` (one action request, decisions `approve` or `reject`). Resume the same
 * thread with `new Command({ resume: { decisions: [{ type: 'approve' }] } })`: the middleware
 * grants the engine a one-use approval for that exact action and decides again (so deny rules and
 * rate limits still apply), then runs the tool. A `reject` (with an optional message), any other
 * answer, or an `edit` (which would run arguments nobody decided on) refuses the call. The agent
 * needs a checkpointer for interrupts, as with `humanInTheLoopMiddleware`; set
 * `approvals: 'refuse'` to turn `require_approval` into a refusal instead.
 */

import { interrupt } from '@langchain/langgraph';
import { ToolMessage, createMiddleware, type HITLRequest, type ToolCallRequest } from 'langchain';
import { refusalMessage, type Action, type Decision, type Engine } from 'portcullis';

/** How the middleware builds actions from LangChain tool calls. */
export interface LangChainOptions {
  /** The acting agent's id in the policy, fixed or read from the request (state, runtime context). */
  agentId: string | ((request: ToolCallRequest) => string);
  /** Host metadata for the action's `context`. */
  context?: (request: ToolCallRequest) => Record<string, unknown>;
  /** The middleware's name (default `Portcullis`); names must be unique within an agent. */
  name?: string;
  /**
   * What `require_approval` does: `'interrupt'` (default) asks a human through LangGraph's
   * interrupt; `'refuse'` answers the agent with the refusal, as for a deny.
   */
  approvals?: 'interrupt' | 'refuse';
  /** Lifetime of the engine approval granted once a human approves, in ms of the engine's clock (default 1000, one use). */
  approvalTtlMs?: number;
}

function refusal(toolCall: ToolCallRequest['toolCall'], content: string, decision: Decision): ToolMessage {
  return new ToolMessage({
    content,
    tool_call_id: toolCall.id ?? '',
    name: toolCall.name,
    status: 'error',
    metadata: { portcullis: decision },
  });
}

/** True only for a resume value that approves: `{ decisions: [{ type: 'approve' }] }`. */
function approved(resume: unknown): { ok: true } | { ok: false; message?: string } {
  const decisions = (resume as { decisions?: unknown } | null | undefined)?.decisions;
  const first = Array.isArray(decisions) && decisions.length === 1 ? (decisions[0] as { type?: unknown; message?: unknown }) : undefined;
  if (first?.type === 'approve') return { ok: true };
  return { ok: false, message: first?.type === 'reject' && typeof first.message === 'string' ? first.message : undefined };
}

/** Creates the middleware; pass it in `createAgent({ middleware: [...], checkpointer })`. */
export function portcullisMiddleware(engine: Engine, options: LangChainOptions) {
  return createMiddleware({
    name: options.name ?? 'Portcullis',
    wrapToolCall: async (request, handler) => {
      const { toolCall } = request;
      const agentId = typeof options.agentId === 'function' ? options.agentId(request) : options.agentId;
      const action: Record<string, unknown> = { tool: toolCall.name, agent: { id: agentId }, params: toolCall.args };
      if (options.context) action.context = options.context(request);

      let { decision, json } = engine.evaluateWithJson(action);
      if (decision.effect === 'require_approval' && options.approvals !== 'refuse') {
        const hitl: HITLRequest = {
          actionRequests: [{ name: toolCall.name, args: toolCall.args, description: refusalMessage(decision) }],
          reviewConfigs: [{ actionName: toolCall.name, allowedDecisions: ['approve', 'reject'] }],
        };
        // The first pass stops the run here; on resume LangGraph reruns this call and interrupt returns the answer.
        const answer = approved(interrupt(hitl));
        if (!answer.ok) return refusal(toolCall, answer.message ?? `Rejected by a human: ${refusalMessage(decision)}`, decision);
        engine.approve(action as unknown as Action, { ttlMs: options.approvalTtlMs ?? 1000, uses: 1 });
        ({ decision, json } = engine.evaluateWithJson(action));
      }
      if (!decision.allowed || json === null) return refusal(toolCall, refusalMessage(decision), decision);
      // Run the tool on exactly what was decided on: the rewritten params, or a copy of the evaluated ones.
      const args = decision.params ?? (JSON.parse(json) as { params: Record<string, unknown> }).params;
      return handler({ ...request, toolCall: { ...toolCall, args } });
    },
  });
}
