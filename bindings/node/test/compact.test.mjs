// The decision object `evaluate` builds from the native module's compact form (src/compact.ts)
// is exactly `JSON.parse` of the decision's JSON text: same keys in the same order, same values.
// Every conformance case is replayed in lockstep on two engines, one read through the public API
// and one through the native module's JSON text; hand-made cases cover what the suite does not
// (non-ASCII and very long texts, which take the JSON fallback).

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Engine } from 'portcullis';

const require = createRequire(import.meta.url);
const { native } = require('../dist/cjs/native.js');
const { EncodeError } = require('../dist/cjs/encode.js');
const { actionText } = require('../dist/cjs/engine.js');

const CONFORMANCE = fileURLToPath(new URL('../../../tests/conformance', import.meta.url));
const START = Date.parse('2026-01-01T00:00:00Z');

/** JSON text of a decision without `eval_ns` (the only field two engines may differ in), keys in order. */
function canonical(decision) {
  const { eval_ns, ...rest } = decision;
  assert.equal(typeof eval_ns, 'number');
  assert.ok(Number.isSafeInteger(eval_ns) && eval_ns >= 0);
  return JSON.stringify(rest);
}

/** An engine through the public API and the same engine read through the native JSON text. */
class Twin {
  constructor(policy, startMs) {
    const text = typeof policy === 'string' ? policy : JSON.stringify(policy);
    this.api = Engine.fromPolicy(text, { clock: 'manual', startMs });
    this.raw = native.NativeEngine.create(text, true, startMs, 0);
  }

  evaluate(action) {
    const decision = this.api.evaluate(action);
    const text = actionText(action);
    // Values the encoder refuses never reach the engine's JSON path: nothing to compare with.
    if (text instanceof EncodeError) return decision;
    assert.equal(canonical(decision), canonical(JSON.parse(this.raw.evaluateJson(text))));
    return decision;
  }

  verdict(action) {
    const verdict = this.api.evaluateVerdict(action);
    const full = JSON.parse(this.raw.evaluateJson(actionText(action)));
    assert.deepEqual(Object.keys(verdict), ['effect', 'allowed', 'code', 'rule', 'retry_after_ms', 'params_modified']);
    assert.deepEqual(verdict, {
      effect: full.effect,
      allowed: full.allowed,
      code: full.code,
      rule: full.rule,
      retry_after_ms: full.retry_after_ms,
      params_modified: full.params !== null,
    });
    return verdict;
  }

  setTime(ms) {
    this.api.setTime(ms);
    this.raw.setTime(ms);
  }

  approve(action, ttlMs, uses = 1) {
    const hash = this.api.approve(action, { ttlMs, uses });
    const raw = typeof action === 'string' && !action.trimStart().startsWith('{')
      ? this.raw.approveHash(action, ttlMs, uses)
      : this.raw.approveJson(actionText(action), ttlMs, uses);
    if (typeof raw === 'string') assert.equal(raw, hash);
  }

  updatePolicy(policy) {
    const text = typeof policy === 'string' ? policy : JSON.stringify(policy);
    let failed = false;
    try {
      this.api.updatePolicy(text);
    } catch {
      failed = true;
    }
    assert.equal(this.raw.updatePolicy(text) !== null, failed);
  }
}

function jsonFiles(folder) {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return jsonFiles(path);
    return entry.name.endsWith('.json') ? [path] : [];
  });
}

function replay(testCase) {
  if (testCase.expect_error) return 0;
  const policy = 'policy_raw' in testCase ? testCase.policy_raw : testCase.policy;
  let twin;
  try {
    twin = new Twin(policy, testCase.clock ? Date.parse(testCase.clock) : START);
  } catch {
    return 0;
  }
  let compared = 0;
  for (const step of testCase.steps ?? []) {
    if ('eval' in step || 'eval_raw' in step) {
      twin.evaluate(step.eval ?? step.eval_raw);
      compared += 1;
    } else if ('advance_ms' in step) twin.setTime(twin.api.now() + step.advance_ms);
    else if ('set_clock' in step) twin.setTime(Date.parse(step.set_clock));
    else if ('approve' in step) twin.approve(step.approve, step.ttl_ms, step.uses);
    else if ('update_policy' in step) twin.updatePolicy(step.update_policy);
    else if ('update_policy_raw' in step) twin.updatePolicy(step.update_policy_raw);
  }
  return compared;
}

