// Engine.explain: the trace of a decision, as a dry run (no rate limit used).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Engine, InvalidArgumentError } from 'portcullis';

const policy = {
  portcullis: 1,
  name: 'explain-test',
  rules: [
    { id: 'big', effect: 'deny', match: { tool: ['pay'] }, when: { field: 'params.amount', gt: 100 } },
    { id: 'pay', effect: 'allow', match: { tool: ['pay'] } },
    { id: 'once', effect: 'rate_limit', match: { tool: ['pay'] }, limit: { max: 1, window: '1m' } },
    { id: 'mail', effect: 'allow', match: { tool: ['mail.send'] } },
  ],
};

test('explain traces rules and conditions and consumes nothing', () => {
  const engine = Engine.fromPolicy(policy);
  const action = { tool: 'pay', agent: { id: 'a1' }, params: { amount: 5 } };
  for (let i = 0; i < 2; i++) {
    const e = engine.explain(action);
    assert.equal(e.dry_run, true);
    assert.equal(e.decision.effect, 'allow');
    assert.equal(e.rules[0].when.value, 5);
    assert.equal(e.rules[0].when.result, 'false');
    assert.equal(e.rules[3].considered, false);
  }
  assert.equal(engine.evaluate(action).effect, 'allow');
  assert.equal(engine.explain(action).decision.code, 'rate_limited');
  assert.equal(engine.explain('{not json').decision.code, 'invalid_action');
  assert.throws(() => engine.explain({ tool: 'pay', agent: { id: 'a' }, params: { n: 1n } }), InvalidArgumentError);
});
