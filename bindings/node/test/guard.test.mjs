// guard(): the framework-free wrapper. A refused call never runs fn; an allowed one runs it with
// the params the engine decided on.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ApprovalRequiredError, DeniedError, Engine, guard } from 'portcullis';

const engine = Engine.fromPolicy({
  portcullis: 1,
  name: 'guard-test',
  rules: [
    { id: 'write', effect: 'allow', match: { tool: ['db.write'] }, modify: { set: { 'params.audited': true }, remove: ['params.debug'] } },
    { id: 'no-users', effect: 'deny', match: { tool: ['db.write'] }, when: { field: 'params.table', eq: 'users' }, reason: 'the users table is read-only' },
    { id: 'read', effect: 'allow', match: { tool: ['db.read'] }, when: { field: 'context.tenant', eq: 'acme' } },
    { id: 'drop', effect: 'require_approval', match: { tool: ['db.drop'] } },
  ],
});

function recorder() {
  const calls = [];
  return { calls, fn: (params, ...rest) => (calls.push([params, ...rest]), 'ran') };
}

test('a denied call throws DeniedError with the decision and never reaches fn', () => {
  const { calls, fn } = recorder();
  const write = guard(engine, 'agent-1', 'db.write', fn);
  assert.throws(() => write({ table: 'users' }), (error) => {
    assert.ok(error instanceof DeniedError);
    assert.equal(error.message, 'Denied by policy: the users table is read-only');
    assert.equal(error.decision.rule, 'no-users');
    assert.equal(error.decision.effect, 'deny');
    return true;
  });
  assert.deepEqual(calls, []);
});

test('modified params are what fn receives; other arguments pass through', () => {
  const { calls, fn } = recorder();
  const write = guard(engine, 'agent-1', 'db.write', fn);
  assert.equal(write({ table: 'orders', debug: true }, 'extra'), 'ran');
  assert.deepEqual(calls, [[{ table: 'orders', audited: true }, 'extra']]);
});

test('fn gets a copy of what was evaluated, not the caller object', () => {
  const { calls, fn } = recorder();
  const read = guard(engine, 'agent-1', 'db.read', fn, { context: () => ({ tenant: 'acme' }) });
  let reads = 0;
  const params = {};
  Object.defineProperty(params, 'table', { enumerable: true, get: () => (reads++ === 0 ? 'orders' : 'users') });
  read(params);
  assert.deepEqual(calls, [[{ table: 'orders' }]]);
  assert.equal(reads, 1);
});

test('context and the absence of params reach the engine', () => {
  const { calls, fn } = recorder();
  assert.throws(() => guard(engine, 'agent-1', 'db.read', fn)({}), DeniedError);
  const read = guard(engine, 'agent-1', 'db.read', fn, { context: { tenant: 'acme' } });
  read(undefined);
  assert.deepEqual(calls, [[undefined]]);
});

test('require_approval throws ApprovalRequiredError; after approval the call runs', () => {
  const { calls, fn } = recorder();
  const drop = guard(engine, 'agent-1', 'db.drop', fn);
  let hash;
  assert.throws(() => drop({ table: 'tmp' }), (error) => {
    assert.ok(error instanceof ApprovalRequiredError);
    assert.ok(error instanceof DeniedError);
    assert.match(error.message, /^Approval required by policy: /);
    hash = error.decision.action_hash;
    return true;
  });
  assert.deepEqual(calls, []);
  engine.approve(hash, { ttlMs: 60_000 });
  assert.equal(drop({ table: 'tmp' }), 'ran');
  assert.throws(() => drop({ table: 'tmp' }), ApprovalRequiredError);
});

test('params that are not JSON are refused, not passed on', () => {
  const { calls, fn } = recorder();
  const write = guard(engine, 'agent-1', 'db.write', fn);
  assert.throws(() => write({ table: 'orders', when: new Date() }), (error) => {
    assert.ok(error instanceof DeniedError);
    assert.equal(error.decision.code, 'invalid_action');
    assert.match(error.decision.reason, /params\.when: a Date/);
    return true;
  });
  assert.deepEqual(calls, []);
});

test('an async fn keeps its promise', async () => {
  const write = guard(engine, 'agent-1', 'db.write', async (params) => params.table);
  assert.equal(await write({ table: 'orders' }), 'orders');
});
