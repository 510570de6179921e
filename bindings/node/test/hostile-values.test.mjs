// Values a host might pass by mistake or an attacker might craft. Each must give a decision:
// the invalid_action deny for anything that is not plain JSON, never an exception and never an
// allow; and names that look like JavaScript internals are just names.

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { Engine } from 'portcullis';

const policy = {
  portcullis: 1,
  name: 'hostile',
  default: 'allow',
  rules: [
    { id: 'no-proto', effect: 'deny', match: { tool: ['__proto__'] } },
    { id: 'no-constructor', effect: 'deny', match: { tool: ['constructor'] } },
    { id: 'no-tostring', effect: 'deny', match: { tool: ['toString'] } },
    // `exists` first: a missing field makes `eq` unknown, and an unknown deny fires.
    { id: 'no-admin', effect: 'deny', when: { all: [{ field: 'params.admin', exists: true }, { field: 'params.admin', eq: true }] } },
    { id: 'no-proto-param', effect: 'deny', when: { field: 'params.__proto__', exists: true } },
  ],
};
const engine = Engine.fromPolicy(policy);

function invalid(action, reasonPattern) {
  let decision;
  assert.doesNotThrow(() => {
    decision = engine.evaluate(action);
  });
  assert.equal(decision.effect, 'deny');
  assert.equal(decision.allowed, false);
  assert.equal(decision.code, 'invalid_action');
  assert.equal(decision.action_hash, null);
  if (reasonPattern) assert.match(decision.reason, reasonPattern);
  return decision;
}

const base = (params) => ({ tool: 'x', agent: { id: 'a1' }, params });

describe('names that are JavaScript internals are plain names', () => {
  for (const tool of ['__proto__', 'constructor', 'toString']) {
    test(`a tool named ${tool}`, () => {
      const expected = new Map([['__proto__', 'no-proto'], ['constructor', 'no-constructor'], ['toString', 'no-tostring']]).get(tool);
      const fromParse = engine.evaluate(JSON.parse(`{"tool": "${tool}", "agent": {"id": "a1"}}`));
      assert.equal(fromParse.rule, expected);
      const bare = Object.create(null);
      bare.tool = tool;
      bare.agent = Object.create(null);
      bare.agent.id = 'a1';
      assert.equal(engine.evaluate(bare).rule, expected);
    });
  }

  test('a params key named __proto__ (from JSON.parse) is a key, and hashes like the text', () => {
    const text = '{"tool": "x", "agent": {"id": "a1"}, "params": {"__proto__": {"admin": true}}}';
    const fromObject = engine.evaluate(JSON.parse(text));
    assert.equal(fromObject.rule, 'no-proto-param');
    assert.equal(fromObject.action_hash, engine.evaluate(text).action_hash);
  });

  test('objects without a prototype are plain objects', () => {
    const params = Object.create(null);
    params.admin = true;
    assert.equal(engine.evaluate(base(params)).rule, 'no-admin');
  });
});

describe('inherited properties are never read', () => {
  afterEach(() => {
    delete Object.prototype.params;
    delete Object.prototype.admin;
    delete Object.prototype.toJSON;
    delete Array.prototype[1];
  });

  test('a polluted Object.prototype adds nothing to the action', () => {
    Object.prototype.admin = true;
    Object.prototype.params = { admin: true };
    const decision = engine.evaluate({ tool: 'x', agent: { id: 'a1' } });
    assert.equal(decision.effect, 'allow');
    assert.equal(decision.code, 'default');
    delete Object.prototype.params;
    delete Object.prototype.admin;
    assert.equal(engine.evaluate({ tool: 'x', agent: { id: 'a1' } }).action_hash, decision.action_hash);
  });

  test('an inherited toJSON cannot replace the action', () => {
    Object.prototype.toJSON = () => ({ tool: 'x', agent: { id: 'a1' } });
    assert.equal(engine.evaluate(base({ admin: true })).rule, 'no-admin');
  });

  test('a replaced RegExp.prototype.exec cannot let a quote or a lone surrogate through unescaped', () => {
    const { exec, test: regexTest } = RegExp.prototype;
    const text = 'a", "admin": true, "b": "';
    const expected = engine.evaluate(base({ note: text, admin: false }));
    try {
      RegExp.prototype.exec = () => null;
      RegExp.prototype.test = () => false;
      const decision = engine.evaluate(base({ note: text, admin: false }));
      assert.equal(decision.action_hash, expected.action_hash);
      assert.equal(decision.effect, 'allow');
      invalid(base({ note: 'a\ud800' }), /params\.note: a string with a lone surrogate/);
    } finally {
      RegExp.prototype.exec = exec;
      RegExp.prototype.test = regexTest;
    }
  });

  test('an array hole is not filled from a polluted Array.prototype', () => {
    Array.prototype[1] = 'filled';
    // eslint-disable-next-line no-sparse-arrays
    invalid(base({ list: ['a', , 'c'] }), /params\.list\[1\]: an array hole/);
  });

  test('an object with a custom prototype is refused, so its prototype is never read', () => {
    invalid(base(Object.create({ admin: true })), /params: an object with a custom prototype is not a JSON value/);
    class Params {
      constructor() {
        this.q = 'x';
      }
    }
    invalid(base(new Params()), /params: a Params is not a JSON value/);
  });
});

