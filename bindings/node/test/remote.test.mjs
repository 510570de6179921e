// RemoteEngine against a real `portcullis serve` ($PORTCULLIS_BIN, default
// target/release/portcullis) on a private Unix socket: identical decisions to an in-process
// engine, approvals, SIGKILL and restart, SIGSTOP with timeouts, and answers that are not
// decisions (from a local HTTP server).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Engine, InvalidActionError, InvalidArgumentError, RemoteEngine, UnavailableError } from 'portcullis';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BIN = process.env.PORTCULLIS_BIN ?? join(ROOT, 'target', 'release', 'portcullis');

const policy = {
  portcullis: 1,
  name: 'remote-test',
  version: '7',
  rules: [
    { id: 'no-rm', effect: 'deny', match: { tool: ['shell'] }, when: { field: 'params.cmd', contains: 'rm -rf' }, reason: 'destructive' },
    { id: 'shell', effect: 'allow', match: { tool: ['shell'] } },
    { id: 'search', effect: 'allow', match: { tool: ['search'] }, modify: { clamp: { 'params.limit': { max: 50 } } } },
    { id: 'search-2', effect: 'rate_limit', match: { tool: ['search'] }, limit: { max: 2, window: '1h', per: ['agent'] } },
    { id: 'pay', effect: 'require_approval', match: { tool: ['pay'] } },
  ],
};
const fallbackPolicy = {
  portcullis: 1,
  name: 'fallback',
  rules: [{ id: 'fallback-search', effect: 'allow', match: { tool: ['search'] } }],
};

const dirs = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until every thread of `pid` is stopped (signals are delivered asynchronously). */
async function waitStopped(pid) {
  for (let i = 0; i < 500; i++) {
    const tasks = readdirSync(`/proc/${pid}/task`);
    const stopped = tasks.every((task) => {
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 1).startsWith(' T');
    });
    if (stopped) return;
    await sleep(10);
  }
  throw new Error(`process ${pid} did not stop within 5 s`);
}

/** A `portcullis serve` process on a Unix socket in a fresh directory. */
class Server {
  constructor() {
    assert.ok(existsSync(BIN), `the portcullis binary is missing at ${BIN} (run make tools, or set PORTCULLIS_BIN)`);
    this.dir = mkdtempSync(join(tmpdir(), 'portcullis-remote-'));
    dirs.push(this.dir);
    this.socket = join(this.dir, 'pc.sock');
    this.policy = join(this.dir, 'policy.json');
    writeFileSync(this.policy, JSON.stringify(policy));
  }

  async start() {
    rmSync(this.socket, { force: true });
    this.child = spawn(BIN, ['serve', '--policy', this.policy, '--listen', `unix:${this.socket}`], { stdio: 'ignore' });
    for (let i = 0; i < 200; i++) {
      if (await new Promise((resolve) => {
        const c = connect(this.socket).on('connect', () => { c.destroy(); resolve(true); }).on('error', () => resolve(false));
      })) return this;
      await sleep(25);
    }
    throw new Error(`portcullis serve did not listen on ${this.socket} within 5 s`);
  }

  async kill() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGCONT');
    this.child.kill('SIGKILL');
    await exited;
  }
}

/**
 * Drops what legitimately differs between two engines: the evaluation time, and
 * retry_after_ms, which reads each engine's own clock (checked to be within the window).
 */
const comparable = ({ eval_ns, retry_after_ms, ...rest }) => {
  if (rest.code === 'rate_limited') assert.ok(retry_after_ms > 0 && retry_after_ms <= 3_600_000, `retry_after_ms ${retry_after_ms}`);
  else assert.equal(retry_after_ms, null);
  return rest;
};

