/**
 * MCP TypeScript SDK (`@modelcontextprotocol/sdk`) adapter.
 *
 * - `guardCallToolHandler(engine, options, handler)` wraps a server's `tools/call` handler: a call
 *   that is not allowed returns an error result (`isError: true`, the decision's reason as text,
 *   the decision under `_meta["portcullis/decision"]`) without reaching the handler; an allowed
 *   call reaches it with the params the engine decided on (rewritten ones when a `modify` rule
 *   changed them).
 * - `createProxyServer(engine, upstream, options)` is an MCP server that lists the tools of an
 *   upstream server (through a connected `Client`) and forwards only the calls the engine allows.
 */

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  type CallToolRequest,
  type CallToolResult,
  type Implementation,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import { refusalMessage, type Decision, type Engine } from 'portcullis';

/** The extra argument MCP servers pass to request handlers. */
export type HandlerExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** A `tools/call` handler as `Server.setRequestHandler(CallToolRequestSchema, ...)` takes it. */
export type CallToolHandler = (request: CallToolRequest, extra: HandlerExtra) => CallToolResult | Promise<CallToolResult>;

/** How the adapter builds actions from `tools/call` requests. */
export interface McpOptions {
  /** The acting agent's id in the policy, fixed or per request (session, auth info, ...). */
  agentId: string | ((request: CallToolRequest, extra: HandlerExtra) => string);
  /** Host metadata for the action's `context`. */
  context?: (request: CallToolRequest, extra: HandlerExtra) => Record<string, unknown>;
}

/** The `_meta` key under which refused calls carry the decision. */
export const DECISION_META_KEY = 'portcullis/decision';

/** The error result returned instead of calling the tool. */
export function refusedResult(decision: Decision): CallToolResult {
  return {
    content: [{ type: 'text', text: refusalMessage(decision) }],
    isError: true,
    _meta: { [DECISION_META_KEY]: decision as unknown as Record<string, unknown> },
  };
}

/** Wraps a `tools/call` handler so the engine decides every call first (see the module comment). */
export function guardCallToolHandler(engine: Engine, options: McpOptions, handler: CallToolHandler): CallToolHandler {
  return async (request, extra) => {
    const agentId = typeof options.agentId === 'function' ? options.agentId(request, extra) : options.agentId;
    const action: Record<string, unknown> = { tool: request.params.name, agent: { id: agentId } };
    if (request.params.arguments !== undefined) action.params = request.params.arguments;
    if (options.context) action.context = options.context(request, extra);

    const { decision, json } = engine.evaluateWithJson(action);
    if (!decision.allowed || json === null) return refusedResult(decision);
    const args = decision.params ?? (JSON.parse(json) as { params?: Record<string, unknown> }).params;
    return handler({ ...request, params: { ...request.params, arguments: args } }, extra);
  };
}

/** Options of the policy-enforcing proxy server. */
export interface ProxyOptions extends McpOptions {
  /** How the proxy introduces itself (default `{ name: "portcullis-proxy", version: "0.1.0" }`). */
  serverInfo?: Implementation;
}

/**
 * An MCP server that exposes the tools of `upstream` (a connected client of the real server)
 * and forwards a `tools/call` only when the engine allows it. Connect it to the agent's
 * transport with `await server.connect(transport)`.
 */
export function createProxyServer(engine: Engine, upstream: Client, options: ProxyOptions): Server {
  const server = new Server(options.serverInfo ?? { name: 'portcullis-proxy', version: '0.1.0' }, {
    capabilities: { tools: {} },
  });
  server.setRequestHandler(ListToolsRequestSchema, (request, extra) =>
    upstream.listTools(request.params, { signal: extra.signal }),
  );
  server.setRequestHandler(
    CallToolRequestSchema,
    guardCallToolHandler(engine, options, async (request, extra) => {
      const result = await upstream.callTool(request.params, undefined, { signal: extra.signal });
      return result as CallToolResult;
    }),
  );
  return server;
}