test('every conformance decision reads as JSON.parse of its JSON text, key order included', () => {
  let compared = 0;
  for (const file of jsonFiles(CONFORMANCE)) {
    const parsed = JSON.parse(readFileSync(file, 'utf8'));
    for (const testCase of Array.isArray(parsed) ? parsed : [parsed]) compared += replay(testCase);
  }
  assert.ok(compared > 500, `only ${compared} decisions compared`);
});

const policy = {
  portcullis: 1,
  name: 'compact',
  version: '1.0',
  default: 'deny',
  rules: [
    { id: 'read', effect: 'allow', match: { tool: ['read'] }, reason: 'lecture autorisée 😀 "quoted" \\ \u0000 \u{1}', modify: { set: { 'params.safe': true } } },
    { id: 'watch', effect: 'deny', shadow: true, match: { tool: ['read'] } },
    { id: 'empty', effect: 'deny', match: { tool: ['empty'] }, reason: '' },
    { id: 'mid', effect: 'deny', match: { tool: ['mid'] }, reason: 'é'.repeat(5000) },
    { id: 'long', effect: 'deny', match: { tool: ['long'] }, reason: 'x'.repeat(70_000) },
    { id: 'long-utf16', effect: 'deny', match: { tool: ['long-utf16'] }, reason: '😀'.repeat(30_000) },
    { id: 'pay', effect: 'require_approval', match: { tool: ['pay'] } },
    { id: 'cap', effect: 'rate_limit', match: { tool: ['send'] }, limit: { max: 1, window: '1m', per: [] } },
    { id: 'send', effect: 'allow', match: { tool: ['send'] } },
  ],
};

test('non-ASCII, control and empty texts, lengths past the compact limit, every optional field', () => {
  const twin = new Twin(policy, START);
  const agent = { id: 'a' };
  const read = twin.evaluate({ tool: 'read', agent, params: { path: '/é', __proto__x: 1, n: [1, 2.5, -0] }, context: { t: '😀' } });
  assert.equal(read.rule, 'read');
  assert.match(read.reason, /😀 "quoted" \\ \u0000 \u0001$/);
  assert.deepEqual(read.shadow, [{ rule: 'watch', effect: 'deny' }]);
  assert.equal(read.params.safe, true);
  twin.evaluate(JSON.parse('{"tool": "read", "agent": {"id": "a"}, "params": {"__proto__": {"x": "é😀"}}}'));
  assert.equal(twin.evaluate({ tool: 'empty', agent }).reason, '');
  assert.equal(twin.evaluate({ tool: 'mid', agent }).reason.length, 5000);
  assert.equal(twin.evaluate({ tool: 'long', agent }).reason.length, 70_000);
  assert.equal(twin.evaluate({ tool: 'long-utf16', agent }).reason.length, 60_000);
  const pay = twin.evaluate({ tool: 'pay', agent, params: { amount: 5 } });
  assert.equal(pay.effect, 'require_approval');
  twin.approve(pay.action_hash, 1000);
  assert.equal(twin.evaluate({ tool: 'pay', agent, params: { amount: 5 } }).code, 'approved');
  assert.equal(twin.evaluate({ tool: 'send', agent }).code, 'rule');
  const limited = twin.evaluate({ tool: 'send', agent });
  assert.equal(limited.code, 'rate_limited');
  assert.equal(typeof limited.retry_after_ms, 'number');
  twin.evaluate({ tool: 'other', agent });
  twin.evaluate('{"tool": 1}');
  twin.evaluate('not json');
  assert.equal(twin.api.evaluate({ tool: 'read', agent, params: { f() {} } }).code, 'invalid_action');
  twin.updatePolicy({ portcullis: 1, name: 'n', default: 'allow', rules: [] });
  assert.equal(twin.evaluate({ tool: 'x', agent }).policy.version, null);
});

test('evaluateVerdict: effect, code, rule, retry and modified params of the same decision', () => {
  const twin = new Twin(policy, START);
  const agent = { id: 'a' };
  assert.equal(twin.verdict({ tool: 'read', agent, params: { path: '/x' } }).params_modified, true);
  assert.equal(twin.verdict({ tool: 'pay', agent }).effect, 'require_approval');
  assert.equal(twin.verdict({ tool: 'send', agent }).allowed, true);
  const limited = twin.verdict({ tool: 'send', agent });
  assert.equal(limited.code, 'rate_limited');
  assert.ok(limited.retry_after_ms > 0);
  assert.equal(twin.verdict('{"tool": 1}').code, 'invalid_action');
  const refused = twin.api.evaluateVerdict({ tool: 'read', agent, params: { n: 10n } });
  assert.deepEqual(refused, { effect: 'deny', allowed: false, code: 'invalid_action', rule: null, retry_after_ms: null, params_modified: false });
});
