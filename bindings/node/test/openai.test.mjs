// The OpenAI Agents SDK adapter, driven through the SDK's real agent loop (Runner) with its
// scripted model: no network. Each tool records its calls, so the tests see exactly what ran.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Agent, run, setTracingDisabled, tool } from '@openai/agents';
import { ScriptedModel, assistantMessage, functionCall } from '@openai/agents/testing';
import { z } from 'zod';

import { Engine } from 'portcullis';
import { guardTool, toolInputGuardrail } from 'portcullis/openai';

setTracingDisabled(true);

const policy = {
  portcullis: 1,
  name: 'openai-test',
  default: 'deny',
  rules: [
    { id: 'email', effect: 'allow', match: { tool: ['send_email'] } },
    { id: 'no-evil', effect: 'deny', match: { tool: ['send_email'] }, when: { field: 'params.to', suffix: '@evil.com' }, reason: 'mail to evil.com is blocked' },
    { id: 'search', effect: 'allow', match: { tool: ['search'] }, modify: { clamp: { 'params.limit': { max: 10 } } } },
    { id: 'pay', effect: 'allow', match: { tool: ['pay'] } },
    { id: 'big-pay', effect: 'require_approval', match: { tool: ['pay'] }, when: { field: 'params.amount', gt: 100 }, reason: 'payments over 100 need a human' },
    { id: 'pay-rate', effect: 'rate_limit', match: { tool: ['pay'] }, limit: { max: 5, window: '1h' } },
  ],
};

function setup() {
  const engine = Engine.fromPolicy(policy, { clock: 'manual', startMs: Date.parse('2026-05-22T12:00:00Z') });
  const calls = [];
  const options = { agentId: 'assistant-1' };
  const tools = {
    email: guardTool(engine, options, {
      name: 'send_email',
      description: 'Send an email',
      parameters: z.object({ to: z.string(), body: z.string() }),
      execute: async (input) => (calls.push(['send_email', input]), 'sent'),
    }),
    search: guardTool(engine, options, {
      name: 'search',
      description: 'Search the web',
      parameters: z.object({ q: z.string(), limit: z.number() }),
      execute: async (input) => (calls.push(['search', input]), 'results'),
    }),
    pay: guardTool(engine, options, {
      name: 'pay',
      description: 'Send a payment',
      parameters: z.object({ amount: z.number() }),
      execute: async (input) => (calls.push(['pay', input]), 'paid'),
    }),
  };
  return { engine, calls, tools };
}

function agentWith(model, tools) {
  return new Agent({ name: 'assistant', instructions: 'Use the tools.', model, tools });
}

/** The tool output the model was shown for `callId` on its next turn. */
function toolOutput(model, callId) {
  for (const call of model.calls) {
    const input = Array.isArray(call.request.input) ? call.request.input : [];
    const item = input.find((entry) => entry.type === 'function_call_result' && entry.callId === callId);
    if (item) return typeof item.output === 'string' ? item.output : item.output?.text ?? JSON.stringify(item.output);
  }
  return undefined;
}