describe('values that are not JSON give the invalid_action deny', () => {
  const cycle = { tool: 'x', agent: { id: 'a1' }, params: {} };
  cycle.params.self = cycle.params;
  let deep = {};
  const root = deep;
  for (let i = 0; i < 70; i++) deep = deep.next = {};

  const cases = [
    ['undefined at the top', undefined, /^action: undefined is not a JSON value/],
    ['undefined inside', base({ a: undefined }), /^params\.a: undefined is not a JSON value/],
    ['a function', base({ f() {} }), /^params\.f: a function is not a JSON value/],
    ['a BigInt', base({ n: 10n }), /^params\.n: a BigInt is not a JSON value/],
    ['NaN', base({ n: NaN }), /^params\.n: NaN is not a finite number/],
    ['Infinity', base({ n: [1, -Infinity] }), /^params\.n\[1\]: -Infinity is not a finite number/],
    ['a symbol value', base({ s: Symbol('s') }), /^params\.s: a symbol is not a JSON value/],
    ['a symbol key', base({ [Symbol('k')]: 1 }), /^params: a symbol key is not valid in JSON/],
    ['a cycle', cycle, /^params(\.self)+: nested deeper than 64 levels \(or a cycle\)/],
    ['depth over 64', base(root), /nested deeper than 64 levels/],
    ['a Date', base({ when: new Date(0) }), /^params\.when: a Date is not a JSON value/],
    ['a Map', base({ m: new Map() }), /^params\.m: a Map is not a JSON value/],
    ['a Buffer', base({ b: Buffer.from('x') }), /^params\.b: a Buffer is not a JSON value/],
    ['a boxed string', base({ s: new String('x') }), /^params\.s: a String is not a JSON value/],
    ['a lone surrogate in a value', base({ s: 'a\ud800b' }), /^params\.s: a string with a lone surrogate/],
    ['a lone surrogate in a key', base({ ['k\udc00']: 1 }), /a key with a lone surrogate/],
    ['a lone surrogate in JSON text', '{"tool": "x\ud800", "agent": {"id": "a1"}}', /lone surrogate/],
    ['a number', 42, undefined],
    ['null', null, undefined],
    ['an array', [base({})], undefined],
    ['a key with a dot in the path', base({ 'a.b': { c: undefined } }), /^params\["a\.b"\]\.c: undefined/],
  ];
  for (const [name, value, reason] of cases) {
    test(name, () => invalid(value, reason));
  }

  test('a getter that throws', () => {
    const params = {};
    Object.defineProperty(params, 'boom', { enumerable: true, get: () => { throw new Error('no'); } });
    invalid(base(params), /^params\.boom: reading the value threw/);
  });

  test('a proxy whose traps throw', () => {
    const trap = () => { throw new Error('trap'); };
    invalid(base(new Proxy({}, { ownKeys: trap })), /^params: reading the value threw/);
    invalid(new Proxy({}, { getPrototypeOf: trap }), /^action: reading the value threw/);
  });

  test('a getter is read exactly once', () => {
    let reads = 0;
    const params = {};
    Object.defineProperty(params, 'admin', { enumerable: true, get: () => (reads++ === 0 ? true : false) });
    assert.equal(engine.evaluate(base(params)).rule, 'no-admin');
    assert.equal(reads, 1);
  });

  test('an action over 1 MiB, as an object or as text, without encoding all of it', () => {
    const huge = 'x'.repeat(64 * 1024 * 1024);
    invalid(base({ huge }), /larger than 1048576 bytes/);
    invalid(JSON.stringify(base({ s: 'y'.repeat(1024 * 1024) })), /1048576|1 MiB|too large|larger/);
  });

  test('non-enumerable and non-index array properties are not part of the action', () => {
    const params = { q: 'x' };
    Object.defineProperty(params, 'admin', { enumerable: false, value: true });
    const list = ['a'];
    list.admin = true;
    const decision = engine.evaluate(base({ ...params, list }));
    assert.equal(decision.effect, 'allow');
    assert.equal(decision.action_hash, engine.evaluate(base({ q: 'x', list: ['a'] })).action_hash);
    Object.defineProperty(params, Symbol('hidden'), { enumerable: false, value: 1 });
    assert.equal(engine.evaluate(base(params)).effect, 'allow');
  });

  test('-0 is 0, as in JSON', () => {
    assert.equal(engine.evaluate(base({ n: -0 })).action_hash, engine.evaluate(base({ n: 0 })).action_hash);
  });
});
