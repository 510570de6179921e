/**
 * LangChain.js v1 (`langchain`) adapter: an agent middleware whose `wrapToolCall` asks the
 * engine about every tool call. A call that is not allowed never reaches the tool: the agent
 * gets a `ToolMessage` with status `error` and the decision's reason instead. An allowed call
 * whose params a `modify` rule rewrote runs with the rewritten arguments.
 */

import { ToolMessage, createMiddleware, type ToolCallRequest } from 'langchain';
import { refusalMessage, type Engine } from 'portcullis';

/** How the middleware builds actions from LangChain tool calls. */
export interface LangChainOptions {
  /** The acting agent's id in the policy, fixed or read from the request (state, runtime context). */
  agentId: string | ((request: ToolCallRequest) => string);
  /** Host metadata for the action's `context`. */
  context?: (request: ToolCallRequest) => Record<string, unknown>;
  /** The middleware's name (default `Portcullis`); names must be unique within an agent. */
  name?: string;
}

/** Creates the middleware; pass it in `createAgent({ middleware: [...] })`. */
export function portcullisMiddleware(engine: Engine, options: LangChainOptions) {
  return createMiddleware({
    name: options.name ?? 'Portcullis',
    wrapToolCall: async (request, handler) => {
      const { toolCall } = request;
      const agentId = typeof options.agentId === 'function' ? options.agentId(request) : options.agentId;
      const action: Record<string, unknown> = { tool: toolCall.name, agent: { id: agentId }, params: toolCall.args };
      if (options.context) action.context = options.context(request);

      const { decision, json } = engine.evaluateWithJson(action);
      if (!decision.allowed || json === null) {
        return new ToolMessage({
          content: refusalMessage(decision),
          tool_call_id: toolCall.id ?? '',
          name: toolCall.name,
          status: 'error',
          metadata: { portcullis: decision },
        });
      }
      // Run the tool on exactly what was decided on: the rewritten params, or a copy of the evaluated ones.
      const args = decision.params ?? (JSON.parse(json) as { params: Record<string, unknown> }).params;
      return handler({ ...request, toolCall: { ...toolCall, args } });
    },
  });
}
