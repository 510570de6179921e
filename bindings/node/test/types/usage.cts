// The same declarations from a CommonJS module.
import portcullis = require('portcullis');
import openai = require('portcullis/openai');

const engine = portcullis.Engine.fromPolicy({ portcullis: 1, name: 'cjs' });
const decision: portcullis.Decision = engine.evaluate({ tool: 't', agent: { id: 'a' } });
const guardrail = openai.toolInputGuardrail(engine, { agentId: 'a' });
// @ts-expect-error: reason is a string
const reason: number = decision.reason;

export { guardrail, reason };
