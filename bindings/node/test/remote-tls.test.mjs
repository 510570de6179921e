// RemoteEngine over HTTPS against a real `portcullis serve` ($PORTCULLIS_BIN, default
// target/release/portcullis) with a TLS listener on 127.0.0.1 and a bearer token. The test
// makes a private CA and a server certificate for 127.0.0.1 with the openssl command
// (`make deps` installs it; the test fails when it is missing), and a second, unrelated CA: a
// client that trusts only the wrong CA, or that speaks plain HTTP to the TLS listener, gets a
// deny with code `unavailable`.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Engine, RemoteEngine } from 'portcullis';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BIN = process.env.PORTCULLIS_BIN ?? join(ROOT, 'target', 'release', 'portcullis');
const TOKEN = '0123456789abcdef0123';

const policy = {
  portcullis: 1,
  name: 'remote-tls-test',
  version: '3',
  rules: [
    { id: 'no-rm', effect: 'deny', match: { tool: ['shell'] }, when: { field: 'params.cmd', contains: 'rm -rf' }, reason: 'destructive' },
    { id: 'shell', effect: 'allow', match: { tool: ['shell'] } },
  ],
};
const ls = { tool: 'shell', agent: { id: 'a' }, params: { cmd: 'ls' } };
const rm = { tool: 'shell', agent: { id: 'a' }, params: { cmd: 'rm -rf /' } };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function hasOpenssl() {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Runs openssl with `args` in `dir`; throws with its stderr when it fails. */
function openssl(dir, args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA (`<name>-ca.pem`, `<name>-ca.key`) valid for a day. */
function makeCa(dir, name) {
  openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}-ca.key`]);
  writeFileSync(join(dir, `${name}-ca.ext`), [
    'basicConstraints=critical,CA:TRUE',
    'keyUsage=critical,keyCertSign,cRLSign',
    'subjectKeyIdentifier=hash',
    '',
  ].join('\n'));
  openssl(dir, ['req', '-new', '-key', `${name}-ca.key`, '-subj', `/CN=portcullis test ${name} CA`, '-out', `${name}-ca.csr`]);
  openssl(dir, ['x509', '-req', '-in', `${name}-ca.csr`, '-signkey', `${name}-ca.key`, '-days', '1',
    '-extfile', `${name}-ca.ext`, '-out', `${name}-ca.pem`]);
  return join(dir, `${name}-ca.pem`);
}

/** A server certificate for 127.0.0.1 signed by the CA `ca` (`server.pem`, `server.key`). */
function makeServerCert(dir, ca) {
  openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'server.key']);
  writeFileSync(join(dir, 'server.ext'), [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1',
    'authorityKeyIdentifier=keyid',
    '',
  ].join('\n'));
  openssl(dir, ['req', '-new', '-key', 'server.key', '-subj', '/CN=127.0.0.1', '-out', 'server.csr']);
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', `${ca}-ca.pem`, '-CAkey', `${ca}-ca.key`,
    '-set_serial', '2', '-days', '1', '-extfile', 'server.ext', '-out', 'server.pem']);
  return { cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
async function freePort() {
  const s = createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port` (5 s at most). */
async function waitListening(port, child) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`portcullis serve exited with ${child.exitCode}`);
    const up = await new Promise((resolve) => {
      const c = connect(port, '127.0.0.1').on('connect', () => { c.destroy(); resolve(true); }).on('error', () => resolve(false));
    });
    if (up) return;
    await sleep(25);
  }
  throw new Error(`portcullis serve did not listen on 127.0.0.1:${port} within 5 s`);
}

describe('RemoteEngine over HTTPS', () => {
  assert.ok(hasOpenssl(), 'the openssl command is not installed (make deps installs it)');
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-remote-tls-'));
  let child;
  let port;
  let trusted;
  let untrusted;

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('starts portcullis serve with a TLS listener on 127.0.0.1', async () => {
    assert.ok(existsSync(BIN), `the portcullis binary is missing at ${BIN} (run make tools, or set PORTCULLIS_BIN)`);
    trusted = readFileSync(makeCa(dir, 'good'));
    untrusted = readFileSync(makeCa(dir, 'other'));
    const { cert, key } = makeServerCert(dir, 'good');
    writeFileSync(join(dir, 'policy.json'), JSON.stringify(policy));
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
    port = await freePort();
    child = spawn(BIN, ['serve', '--policy', join(dir, 'policy.json'), '--listen', `tcp:127.0.0.1:${port}`,
      '--tls-cert', cert, '--tls-key', key, '--token-file', join(dir, 'token'), '--watch-interval-ms', '0'],
    { stdio: 'ignore' });
    await waitListening(port, child);
  });

  test('decides exactly as an in-process engine with the CA that signed the certificate', async (t) => {
    const remote = new RemoteEngine(`https://127.0.0.1:${port}`, { timeoutMs: 5000, token: TOKEN, ca: trusted, breakerFailures: 0 });
    t.after(() => remote.close());
    const local = Engine.fromPolicy(policy);
    for (const action of [ls, rm, { tool: 'other', agent: { id: 'a' } }]) {
      const { eval_ns: _remote, ...got } = await remote.evaluate(action);
      const { eval_ns: _local, ...want } = local.evaluate(action);
      assert.deepEqual(got, want, JSON.stringify(action));
    }
    const allowed = await remote.evaluate(ls);
    assert.equal(allowed.allowed, true);
    assert.equal(allowed.rule, 'shell');
    assert.deepEqual(allowed.policy, { name: 'remote-tls-test', version: '3' });
    const denied = await remote.evaluate(rm);
    assert.equal(denied.code, 'rule');
    assert.equal(denied.rule, 'no-rm');
    assert.equal(denied.reason, 'destructive');
  });

  test('a CA that did not sign the certificate is a deny with code unavailable', async (t) => {
    const remote = new RemoteEngine(`https://127.0.0.1:${port}`, { timeoutMs: 5000, token: TOKEN, ca: untrusted, breakerFailures: 0 });
    t.after(() => remote.close());
    for (const action of [ls, rm]) {
      const d = await remote.evaluate(action);
      assert.equal(d.allowed, false);
      assert.equal(d.effect, 'deny');
      assert.equal(d.code, 'unavailable');
      assert.match(d.reason, /certificate/i);
      assert.equal(d.fallback, undefined);
    }
  });

  test('without the token, or in plain HTTP, it is a deny with code unavailable', async (t) => {
    const noToken = new RemoteEngine(`https://127.0.0.1:${port}`, { timeoutMs: 5000, ca: trusted, breakerFailures: 0 });
    const plain = new RemoteEngine(`http://127.0.0.1:${port}`, { timeoutMs: 5000, token: TOKEN, breakerFailures: 0 });
    t.after(() => { noToken.close(); plain.close(); });
    const refused = await noToken.evaluate(ls);
    assert.equal(refused.code, 'unavailable');
    assert.match(refused.reason, /answered 401/);
    const d = await plain.evaluate(ls);
    assert.equal(d.allowed, false);
    assert.equal(d.code, 'unavailable');
  });
});
