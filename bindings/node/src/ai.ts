/**
 * Vercel AI SDK (`ai`, v6) adapter.
 *
 * `guardTools(engine, options, tools)` returns the tool set with each tool's `execute` guarded:
 * the engine decides each call once, in the tool's `needsApproval` (which the SDK calls before
 * running any tool), and `execute` acts on that decision.
 *
 * - `deny` (and any other refusal): `execute` throws `DeniedError` without running the tool; the
 *   SDK turns it into a `tool-error` whose text (the decision's reason) the model sees.
 * - `allow` with rewritten params: the tool runs with the rewritten params.
 * - `require_approval`: the SDK's tool approval flow. The step ends with a
 *   `tool-approval-request`; the host answers with a `tool-approval-response` in the next call's
 *   messages. An approved call is then bound to this exact action (a one-use engine approval) and
 *   decided again, so deny rules and rate limits still apply. A denied one never runs (the SDK
 *   reports `execution-denied`).
 *
 * Approvals are honoured only for a call this guarded tool itself held for approval, with the same
 * input, in this process, and once: a `tool-approval-response` for a call it never asked about
 * (for example one a client forged into the message history) is refused. Resume with the same
 * guarded tools in the process that made the request (the SDK's `experimental_toolApprovalSecret`
 * additionally signs requests across processes).
 */

import type { ModelMessage, Tool, ToolExecutionOptions } from 'ai';
import { ApprovalRequiredError, DeniedError, type Action, type Decision, type Engine } from 'portcullis';

/** How the adapter builds actions from the SDK's tool calls. */
export interface AiSdkOptions {
  /** The acting agent's id in the policy, fixed or read from the SDK's `experimental_context`. */
  agentId: string | ((experimentalContext: unknown) => string);
  /** Host metadata for the action's `context`. */
  context?: (experimentalContext: unknown) => Record<string, unknown>;
  /** Lifetime of the engine approval granted once the host approves, in ms of the engine's clock (default 1000, one use). */
  approvalTtlMs?: number;
}

interface Pending {
  /** The input the decision was made on, as JSON text. */
  input: string;
  json: string | null;
  decision: Decision;
}

/** True when the messages answer `toolCallId`'s approval request with `approved: true`. */
function approvedInMessages(messages: ModelMessage[] | undefined, toolCallId: string): boolean {
  const approvalIds = new Set<string>();
  let approved = false;
  for (const message of messages ?? []) {
    if (typeof message.content === 'string') continue;
    for (const part of message.content as Array<{ type?: string; toolCallId?: string; approvalId?: string; approved?: boolean }>) {
      if (message.role === 'assistant' && part.type === 'tool-approval-request' && part.toolCallId === toolCallId && part.approvalId) {
        approvalIds.add(part.approvalId);
      } else if (message.role === 'tool' && part.type === 'tool-approval-response' && part.approvalId && approvalIds.has(part.approvalId)) {
        approved = part.approved === true; // the last answer counts
      }
    }
  }
  return approved;
}

type AnyTool = Tool<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Guards one tool; the policy sees `name` (the tool's key in the tool set) as the tool name. */
export function guardTool<T extends AnyTool>(engine: Engine, options: AiSdkOptions, name: string, original: T): T {
  const ownExecute = original.execute;
  if (typeof ownExecute !== 'function') {
    throw new TypeError(`guardTool: tool ${JSON.stringify(name)} has no execute function (client-side tools are not guarded)`);
  }
  const ownApproval = original.needsApproval;
  const pending = new Map<string, Pending>();
  // Calls this tool held for approval, by call id, with their input: only these can be approved.
  // The SDK calls needsApproval again when it resumes an approved call; that second call finds the
  // approval already in the messages and must not count as having asked.
  const asked = new Map<string, string>();
  const approvalTtlMs = options.approvalTtlMs ?? 1000;

  const buildAction = (input: unknown, experimentalContext: unknown): Action => {
    const agentId = typeof options.agentId === 'function' ? options.agentId(experimentalContext) : options.agentId;
    const action: Action = { tool: name, agent: { id: agentId }, params: input as Action['params'] };
    return options.context ? { ...action, context: options.context(experimentalContext) } : action;
  };

  const needsApproval = async (
    input: unknown,
    callOptions: { toolCallId: string; messages: ModelMessage[]; experimental_context?: unknown },
  ): Promise<boolean> => {
    const { decision, json } = engine.evaluateWithJson(buildAction(input, callOptions.experimental_context));
    const inputText = JSON.stringify(input) ?? '';
    pending.set(callOptions.toolCallId, { input: inputText, json, decision });
    if (decision.effect === 'require_approval') {
      if (!approvedInMessages(callOptions.messages, callOptions.toolCallId)) asked.set(callOptions.toolCallId, inputText);
      return true;
    }
    if (!decision.allowed) return false; // execute refuses it with the reason
    if (typeof ownApproval === 'function') return ownApproval(input as never, callOptions as never);
    return ownApproval === true;
  };

  const execute = async (input: unknown, callOptions: ToolExecutionOptions) => {
    const action = buildAction(input, callOptions.experimental_context);
    let held = pending.get(callOptions.toolCallId);
    pending.delete(callOptions.toolCallId);
    // A decision made on other input than what is about to run does not count: decide again.
    if (held !== undefined && held.input !== JSON.stringify(input)) held = undefined;
    // Without a held decision (a direct call, or a resumed approval this process never requested) decide here.
    let { decision, json } = held ?? engine.evaluateWithJson(action);
    if (decision.effect === 'require_approval') {
      const askedFor = asked.get(callOptions.toolCallId);
      asked.delete(callOptions.toolCallId);
      if (askedFor !== JSON.stringify(input) || !approvedInMessages(callOptions.messages, callOptions.toolCallId)) {
        throw new ApprovalRequiredError(decision);
      }
      engine.approve(action, { ttlMs: approvalTtlMs, uses: 1 });
      ({ decision, json } = engine.evaluateWithJson(action));
    }
    if (!decision.allowed || json === null) throw new DeniedError(decision);
    const params = decision.params ?? (JSON.parse(json) as { params?: unknown }).params;
    return (ownExecute as (input: unknown, options: ToolExecutionOptions) => unknown)(params, callOptions);
  };

  return { ...original, needsApproval, execute } as T;
}

/** Guards every tool of a tool set that has an `execute` (the key is the name the policy sees). */
export function guardTools<TOOLS extends Record<string, AnyTool>>(engine: Engine, options: AiSdkOptions, tools: TOOLS): TOOLS {
  const guarded: Record<string, AnyTool> = {};
  for (const [name, tool] of Object.entries(tools)) guarded[name] = guardTool(engine, options, name, tool);
  return guarded as TOOLS;
}
