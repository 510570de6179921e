// The LangChain.js v1 middleware, driven through a real `createAgent` loop with LangChain's
// scripted chat model (`fakeModel`): no network. Tools record their calls.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Command, MemorySaver } from '@langchain/langgraph';
import { AIMessage, ToolMessage, createAgent, fakeModel, tool } from 'langchain';
import { z } from 'zod';

import { Engine } from 'portcullis';
import { portcullisMiddleware } from 'portcullis/langchain';

const policy = {
  portcullis: 1,
  name: 'langchain-test',
  default: 'deny',
  rules: [
    { id: 'read', effect: 'allow', match: { tool: ['read_file'] } },
    { id: 'outside', effect: 'deny', match: { tool: ['read_file'] }, unless: { field: 'params.path', path_within: ['/srv/data'] }, reason: 'reads stay in /srv/data' },
    { id: 'search', effect: 'allow', match: { tool: ['search'] }, modify: { clamp: { 'params.limit': { max: 10 } }, set: { 'params.safe': true } } },
    { id: 'pay', effect: 'allow', match: { tool: ['pay'] } },
    { id: 'big-pay', effect: 'require_approval', match: { tool: ['pay'] }, when: { field: 'params.amount', gt: 100 }, reason: 'payments over 100 need a human' },
    { id: 'tenant', effect: 'deny', match: { tool: ['search'] }, when: { field: 'context.tenant', ne: 'acme' }, reason: 'search is for acme only' },
  ],
};

function setup(middlewareOptions = { agentId: 'researcher-1' }) {
  const engine = Engine.fromPolicy(policy);
  const calls = [];
  const readFile = tool(async (input) => (calls.push(['read_file', input]), `contents of ${input.path}`), {
    name: 'read_file',
    description: 'Read a file',
    schema: z.object({ path: z.string() }),
  });
  const search = tool(async (input) => (calls.push(['search', input]), 'results'), {
    name: 'search',
    description: 'Search',
    schema: z.object({ q: z.string(), limit: z.number(), safe: z.boolean().optional() }),
  });
  return { engine, calls, tools: [readFile, search], middleware: portcullisMiddleware(engine, middlewareOptions) };
}

async function runAgent({ tools, middleware }, toolCalls) {
  const model = fakeModel().respondWithTools(toolCalls).respond(new AIMessage('done'));
  const agent = createAgent({ model, tools, middleware: [middleware] });
  const result = await agent.invoke({ messages: [{ role: 'user', content: 'go' }] });
  return result.messages.filter((message) => ToolMessage.isInstance(message));
}

describe('portcullisMiddleware', () => {
  test('a denied call never reaches the tool; the agent gets an error ToolMessage with the reason', async () => {
    const setupResult = setup();
    const [message] = await runAgent(setupResult, [{ name: 'read_file', args: { path: '/srv/data/../../etc/passwd' }, id: 'call-1' }]);
    assert.deepEqual(setupResult.calls, []);
    assert.equal(message.tool_call_id, 'call-1');
    assert.equal(message.status, 'error');
    assert.equal(message.content, 'Denied by policy: reads stay in /srv/data');
    assert.equal(message.metadata.portcullis.rule, 'outside');
  });

  test('an allowed call runs with the arguments as sent', async () => {
    const setupResult = setup();
    const [message] = await runAgent(setupResult, [{ name: 'read_file', args: { path: '/srv/data/report.txt' }, id: 'call-1' }]);
    assert.deepEqual(setupResult.calls, [['read_file', { path: '/srv/data/report.txt' }]]);
    assert.equal(message.content, 'contents of /srv/data/report.txt');
  });

  test('a modified call reaches the tool with the rewritten arguments', async () => {
    const setupResult = setup({ agentId: 'researcher-1', context: () => ({ tenant: 'acme' }) });
    await runAgent(setupResult, [{ name: 'search', args: { q: 'agents', limit: 500 }, id: 'call-1' }]);
    assert.deepEqual(setupResult.calls, [['search', { q: 'agents', limit: 10, safe: true }]]);
  });

  test('context comes from the options; a deny on it blocks only that call', async () => {
    const setupResult = setup({ agentId: (request) => `agent-for-${request.toolCall.name}`, context: () => ({ tenant: 'globex' }) });
    const messages = await runAgent(setupResult, [
      { name: 'search', args: { q: 'agents', limit: 5 }, id: 'call-1' },
      { name: 'read_file', args: { path: '/srv/data/a' }, id: 'call-2' },
    ]);
    assert.deepEqual(setupResult.calls, [['read_file', { path: '/srv/data/a' }]]);
    const refused = messages.find((message) => message.tool_call_id === 'call-1');
    assert.equal(refused.content, 'Denied by policy: search is for acme only');
  });
});

