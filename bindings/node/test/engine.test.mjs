// The public API of the engine: loading, evaluating, updating, approvals, the clock, and the
// errors each misuse raises.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  PortcullisError,
  ClockError,
  Engine,
  InvalidActionError,
  InvalidArgumentError,
  PolicyError,
} from 'portcullis';

const T0 = Date.parse('2026-05-22T12:00:00Z');

const policy = {
  portcullis: 1,
  name: 'api-test',
  version: '7',
  default: 'deny',
  rules: [
    { id: 'read', effect: 'allow', match: { tool: ['file.read'] } },
    { id: 'no-secrets', effect: 'deny', match: { tool: ['file.read'] }, when: { field: 'params.path', prefix: '/secrets/' }, reason: 'secrets are off limits' },
    { id: 'pay', effect: 'require_approval', match: { tool: ['payments.send'] }, when: { field: 'params.amount', gt: 100 } },
    { id: 'small-pay', effect: 'allow', match: { tool: ['payments.send'] } },
    { id: 'search', effect: 'allow', match: { tool: ['search'] }, modify: { clamp: { 'params.limit': { max: 50 } } } },
    { id: 'search-rate', effect: 'rate_limit', match: { tool: ['search'] }, limit: { max: 2, window: '1m' } },
  ],
};

const manual = () => Engine.fromPolicy(policy, { clock: 'manual', startMs: T0 });
const act = (tool, params, id = 'agent-1') => ({ tool, agent: { id }, params });

describe('Engine.fromPolicy', () => {
  test('loads an object and its JSON text alike', () => {
    for (const source of [policy, JSON.stringify(policy)]) {
      const engine = Engine.fromPolicy(source);
      const decision = engine.evaluate(act('file.read', { path: '/tmp/a' }));
      assert.equal(decision.effect, 'allow');
      assert.deepEqual(decision.policy, { name: 'api-test', version: '7' });
    }
  });

  test('a load error is a PolicyError with the path and message of the first error', () => {
    const bad = { ...policy, rules: [policy.rules[0], { id: 'r', effect: 'deny', when: { field: 'tool', equals: 'x' } }] };
    assert.throws(
      () => Engine.fromPolicy(bad),
      (error) => {
        assert.ok(error instanceof PolicyError);
        assert.ok(error instanceof PortcullisError);
        assert.ok(error instanceof Error);
        assert.equal(error.name, 'PolicyError');
        assert.equal(error.path, 'rules[1].when');
        assert.match(error.message, /equals/);
        return true;
      },
    );
  });

  test('text that is not JSON is a PolicyError at the root with line and column', () => {
    assert.throws(() => Engine.fromPolicy('{"portcullis": 1,\n  "name": }'), (error) => {
      assert.ok(error instanceof PolicyError);
      assert.equal(error.path, '');
      assert.match(error.message, /line 2/);
      return true;
    });
  });

  test('a policy object holding a non-JSON value is a PolicyError at that value', () => {
    const bad = { ...policy, rules: [{ id: 'r', effect: 'deny', when: { field: 'params.x', eq: undefined } }] };
    assert.throws(() => Engine.fromPolicy(bad), (error) => {
      assert.ok(error instanceof PolicyError);
      assert.equal(error.path, 'rules[0].when.eq');
      assert.match(error.message, /undefined/);
      return true;
    });
    assert.throws(() => Engine.fromPolicy(42), PolicyError);
    assert.throws(() => Engine.fromPolicy(null), PolicyError);
  });

  test('bad options are InvalidArgumentErrors that name the option', () => {
    const cases = [
      [{ clock: 'atomic' }, /clock must be 'system' or 'manual'/],
      [{ startMs: 5 }, /startMs needs clock: 'manual'/],
      [{ clock: 'manual', startMs: 1.5 }, /startMs must be an integer/],
      [{ maxKeysPerLimit: 0 }, /maxKeysPerLimit must be an integer from 1/],
      [{ maxKeysPerLimit: 2 ** 32 }, /maxKeysPerLimit/],
      [{ maxKeysPerLimt: 10 }, /unknown option "maxKeysPerLimt"/],
      [null, /options must be an object/],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => Engine.fromPolicy(policy, options), (error) => error instanceof InvalidArgumentError && message.test(error.message));
    }
  });

  test('the constructor is not the way in', () => {
    assert.throws(() => new Engine(), /Engine\.fromPolicy/);
  });
});