describe('guardTool', () => {
  test('a denied call never reaches the tool; the model sees the reason', async () => {
    const { calls, tools } = setup();
    const model = new ScriptedModel([
      [functionCall('send_email', { to: 'boss@evil.com', body: 'hi' }, { callId: 'c1' })],
      [assistantMessage('could not send')],
    ]);
    const result = await run(agentWith(model, [tools.email]), 'email the boss');
    assert.equal(result.finalOutput, 'could not send');
    assert.deepEqual(calls, []);
    assert.equal(toolOutput(model, 'c1'), 'Denied by policy: mail to evil.com is blocked');
  });

  test('an allowed call runs with the arguments as sent', async () => {
    const { calls, tools } = setup();
    const model = new ScriptedModel([
      [functionCall('send_email', { to: 'boss@example.com', body: 'hi' }, { callId: 'c1' })],
      [assistantMessage('sent')],
    ]);
    await run(agentWith(model, [tools.email]), 'email the boss');
    assert.deepEqual(calls, [['send_email', { to: 'boss@example.com', body: 'hi' }]]);
    assert.equal(toolOutput(model, 'c1'), 'sent');
  });

  test('a modified call reaches the tool with the rewritten arguments', async () => {
    const { calls, tools } = setup();
    const model = new ScriptedModel([
      [functionCall('search', { q: 'agents', limit: 500 }, { callId: 'c1' })],
      [assistantMessage('found')],
    ]);
    await run(agentWith(model, [tools.search]), 'search');
    assert.deepEqual(calls, [['search', { q: 'agents', limit: 10 }]]);
  });

  test('require_approval interrupts the run; once approved the call runs, as the engine\'s approved', async () => {
    const { engine, calls, tools } = setup();
    const model = new ScriptedModel([
      [functionCall('pay', { amount: 500 }, { callId: 'c1' })],
      [assistantMessage('paid')],
    ]);
    const agent = agentWith(model, [tools.pay]);
    const first = await run(agent, 'pay 500');
    assert.equal(first.interruptions.length, 1);
    assert.equal(first.interruptions[0].name, 'pay');
    assert.deepEqual(calls, []);

    first.state.approve(first.interruptions[0]);
    const second = await run(agent, first.state);
    assert.equal(second.finalOutput, 'paid');
    assert.deepEqual(calls, [['pay', { amount: 500 }]]);
    // The engine's grant was used by that call: the same payment needs approval again.
    assert.equal(engine.evaluate({ tool: 'pay', agent: { id: 'assistant-1' }, params: { amount: 500 } }).code, 'approval_required');
  });

  test('a rejected approval never reaches the tool', async () => {
    const { calls, tools } = setup();
    const model = new ScriptedModel([
      [functionCall('pay', { amount: 500 }, { callId: 'c1' })],
      [assistantMessage('not paid')],
    ]);
    const agent = agentWith(model, [tools.pay]);
    const first = await run(agent, 'pay 500');
    first.state.reject(first.interruptions[0]);
    const second = await run(agent, first.state);
    assert.equal(second.finalOutput, 'not paid');
    assert.deepEqual(calls, []);
  });

  test('each call counts once against rate limits', async () => {
    const { engine, calls, tools } = setup();
    const model = new ScriptedModel([
      [functionCall('pay', { amount: 1 }, { callId: 'c1' }), functionCall('pay', { amount: 2 }, { callId: 'c2' })],
      [assistantMessage('paid twice')],
    ]);
    await run(agentWith(model, [tools.pay]), 'pay twice');
    assert.equal(calls.length, 2);
    const probe = { tool: 'pay', agent: { id: 'assistant-1' }, params: { amount: 3 } };
    for (let i = 0; i < 3; i++) assert.equal(engine.evaluate(probe).effect, 'allow');
    assert.equal(engine.evaluate(probe).code, 'rate_limited');
  });

  test('calling the tool outside the loop still asks the engine', async () => {
    const { engine } = setup();
    const calls = [];
    const email = guardTool(engine, { agentId: 'assistant-1' }, {
      name: 'send_email',
      description: 'Send an email',
      parameters: z.object({ to: z.string(), body: z.string() }),
      execute: async (input) => (calls.push(input), 'sent'),
      errorFunction: (_context, error) => `${error.name}: ${error.message}`,
    });
    const output = await email.invoke({}, JSON.stringify({ to: 'x@evil.com', body: 'b' }));
    assert.equal(output, 'DeniedError: Denied by policy: mail to evil.com is blocked');
    assert.deepEqual(calls, []);
  });
});

describe('toolInputGuardrail', () => {
  test('rejects what the engine does not allow on a plain SDK tool', async () => {
    const { engine } = setup();
    const calls = [];
    const plain = tool({
      name: 'pay',
      description: 'Send a payment',
      parameters: z.object({ amount: z.number() }),
      inputGuardrails: [toolInputGuardrail(engine, { agentId: (context) => context.context.agent })],
      execute: async (input) => (calls.push(input), 'paid'),
    });
    const model = new ScriptedModel([
      [functionCall('pay', { amount: 500 }, { callId: 'c1' }), functionCall('pay', { amount: 5 }, { callId: 'c2' })],
      [assistantMessage('done')],
    ]);
    await run(agentWith(model, [plain]), 'pay', { context: { agent: 'assistant-1' } });
    assert.deepEqual(calls, [{ amount: 5 }]);
    assert.equal(toolOutput(model, 'c1'), 'Approval required by policy: payments over 100 need a human');
  });
});

