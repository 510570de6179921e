/**
 * MCP TypeScript SDK (`@modelcontextprotocol/sdk`) adapter.
 *
 * - `guardCallToolHandler(engine, options, handler)` wraps a server's `tools/call` handler: a call
 *   that is not allowed returns an error result (`isError: true`, the decision's reason as text,
 *   the decision under `_meta["portcullis/decision"]`) without reaching the handler; an allowed
 *   call reaches it with the params the engine decided on (rewritten ones when a `modify` rule
 *   changed them).
 * - `guardMcpServer(engine, mcpServer, options)` guards every tool of a high-level `McpServer`
 *   (the recommended API) without replacing its dispatch.
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

/** A tool callback as `McpServer.registerTool` takes it: `(args, extra)`, or `(extra)` without an input schema. */
type ToolCallback = (...args: unknown[]) => unknown;
interface TaskHandler {
  createTask: (...args: unknown[]) => unknown;
}
interface RegisteredToolLike {
  handler?: unknown;
  update?: (updates: Record<string, unknown>) => void;
}
interface McpServerLike {
  registerTool: (name: string, config: unknown, callback: ToolCallback) => RegisteredToolLike;
  tool: (name: string, ...rest: unknown[]) => RegisteredToolLike;
  experimental?: { tasks?: { registerToolTask?: (name: string, config: unknown, handler: TaskHandler) => RegisteredToolLike } };
}

const GUARDED = Symbol.for('portcullis.mcp.guarded');

/**
 * Guards every tool of a high-level `McpServer` (`@modelcontextprotocol/sdk/server/mcp.js`) and
 * returns the same server. McpServer keeps its own dispatch (listing, input validation, output
 * schemas, enable/disable); only the tool callbacks are wrapped, so the engine decides each call
 * after McpServer has validated the arguments and before the callback runs. A call that is not
 * allowed returns the error result of `refusedResult` without reaching the callback; an allowed
 * one reaches it with the params the engine decided on.
 *
 * Covered: tools registered before the call (read from McpServer's tool table), tools registered
 * later with `registerTool`, `tool` or `experimental.tasks.registerToolTask`, callbacks replaced
 * with `registeredTool.update({ callback })`, and renames (the policy sees the current name).
 * Calling it twice on a server is harmless.
 */
export function guardMcpServer<S extends object>(engine: Engine, server: S, options: McpOptions): S {
  const target = server as unknown as McpServerLike & { [GUARDED]?: boolean; _registeredTools?: Record<string, RegisteredToolLike> };
  if (target[GUARDED] === true) return server;
  if (typeof target.registerTool !== 'function' || typeof target.tool !== 'function') {
    throw new TypeError('guardMcpServer: expected an McpServer (with registerTool and tool)');
  }
  target[GUARDED] = true;

  const decide = (name: { current: string }, args: unknown, extra: HandlerExtra): { refused?: CallToolResult; args?: unknown } => {
    const request = { method: 'tools/call', params: { name: name.current, arguments: args } } as CallToolRequest;
    const agentId = typeof options.agentId === 'function' ? options.agentId(request, extra) : options.agentId;
    const action: Record<string, unknown> = { tool: name.current, agent: { id: agentId } };
    if (args !== undefined) action.params = args;
    if (options.context) action.context = options.context(request, extra);
    const { decision, json } = engine.evaluateWithJson(action);
    if (!decision.allowed || json === null) return { refused: refusedResult(decision) };
    return { args: decision.params ?? (JSON.parse(json) as { params?: unknown }).params };
  };
  // McpServer calls a callback with (args, extra) when the tool has an input schema, else (extra).
  const wrapCallback = (name: { current: string }, callback: ToolCallback): ToolCallback =>
    async (...callArgs: unknown[]) => {
      const withArgs = callArgs.length >= 2;
      const extra = (withArgs ? callArgs[1] : callArgs[0]) as HandlerExtra;
      const outcome = decide(name, withArgs ? callArgs[0] : undefined, extra);
      if (outcome.refused) return outcome.refused;
      return withArgs ? callback(outcome.args, ...callArgs.slice(1)) : callback(...callArgs);
    };
  const wrapTask = (name: { current: string }, handler: TaskHandler): TaskHandler => ({
    ...handler,
    createTask: async (...callArgs: unknown[]) => {
      const withArgs = callArgs.length >= 2;
      const extra = (withArgs ? callArgs[1] : callArgs[0]) as HandlerExtra;
      const outcome = decide(name, withArgs ? callArgs[0] : undefined, extra);
      // A task cannot return a tool result: McpServer turns the error into an isError result.
      if (outcome.refused) throw new Error(outcome.refused.content.map((part) => ('text' in part ? part.text : '')).join(''));
      return withArgs ? handler.createTask(outcome.args, ...callArgs.slice(1)) : handler.createTask(...callArgs);
    },
  });
  const wrapAny = (name: { current: string }, handler: unknown): unknown => {
    if (typeof handler === 'function') return wrapCallback(name, handler as ToolCallback);
    if (handler !== null && typeof handler === 'object' && typeof (handler as TaskHandler).createTask === 'function') {
      return wrapTask(name, handler as TaskHandler);
    }
    return handler;
  };
  // Keeps a registered tool guarded through update({ callback }) and update({ name }).
  const adopt = (initialName: string, registered: RegisteredToolLike): RegisteredToolLike => {
    const name = { current: initialName };
    registered.handler = wrapAny(name, registered.handler);
    const update = registered.update?.bind(registered);
    if (update !== undefined) {
      registered.update = (updates: Record<string, unknown>) => {
        const next = { ...updates };
        if (typeof next.name === 'string') name.current = next.name;
        if (next.callback !== undefined) next.callback = wrapAny(name, next.callback);
        update(next);
      };
    }
    return registered;
  };

  for (const [name, registered] of Object.entries(target._registeredTools ?? {})) adopt(name, registered);
  const registerTool = target.registerTool.bind(target);
  target.registerTool = (name, config, callback) => adopt(name, registerTool(name, config, callback));
  const tool = target.tool.bind(target);
  target.tool = (name, ...rest) => adopt(name, tool(name, ...rest));
  const tasks = target.experimental?.tasks;
  if (tasks !== undefined && typeof tasks.registerToolTask === 'function') {
    const registerToolTask = tasks.registerToolTask.bind(tasks);
    tasks.registerToolTask = (name, config, handler) => adopt(name, registerToolTask(name, config, handler));
  }
  return server;
}
