// The same declarations from a CommonJS module.
import agentgate = require('agentgate');
import openai = require('agentgate/openai');

const engine = agentgate.Engine.fromPolicy({ agentgate: 1, name: 'cjs' });
const decision: agentgate.Decision = engine.evaluate({ tool: 't', agent: { id: 'a' } });
const guardrail = openai.toolInputGuardrail(engine, { agentId: 'a' });
// @ts-expect-error: reason is a string
const reason: number = decision.reason;

export { guardrail, reason };