describe('RemoteEngine', () => {
  test('decides exactly as an in-process engine, and the server counts', async (t) => {
    const server = await new Server().start();
    t.after(() => server.kill());
    const remote = new RemoteEngine(`unix:${server.socket}`, { timeoutMs: 2000 });
    t.after(() => remote.close());
    const local = Engine.fromPolicy(policy);
    const actions = [
      { tool: 'shell', agent: { id: 'a' }, params: { cmd: 'rm -rf /' } },
      { tool: 'shell', agent: { id: 'a' }, params: { cmd: 'ls' } },
      { tool: 'pay', agent: { id: 'a' }, params: { amount: 3 } },
      { tool: 'nothing', agent: { id: 'a' } },
      { tool: 'search', agent: { id: 'a' }, params: { limit: 500 } },
      { agent: { id: 'a' } },
      '{"tool": "x", "tool": "y", "agent": {"id": "a"}}',
      { tool: 'shell', agent: { id: 'a' }, params: { cmd: undefined } },
      { tool: 'search', agent: { id: 'a' } },
      { tool: 'search', agent: { id: 'a' } },
    ];
    for (const [i, action] of actions.entries()) {
      assert.deepEqual(comparable(await remote.evaluate(action)), comparable(local.evaluate(action)), `action ${i}`);
    }
    const d = await remote.evaluate({ tool: 'search', agent: { id: 'b' }, params: { limit: 500 } });
    assert.equal(d.allowed, true);
    assert.deepEqual(d.params, { limit: 50 });
  });

  test('approvals are granted and consumed on the server', async (t) => {
    const server = await new Server().start();
    t.after(() => server.kill());
    const remote = new RemoteEngine(`unix:${server.socket}`, { timeoutMs: 2000 });
    t.after(() => remote.close());
    const pay = { tool: 'pay', agent: { id: 'a' }, params: { amount: 5 } };
    const before = await remote.evaluate(pay);
    assert.equal(before.code, 'approval_required');
    assert.equal(await remote.approve(pay, { ttlMs: 60_000 }), before.action_hash);
    assert.equal((await remote.evaluate(pay)).code, 'approved');
    assert.equal((await remote.evaluate(pay)).code, 'approval_required');
    assert.equal(await remote.approve(before.action_hash, { ttlMs: 60_000, uses: 1 }), before.action_hash);
    assert.equal((await remote.evaluate(pay)).code, 'approved');
    await assert.rejects(remote.approve('sha256:zz', { ttlMs: 1000 }), InvalidArgumentError);
    await assert.rejects(remote.approve(pay, { ttlMs: 0 }), InvalidArgumentError);
    await assert.rejects(remote.approve({ tool: 'pay', agent: { id: 'a' }, params: { f() {} } }, { ttlMs: 1000 }), InvalidActionError);
  });

  test('fails closed when the server dies, uses the fallback, and recovers', async (t) => {
    const server = await new Server().start();
    t.after(() => server.kill());
    const remote = new RemoteEngine(`unix:${server.socket}`, { timeoutMs: 300, breakerFailures: 2, breakerCooldownMs: 50 });
    const fallback = Engine.fromPolicy(fallbackPolicy);
    const withFallback = new RemoteEngine(`unix:${server.socket}`, { timeoutMs: 300, fallback });
    t.after(() => { remote.close(); withFallback.close(); });
    const shell = { tool: 'shell', agent: { id: 'a' }, params: { cmd: 'ls' } };
    assert.equal((await remote.evaluate(shell)).allowed, true);

    await server.kill();
    for (let i = 0; i < 5; i++) {
      const d = await remote.evaluate(shell);
      assert.equal(d.allowed, false);
      assert.equal(d.effect, 'deny');
      assert.equal(d.code, 'unavailable');
      assert.ok(d.reason.length > 0);
      assert.equal(d.fallback, undefined);
    }
    const fb = await withFallback.evaluate(shell);
    assert.equal(fb.allowed, false);
    assert.equal(fb.fallback, true);
    assert.equal(fb.policy.name, 'fallback');
    const fbSearch = await withFallback.evaluate({ tool: 'search', agent: { id: 'a' } });
    assert.equal(fbSearch.allowed, true);
    assert.equal(fbSearch.rule, 'fallback-search');
    assert.equal(fbSearch.fallback, true);
    await assert.rejects(remote.approve(shell, { ttlMs: 1000 }), UnavailableError);

    await server.start();
    let d;
    for (let i = 0; i < 100; i++) {
      d = await remote.evaluate(shell);
      if (d.allowed) break;
      await sleep(20);
    }
    assert.equal(d.allowed, true, `after the restart: ${JSON.stringify(d)}`);

    server.child.kill('SIGSTOP');
    await waitStopped(server.child.pid);
    const stopped = new RemoteEngine(`unix:${server.socket}`, { timeoutMs: 100, breakerFailures: 0 });
    t.after(() => stopped.close());
    for (let i = 0; i < 3; i++) {
      const s = await stopped.evaluate(shell);
      assert.equal(s.code, 'unavailable');
      assert.match(s.reason, /did not answer within 100 ms/);
    }
    server.child.kill('SIGCONT');
  });

  test('an answer that is not a valid decision is unavailable', async (t) => {
    const answers = {
      500: [500, '{"error": {"code": "internal", "message": "boom"}}'],
      401: [401, '{"error": {"code": "unauthorized", "message": "token"}}'],
      'not json': [200, 'allow'],
      'allowed but denied': [200, '{"effect": "deny", "allowed": true, "code": "rule", "rule": null, "reason": "", "matched": [], "shadow": [], "params": null, "policy": {}}'],
      'unknown effect': [200, '{"effect": "permit", "allowed": false, "code": "rule", "rule": null, "reason": "", "matched": [], "shadow": [], "params": null, "policy": {}}'],
      'fallback claimed': [200, '{"effect": "allow", "allowed": true, "code": "rule", "rule": "r", "reason": "", "matched": [], "shadow": [], "params": null, "policy": {}, "fallback": true}'],
      'array': [200, '[]'],
    };
    let current;
    let authorization;
    const http = createServer((req, res) => {
      authorization = req.headers.authorization;
      req.resume();
      res.writeHead(current[0], { 'content-type': 'application/json' }).end(current[1]);
    });
    await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => http.close(resolve)));
    const remote = new RemoteEngine(`tcp:127.0.0.1:${http.address().port}`, { timeoutMs: 1000, token: 's3cret', breakerFailures: 0 });
    t.after(() => remote.close());
    for (const [name, answer] of Object.entries(answers)) {
      current = answer;
      const d = await remote.evaluate({ tool: 'search', agent: { id: 'a' } });
      assert.equal(d.allowed, false, name);
      assert.equal(d.code, 'unavailable', name);
    }
    assert.equal(authorization, 'Bearer s3cret');
  });

  test('malformed endpoints and options are refused', () => {
    for (const bad of ['', 'unix:', 'tcp:nohost', 'ftp://x:1', 'http://h:1/path', 'localhost:80']) {
      assert.throws(() => new RemoteEngine(bad), InvalidArgumentError, bad);
    }
    assert.throws(() => new RemoteEngine('unix:/x', { timeoutMs: 0 }), InvalidArgumentError);
    assert.throws(() => new RemoteEngine('unix:/x', { retries: 3 }), InvalidArgumentError);
  });
});