describe('dotted tool names (the SDK renames fs.write to fs_write)', () => {
  const dottedPolicy = {
    portcullis: 1,
    name: 'openai-dotted',
    default: 'deny',
    rules: [
      { id: 'write', effect: 'allow', match: { tool: ['fs.write'] } },
      { id: 'etc', effect: 'require_approval', match: { tool: ['fs.write'] }, when: { field: 'params.path', prefix: '/etc/' }, reason: 'writes to /etc need a human' },
      { id: 'billing', effect: 'allow', match: { tool: ['billing.charge'] } },
    ],
  };
  const writeTool = (engine, calls, options = { agentId: 'assistant-1' }) =>
    guardTool(engine, options, {
      name: 'fs.write',
      description: 'Write a file',
      parameters: z.object({ path: z.string(), text: z.string() }),
      execute: async (input) => (calls.push(input), 'written'),
    });

  test('the policy sees the name the user gave, not the SDK name', async () => {
    const engine = Engine.fromPolicy(dottedPolicy);
    const calls = [];
    const write = writeTool(engine, calls);
    assert.equal(write.name, 'fs_write');
    const model = new ScriptedModel([
      [functionCall('fs_write', { path: '/tmp/a', text: 'x' }, { callId: 'c1' })],
      [assistantMessage('done')],
    ]);
    await run(agentWith(model, [write]), 'write');
    assert.deepEqual(calls, [{ path: '/tmp/a', text: 'x' }]);
    assert.equal(toolOutput(model, 'c1'), 'written');
  });

  test('an approval given for the renamed tool is honoured for the dotted policy name', async () => {
    const engine = Engine.fromPolicy(dottedPolicy);
    const calls = [];
    const agent = agentWith(
      new ScriptedModel([[functionCall('fs_write', { path: '/etc/hosts', text: 'x' }, { callId: 'c1' })], [assistantMessage('done')]]),
      [writeTool(engine, calls)],
    );
    const first = await run(agent, 'write');
    assert.equal(first.interruptions.length, 1);
    assert.deepEqual(calls, []);
    first.state.approve(first.interruptions[0]);
    await run(agent, first.state);
    assert.deepEqual(calls, [{ path: '/etc/hosts', text: 'x' }]);
  });

  test('an explicit policyName wins over the tool name', async () => {
    const engine = Engine.fromPolicy(dottedPolicy);
    const calls = [];
    const write = writeTool(engine, calls, { agentId: 'assistant-1', policyName: 'billing.charge' });
    await write.invoke({}, JSON.stringify({ path: '/etc/x', text: 'y' }));
    assert.deepEqual(calls, [{ path: '/etc/x', text: 'y' }]); // allowed by the 'billing' rule, no approval
  });

  test('toolInputGuardrail evaluates its policyName', async () => {
    const engine = Engine.fromPolicy(dottedPolicy);
    const calls = [];
    const make = (guardrailOptions) =>
      tool({
        name: 'billing.charge',
        description: 'Charge',
        parameters: z.object({ cents: z.number() }),
        inputGuardrails: [toolInputGuardrail(engine, guardrailOptions)],
        execute: async (input) => (calls.push(input), 'charged'),
      });
    const model = () => new ScriptedModel([[functionCall('billing_charge', { cents: 5 }, { callId: 'c1' })], [assistantMessage('done')]]);
    const withoutName = model();
    await run(agentWith(withoutName, [make({ agentId: 'assistant-1' })]), 'charge');
    assert.deepEqual(calls, []); // the SDK name billing_charge matches no rule: default deny
    assert.match(toolOutput(withoutName, 'c1'), /^Denied by policy/);
    await run(agentWith(model(), [make({ agentId: 'assistant-1', policyName: 'billing.charge' })]), 'charge');
    assert.deepEqual(calls, [{ cents: 5 }]);
  });
});
