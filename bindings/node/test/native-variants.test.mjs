// The native module's measured alternatives (bench/boundary.mjs) decide exactly as the shipped
// path does, so the comparison in README.md compares like with like.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);
const { native } = require('../dist/cjs/native.js');
const { encodeJson } = require('../dist/cjs/encode.js');

const engine = native.NativeEngine.create(
  JSON.stringify({
    portcullis: 1,
    name: 'variants',
    version: '3',
    rules: [
      { id: 'read', effect: 'allow', match: { tool: ['read'] }, modify: { set: { 'params.safe': true } } },
      { id: 'secret', effect: 'deny', match: { tool: ['read'] }, when: { field: 'params.path', prefix: '/secret' } },
      { id: 'shadow', effect: 'deny', shadow: true, when: { field: 'context.tenant', eq: 'acme' } },
    ],
  }),
  false,
  0,
  0,
);

const withoutTime = ({ eval_ns, ...rest }) => (assert.equal(typeof eval_ns, 'number'), rest);

const actions = [
  { tool: 'read', agent: { id: 'a' }, params: { path: '/tmp/x', n: [1, 2.5, -0, { deep: null }] }, context: { tenant: 'acme' } },
  { tool: 'read', agent: { id: 'a' }, params: { path: '/secret/x' } },
  { tool: 'write', agent: { id: 'a' } },
  JSON.parse('{"tool": "read", "agent": {"id": "a"}, "params": {"__proto__": {"x": "é😀"}}}'),
];

test('text in, object out: the same decision as text in, JSON.parse out', () => {
  for (const action of actions) {
    const text = encodeJson(action);
    assert.deepEqual(withoutTime(engine.evaluateJsonObject(text)), withoutTime(JSON.parse(engine.evaluateJson(text))));
  }
});

test('the Node-API object walk and typed fields decide as the encoder + text path', () => {
  for (const action of actions) {
    const expected = withoutTime(JSON.parse(engine.evaluateJson(encodeJson(action))));
    assert.deepEqual(withoutTime(JSON.parse(engine.evaluateValue(action))), expected);
    const fields = engine.evaluateFields(action.tool, action.agent.id, action.params ? encodeJson(action.params) : '', action.context ? encodeJson(action.context) : '');
    assert.deepEqual(withoutTime(JSON.parse(fields)), expected);
  }
});

test('the Node-API object walk refuses what the encoder refuses', () => {
  const cycle = {};
  cycle.self = cycle;
  const cases = [
    [{ f() {} }, /a function/],
    [{ n: 10n }, /a BigInt/],
    [{ n: NaN }, /not a finite number/],
    [{ u: undefined }, /undefined/],
    [{ [Symbol('k')]: 1 }, /symbol key/],
    [{ d: new Date(0) }, /only plain objects/],
    [{ s: 'a\ud800' }, /lone surrogate/],
    [cycle, /deeper than 64 levels/],
    // eslint-disable-next-line no-sparse-arrays
    [{ list: [1, , 3] }, /array hole/],
  ];
  for (const [params, reason] of cases) {
    const decision = JSON.parse(engine.evaluateValue({ tool: 'read', agent: { id: 'a' }, params }));
    assert.equal(decision.code, 'invalid_action');
    assert.match(decision.reason, reason);
    assert.equal(decision.policy.version, '3');
  }
});