describe('evaluate', () => {
  test('returns the decision with every key of the spec', () => {
    const decision = manual().evaluate(act('file.read', { path: '/secrets/key' }));
    assert.deepEqual(Object.keys(decision).sort(), [
      'action_hash', 'allowed', 'code', 'effect', 'eval_ns', 'matched', 'params', 'policy', 'reason', 'retry_after_ms', 'rule', 'shadow',
    ]);
    assert.equal(decision.effect, 'deny');
    assert.equal(decision.allowed, false);
    assert.equal(decision.code, 'rule');
    assert.equal(decision.rule, 'no-secrets');
    assert.equal(decision.reason, 'secrets are off limits');
    assert.deepEqual(decision.matched, ['read', 'no-secrets']);
    assert.match(decision.action_hash, /^sha256:[0-9a-f]{64}$/);
    assert.equal(typeof decision.eval_ns, 'number');
  });

  test('an object and its JSON text get the same decision and hash', () => {
    const engine = manual();
    const action = act('file.read', { path: '/tmp/x', n: 1 });
    const fromObject = engine.evaluate(action);
    const fromText = engine.evaluate(JSON.stringify(action));
    assert.equal(fromObject.action_hash, fromText.action_hash);
    assert.equal(fromObject.rule, fromText.rule);
  });

  test('modified params come back in the decision, untouched ones do not', () => {
    const engine = manual();
    assert.deepEqual(engine.evaluate(act('search', { q: 'x', limit: 500 })).params, { q: 'x', limit: 50 });
    assert.equal(engine.evaluate(act('search', { q: 'x', limit: 5 })).params, null);
  });

  test('rate limits count on the engine clock and report when to retry', () => {
    const engine = manual();
    assert.equal(engine.evaluate(act('search', { q: '1' })).effect, 'allow');
    assert.equal(engine.evaluate(act('search', { q: '2' })).effect, 'allow');
    const third = engine.evaluate(act('search', { q: '3' }));
    assert.equal(third.code, 'rate_limited');
    assert.equal(third.rule, 'search-rate');
    assert.equal(third.retry_after_ms, 60_000);
    engine.setTime(T0 + 60_000);
    assert.equal(engine.evaluate(act('search', { q: '4' })).effect, 'allow');
  });

  test('bad text is an invalid_action deny, never an exception', () => {
    const engine = manual();
    for (const text of ['{not json', '[1]', '', '{"agent": {"id": "a"}}', 'null']) {
      const decision = engine.evaluate(text);
      assert.equal(decision.effect, 'deny', text);
      assert.equal(decision.code, 'invalid_action', text);
      assert.equal(decision.action_hash, null, text);
      assert.equal(decision.policy.name, 'api-test');
    }
  });
});

