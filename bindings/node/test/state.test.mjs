// Shared state on a real redis-server (Debian's package; `make test-node` installs it): two
// engines created with the same `state` URL admit exactly `max` of one limit together; a
// malformed URL is refused at creation; a store that is down denies only what needs it.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Engine, InvalidArgumentError, PortcullisError, UnavailableError } from 'portcullis';

const policy = {
  portcullis: 1,
  name: 'fleet',
  default: 'allow',
  rules: [{ id: 'cap', effect: 'rate_limit', match: { tool: ['send'] }, limit: { max: 5, window: '1h', per: [] } }],
};
const send = { tool: 'send', agent: { id: 'x' } };
const read = { tool: 'read', agent: { id: 'x' } };

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

describe('state: redis://', () => {
  let redis;
  let dir;
  let url;

  before(async () => {
    const port = await freePort();
    dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-node-redis-'));
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    const spawned = new Promise((resolve, reject) => {
      redis.once('spawn', resolve);
      redis.once('error', (e) => reject(new Error(`redis-server (make redis-server): ${e.message}`)));
    });
    await spawned;
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(port))) {
      if (Date.now() > deadline) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    url = `redis://127.0.0.1:${port}/0`;
  });

  after(() => {
    redis?.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('two engines on one Redis admit exactly max of a limit together', () => {
    const a = Engine.fromPolicy(policy, { state: url });
    const b = Engine.fromPolicy(policy, { state: url });
    const codes = [];
    for (let i = 0; i < 12; i++) codes.push((i % 2 === 0 ? a : b).evaluate(send).code);
    assert.equal(codes.filter((c) => c === 'default').length, 5, codes.join());
    assert.equal(codes.filter((c) => c === 'rate_limited').length, 7, codes.join());
  });

  test('a malformed URL is refused when the engine is created', () => {
    for (const state of ['http://127.0.0.1:6379', 'redis://', 'redis://127.0.0.1:notaport']) {
      assert.throws(() => Engine.fromPolicy(policy, { state }), (e) => e instanceof InvalidArgumentError && /state URL/.test(e.message), state);
    }
    assert.throws(() => Engine.fromPolicy(policy, { state: 42 }), InvalidArgumentError);
  });

  test('a store that is down denies only the decisions that need it', async () => {
    const port = await freePort();
    const e = Engine.fromPolicy(policy, { state: `redis://127.0.0.1:${port}/0?timeout_ms=200` });
    const d = e.evaluate(send);
    assert.equal(d.code, 'unavailable');
    assert.equal(d.allowed, false);
    assert.equal(e.evaluate(read).code, 'default');
  });

  test('approve on a store that is down throws UnavailableError, by action and by hash', async () => {
    const port = await freePort();
    const e = Engine.fromPolicy(policy, { state: `redis://127.0.0.1:${port}/0?timeout_ms=200` });
    const hash = e.evaluate(read).action_hash;
    const unavailable = (error) =>
      error instanceof UnavailableError && error instanceof PortcullisError && error.name === 'UnavailableError' && /./.test(error.message);
    assert.throws(() => e.approve(read, { ttlMs: 60_000 }), unavailable);
    assert.throws(() => e.approve(hash, { ttlMs: 60_000 }), unavailable);
  });
});