describe('portcullisMiddleware approvals (LangGraph human-in-the-loop)', () => {
  function payAgent(middlewareOptions = { agentId: 'researcher-1' }) {
    const engine = Engine.fromPolicy(policy);
    const calls = [];
    const pay = tool(async (input) => (calls.push(input), `paid ${input.amount}`), {
      name: 'pay',
      description: 'Send a payment',
      schema: z.object({ amount: z.number() }),
    });
    const model = fakeModel().respondWithTools([{ name: 'pay', args: { amount: 500 }, id: 'call-1' }]).respond(new AIMessage('done'));
    const agent = createAgent({ model, tools: [pay], middleware: [portcullisMiddleware(engine, middlewareOptions)], checkpointer: new MemorySaver() });
    return { engine, calls, agent };
  }
  const toolMessages = (result) => result.messages.filter((message) => ToolMessage.isInstance(message));

  test('require_approval interrupts; approving resumes the call, which the engine then allows once', async () => {
    const { engine, calls, agent } = payAgent();
    const config = { configurable: { thread_id: 'approve' } };
    const first = await agent.invoke({ messages: [{ role: 'user', content: 'pay' }] }, config);
    assert.deepEqual(calls, []);
    const [pending] = first.__interrupt__;
    assert.deepEqual(pending.value.actionRequests, [{ name: 'pay', args: { amount: 500 }, description: 'Approval required by policy: payments over 100 need a human' }]);
    assert.deepEqual(pending.value.reviewConfigs, [{ actionName: 'pay', allowedDecisions: ['approve', 'reject'] }]);

    const second = await agent.invoke(new Command({ resume: { decisions: [{ type: 'approve' }] } }), config);
    assert.deepEqual(calls, [{ amount: 500 }]);
    assert.equal(toolMessages(second).at(-1).content, 'paid 500');
    // The grant covered that call only: the same payment needs approval again.
    assert.equal(engine.evaluate({ tool: 'pay', agent: { id: 'researcher-1' }, params: { amount: 500 } }).code, 'approval_required');
  });

  test('a rejection (or an edit) never reaches the tool; the agent sees the message', async () => {
    for (const [thread, decision, expected] of [
      ['reject', { type: 'reject', message: 'not this month' }, 'not this month'],
      ['edit', { type: 'edit', editedAction: { name: 'pay', args: { amount: 5 } } }, 'Rejected by a human: Approval required by policy: payments over 100 need a human'],
    ]) {
      const { calls, agent } = payAgent();
      const config = { configurable: { thread_id: thread } };
      await agent.invoke({ messages: [{ role: 'user', content: 'pay' }] }, config);
      const second = await agent.invoke(new Command({ resume: { decisions: [decision] } }), config);
      assert.deepEqual(calls, []);
      const message = toolMessages(second).at(-1);
      assert.equal(message.status, 'error');
      assert.equal(message.content, expected);
    }
  });

  test("approvals: 'refuse' answers the agent without interrupting", async () => {
    const { calls, agent } = payAgent({ agentId: 'researcher-1', approvals: 'refuse' });
    const result = await agent.invoke({ messages: [{ role: 'user', content: 'pay' }] }, { configurable: { thread_id: 'refuse' } });
    assert.equal(result.__interrupt__, undefined);
    assert.deepEqual(calls, []);
    assert.equal(toolMessages(result).at(-1).content, 'Approval required by policy: payments over 100 need a human');
  });
});