describe('approve', () => {
  const big = act('payments.send', { amount: 500 });

  test('an approval by action turns require_approval into approved, once', () => {
    const engine = manual();
    const pending = engine.evaluate(big);
    assert.equal(pending.effect, 'require_approval');
    assert.equal(pending.code, 'approval_required');
    const hash = engine.approve(big, { ttlMs: 60_000 });
    assert.equal(hash, pending.action_hash);
    const approved = engine.evaluate(big);
    assert.equal(approved.effect, 'allow');
    assert.equal(approved.code, 'approved');
    assert.equal(engine.evaluate(big).effect, 'require_approval');
  });

  test('by hash and by JSON text, with several uses, until the TTL passes', () => {
    const engine = manual();
    const { action_hash: hash } = engine.evaluate(big);
    assert.equal(engine.approve(hash, { ttlMs: 1000, uses: 2 }), hash);
    assert.equal(engine.evaluate(big).code, 'approved');
    engine.setTime(T0 + 1000);
    assert.equal(engine.evaluate(big).code, 'approval_required');
    assert.equal(engine.approve(JSON.stringify(big), { ttlMs: 10 }), hash);
    assert.equal(engine.evaluate(big).code, 'approved');
  });

  test('bad arguments throw PortcullisError subclasses with clear messages', () => {
    const engine = manual();
    const cases = [
      [() => engine.approve(big, { ttlMs: 0 }), InvalidArgumentError, /ttlMs must be a positive integer/],
      [() => engine.approve(big, {}), InvalidArgumentError, /ttlMs/],
      [() => engine.approve(big, { ttlMs: 10, uses: 0 }), InvalidArgumentError, /uses must be an integer from 1/],
      [() => engine.approve(big, { ttlMs: 10, uses: 1.5 }), InvalidArgumentError, /uses/],
      [() => engine.approve(big, { ttlMs: 10, uzes: 2 }), InvalidArgumentError, /unknown option "uzes"/],
      [() => engine.approve(big), InvalidArgumentError, /approve options must be an object/],
      [() => engine.approve('sha256:abc', { ttlMs: 10 }), InvalidArgumentError, /is not an action hash/],
      [() => engine.approve({ tool: 'x' }, { ttlMs: 10 }), InvalidActionError, /agent/],
      [() => engine.approve({ tool: 'x', agent: { id: 'a' }, params: { n: 10n } }, { ttlMs: 10 }), InvalidActionError, /params\.n: a BigInt/],
      [() => engine.approve('{"tool": ', { ttlMs: 10 }), InvalidActionError, /JSON/],
    ];
    for (const [call, type, message] of cases) {
      assert.throws(call, (error) => error instanceof type && error instanceof PortcullisError && message.test(error.message), String(call));
    }
  });
});

describe('clock', () => {
  test('a manual clock starts where asked and moves only with setTime', () => {
    const engine = manual();
    assert.equal(engine.now(), T0);
    engine.setTime(T0 + 5);
    assert.equal(engine.now(), T0 + 5);
    assert.equal(Engine.fromPolicy(policy, { clock: 'manual' }).now(), 0);
  });

  test('a system clock reads the wall clock and refuses setTime with a ClockError', () => {
    const engine = Engine.fromPolicy(policy);
    const before = Date.now();
    const now = engine.now();
    assert.ok(now >= before - 1000 && now <= Date.now() + 1000);
    assert.throws(() => engine.setTime(0), (error) => error instanceof ClockError && error instanceof PortcullisError);
  });

  test('setTime takes integer milliseconds only', () => {
    const engine = manual();
    for (const bad of [1.5, NaN, '5', undefined, 2 ** 60]) {
      assert.throws(() => engine.setTime(bad), (error) => error instanceof InvalidArgumentError && /setTime takes unix milliseconds/.test(error.message));
    }
    assert.equal(engine.now(), T0);
  });
});

describe('updatePolicy', () => {
  test('swaps the policy; a bad one throws and leaves the old one in place', () => {
    const engine = manual();
    assert.throws(() => engine.updatePolicy({ portcullis: 2, name: 'x' }), (error) => error instanceof PolicyError && error.path === 'portcullis');
    assert.equal(engine.evaluate(act('file.read', {})).policy.name, 'api-test');
    engine.updatePolicy(JSON.stringify({ portcullis: 1, name: 'open', default: 'allow' }));
    const decision = engine.evaluate(act('anything', {}));
    assert.equal(decision.effect, 'allow');
    assert.deepEqual(decision.policy, { name: 'open', version: null });
  });

  test('approvals survive an update', () => {
    const engine = manual();
    const big = act('payments.send', { amount: 500 });
    engine.approve(big, { ttlMs: 60_000 });
    engine.updatePolicy({ ...policy, version: '8' });
    const decision = engine.evaluate(big);
    assert.equal(decision.code, 'approved');
    assert.equal(decision.policy.version, '8');
  });
});
