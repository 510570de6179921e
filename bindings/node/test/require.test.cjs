// The package from CommonJS: `require` gives the same classes as `import`, so errors and engines
// made through one are `instanceof` the other's, and every adapter loads both ways.

const assert = require('node:assert/strict');
const { test } = require('node:test');

const portcullis = require('portcullis');

test('require("portcullis") evaluates and throws the package errors', () => {
  const engine = portcullis.Engine.fromPolicy({ portcullis: 1, name: 'cjs', rules: [{ id: 'r', effect: 'allow', match: { tool: ['t'] } }] });
  assert.equal(engine.evaluate({ tool: 't', agent: { id: 'a' } }).rule, 'r');
  assert.equal(engine.evaluate({ tool: 'u', agent: { id: 'a' } }).code, 'default');
  assert.throws(() => portcullis.Engine.fromPolicy('{'), portcullis.PolicyError);
});

test('import and require share one copy of each class', async () => {
  const esm = await import('portcullis');
  for (const name of ['Engine', 'PortcullisError', 'PolicyError', 'DeniedError', 'ApprovalRequiredError', 'InvalidArgumentError', 'InvalidActionError', 'ClockError', 'AuditError', 'guard', 'refusalMessage']) {
    assert.equal(typeof portcullis[name], 'function', name);
    assert.equal(esm[name], portcullis[name], name);
  }
  assert.deepEqual(Object.keys(esm).sort(), Object.keys(portcullis).filter((key) => key !== '__esModule').sort());
  const engine = esm.Engine.fromPolicy({ portcullis: 1, name: 'x' });
  assert.ok(engine instanceof portcullis.Engine);
});

test('every adapter loads through require and import', async () => {
  const expected = {
    'portcullis/openai': ['guardTool', 'toolInputGuardrail'],
    'portcullis/langchain': ['portcullisMiddleware'],
    'portcullis/mcp': ['guardCallToolHandler', 'createProxyServer', 'refusedResult'],
  };
  for (const [specifier, names] of Object.entries(expected)) {
    const required = require(specifier);
    const imported = await import(specifier);
    for (const name of names) {
      assert.equal(typeof required[name], 'function', `${specifier} require ${name}`);
      assert.equal(typeof imported[name], 'function', `${specifier} import ${name}`);
    }
  }
});
