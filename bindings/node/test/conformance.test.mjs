// Replays the conformance suite (tests/conformance/, or $PORTCULLIS_CONFORMANCE_DIR, recursively)
// through the public API: `eval` sends the action as a JavaScript object, `eval_raw` as text.
// Prints one line per failing case (file, case index, step index) and `N passed, M failed`.
//
//   node --test --test-reporter=spec test/conformance.test.mjs

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

import { Engine, PolicyError } from 'portcullis';

const DEFAULT_DIR = fileURLToPath(new URL('../../../tests/conformance', import.meta.url));
const dir = process.env.PORTCULLIS_CONFORMANCE_DIR || DEFAULT_DIR;
const DEFAULT_CLOCK = '2026-01-01T00:00:00Z';
const EXPECT_KEYS = new Set([
  'effect', 'allowed', 'code', 'rule', 'reason', 'reason_contains', 'matched', 'shadow', 'params',
  'retry_after_ms', 'action_hash', 'policy', 'eval_ns',
]);
const STEP_KINDS = ['eval', 'eval_raw', 'advance_ms', 'set_clock', 'approve', 'update_policy', 'update_policy_raw'];

function jsonFiles(folder) {
  const found = [];
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) found.push(...jsonFiles(path));
    else if (entry.isFile() && entry.name.endsWith('.json')) found.push(path);
  }
  return found.sort();
}

/** A failed check: where (`step N` or `policy`) and what. */
class Mismatch extends Error {
  constructor(where, detail) {
    super(`${where}: ${detail}`);
    this.where = where;
  }
}

function clockMs(text, where) {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new Mismatch(where, `bad clock ${JSON.stringify(text)}`);
  return ms;
}

function show(value) {
  return JSON.stringify(value);
}

function checkDecision(decision, expect, where) {
  for (const [key, want] of Object.entries(expect)) {
    if (!EXPECT_KEYS.has(key)) throw new Mismatch(where, `unknown expect key ${show(key)}`);
    if (key === 'reason_contains') {
      if (!decision.reason.includes(want)) throw new Mismatch(where, `reason ${show(decision.reason)} lacks ${show(want)}`);
    } else if (key === 'policy') {
      for (const [field, value] of Object.entries(want)) {
        if (!isDeepStrictEqual(decision.policy[field], value)) {
          throw new Mismatch(where, `policy.${field} is ${show(decision.policy[field])}, expected ${show(value)}`);
        }
      }
    } else if (!isDeepStrictEqual(decision[key], want)) {
      throw new Mismatch(where, `${key} is ${show(decision[key])}, expected ${show(want)} (decision ${show(decision)})`);
    }
  }
}

function checkError(error, expect, where) {
  if (!(error instanceof PolicyError)) {
    throw new Mismatch(where, `expected a PolicyError, got ${error instanceof Error ? `${error.name}: ${error.message}` : show(error)}`);
  }
  if (expect.path !== undefined && error.path !== expect.path) {
    throw new Mismatch(where, `error path is ${show(error.path)}, expected ${show(expect.path)} (message ${show(error.message)})`);
  }
  if (expect.contains !== undefined && !error.message.includes(expect.contains)) {
    throw new Mismatch(where, `error message ${show(error.message)} lacks ${show(expect.contains)}`);
  }
}

/** Runs `load`, which must throw the error `expect` describes. */
function expectPolicyError(load, expect, where) {
  try {
    load();
  } catch (error) {
    checkError(error, expect, where);
    return;
  }
  throw new Mismatch(where, `expected a load error ${show(expect)}, the policy loaded`);
}

function runStep(engine, step, where) {
  const kinds = STEP_KINDS.filter((kind) => kind in step);
  if (kinds.length !== 1) throw new Mismatch(where, `a step needs exactly one of ${STEP_KINDS.join(', ')}`);
  const [kind] = kinds;
  switch (kind) {
    case 'eval':
    case 'eval_raw': {
      const decision = engine.evaluate(step[kind]);
      if (step.expect) checkDecision(decision, step.expect, where);
      return;
    }
    case 'advance_ms':
      engine.setTime(engine.now() + step.advance_ms);
      return;
    case 'set_clock':
      engine.setTime(clockMs(step.set_clock, where));
      return;
    case 'approve': {
      const options = { ttlMs: step.ttl_ms };
      if (step.uses !== undefined) options.uses = step.uses;
      const hash = engine.approve(step.approve, options);
      if (!/^sha256:[0-9a-f]{64}$/.test(hash)) throw new Mismatch(where, `approve returned ${show(hash)}`);
      return;
    }
    case 'update_policy':
    case 'update_policy_raw': {
      const policy = step[kind];
      if (step.expect_error) expectPolicyError(() => engine.updatePolicy(policy), step.expect_error, where);
      else engine.updatePolicy(policy);
      return;
    }
  }
}

function runCase(testCase) {
  const policy = 'policy_raw' in testCase ? testCase.policy_raw : testCase.policy;
  const options = { clock: 'manual', startMs: clockMs(testCase.clock ?? DEFAULT_CLOCK, 'clock') };
  if (testCase.expect_error) {
    if (testCase.steps?.length) throw new Mismatch('case', 'expect_error goes with no steps');
    expectPolicyError(() => Engine.fromPolicy(policy, options), testCase.expect_error, 'policy');
    return;
  }
  let engine;
  try {
    engine = Engine.fromPolicy(policy, options);
  } catch (error) {
    throw new Mismatch('policy', `did not load: ${error.path === undefined ? '' : `${show(error.path)} `}${error.message}`);
  }
  // A case without steps checks that its policy loads.
  (testCase.steps ?? []).forEach((step, index) => {
    try {
      runStep(engine, step, `step ${index}`);
    } catch (error) {
      throw error instanceof Mismatch ? error : new Mismatch(`step ${index}`, `threw ${error.name}: ${error.message}`);
    }
  });
}

const cases = [];
const failures = [];
for (const file of jsonFiles(dir)) {
  const name = relative(dir, file);
  let parsed;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    cases.push({ file: name, label: name, broken: `not JSON: ${error.message}` });
    continue;
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  list.forEach((testCase, index) => {
    const label = Array.isArray(parsed) ? `${name}[${index}]` : name;
    cases.push({ file: name, label, testCase });
  });
}

let passed = 0;
for (const { label, testCase, broken } of cases) {
  test(`${label}: ${testCase?.name ?? 'unreadable'}`, () => {
    try {
      if (broken) throw new Mismatch('file', broken);
      runCase(testCase);
      passed += 1;
    } catch (error) {
      const line = error instanceof Mismatch ? `${label} ${error.message}` : `${label} threw ${error.stack}`;
      failures.push(`FAIL ${line}`);
      assert.fail(line);
    }
  });
}

test(`the suite in ${dir} has cases`, () => {
  assert.ok(cases.length > 0, `no *.json case under ${dir}`);
});

after(() => {
  for (const line of failures) console.log(line);
  console.log(`${passed} passed, ${failures.length} failed`);
});
