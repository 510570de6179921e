// The audit trail through the Node binding: memory and file sinks, the hash chain, dropped
// records, redaction, the options and their errors. File trails are checked with the project's
// verifier, `portcullis audit verify` ($PORTCULLIS_BIN, default target/release/portcullis,
// built by `make test-node` when missing).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { PortcullisError, AuditError, Engine, InvalidArgumentError, PolicyError } from 'portcullis';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const VERIFIER = process.env.PORTCULLIS_BIN ?? join(ROOT, 'target', 'release', 'portcullis');
const GENESIS = `sha256:${'0'.repeat(64)}`;
const T0 = Date.parse('2026-05-22T12:00:00Z');

const policy = {
  portcullis: 1,
  name: 'audited',
  version: '3',
  audit: { include_params: ['params.table', 'params.nested.id'] },
  rules: [
    { id: 'reads', effect: 'allow', match: { tool: ['db.read'] } },
    { id: 'no-drop', effect: 'deny', match: { tool: ['db.drop'] }, reason: 'never drop tables' },
  ],
};
const read = (n) => ({ tool: 'db.read', agent: { id: `agent-${n}` }, params: { table: 'users', row: n } });

const scratch = mkdtempSync(join(tmpdir(), 'portcullis-node-audit-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let files = 0;
const trailPath = () => join(scratch, `trail-${++files}.jsonl`);

const memoryEngine = (audit = {}) => Engine.fromPolicy(policy, { clock: 'manual', startMs: T0, audit: { sink: 'memory', ...audit } });
const fileEngine = (path, audit = {}) => Engine.fromPolicy(policy, { clock: 'manual', startMs: T0, audit: { sink: 'file', path, ...audit } });

/** Runs the verifier on `paths` (oldest first); its exit status and report line. */
function verify(...paths) {
  assert.ok(existsSync(VERIFIER), `${VERIFIER} is missing: build it with \`cargo build --release -p portcullis-cli\``);
  const result = spawnSync(VERIFIER, ['audit', 'verify', ...paths], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const lines = (path) => readFileSync(path, 'utf8').split('\n').filter((line) => line !== '');

describe('memory sink', () => {
  test('drained in two batches: every decision once, in order, each record linked to the one before', () => {
    const engine = memoryEngine();
    const decisions = [];
    for (let n = 0; n < 25; n++) decisions.push(engine.evaluate(n % 5 === 4 ? { tool: 'db.drop', agent: { id: 'a' } } : read(n)));
    const first = engine.drainAudit(10);
    const second = engine.drainAudit();
    assert.equal(first.length, 10);
    assert.equal(second.length, 15);
    assert.deepEqual(engine.drainAudit(), []);
    const records = [...first, ...second];
    records.forEach((record, index) => {
      assert.equal(record.seq, index + 1);
      assert.equal(record.type, 'decision');
      assert.equal(record.prev, index === 0 ? GENESIS : records[index - 1].hash);
      assert.match(record.hash, /^sha256:[0-9a-f]{64}$/);
      assert.equal(record.effect, decisions[index].effect);
      assert.equal(record.rule, decisions[index].rule);
      assert.equal(record.action_hash, decisions[index].action_hash);
    });
    assert.deepEqual(engine.auditStats(), { recorded: 25, dropped: 0 });
  });

  test('a record carries the decision, what names the action, and the engine clock time', () => {
    const engine = memoryEngine();
    engine.setTime(T0 + 1234);
    const decision = engine.evaluate({ tool: 'db.drop', agent: { id: 'ops-7' }, target: 'db-1', params: { table: 'users' } });
    const [record] = engine.drainAudit();
    const { hash, eval_ns, ...rest } = record;
    assert.match(hash, /^sha256:[0-9a-f]{64}$/);
    assert.equal(typeof eval_ns, 'number');
    assert.deepEqual(rest, {
      seq: 1,
      type: 'decision',
      time: '2026-05-22T12:00:01.234Z',
      agent: 'ops-7',
      kind: 'tool_call',
      tool: 'db.drop',
      target: 'db-1',
      effect: 'deny',
      code: 'rule',
      rule: 'no-drop',
      reason: 'never drop tables',
      policy: { name: 'audited', version: '3' },
      action_hash: decision.action_hash,
      params: { 'params.table': 'users' },
      prev: GENESIS,
    });
  });

  test("overflow 'drop' with a tiny queue: recorded plus dropped is every decision, and the trail says so", () => {
    const engine = memoryEngine({ queueCapacity: 3 });
    for (let n = 0; n < 20; n++) engine.evaluate(read(n));
    const records = engine.drainAudit();
    assert.deepEqual(records.map((record) => record.type), ['dropped', 'decision', 'decision', 'decision']);
    assert.equal(records[0].dropped, 17);
    assert.equal(records[0].dropped_total, 17);
    const decisions = records.filter((record) => record.type === 'decision');
    assert.deepEqual(decisions.map((record) => record.params), [0, 1, 2].map(() => ({ 'params.table': 'users' })));
    assert.equal(decisions.length + records[0].dropped, 20);
    assert.deepEqual(engine.auditStats(), { recorded: 3, dropped: 17 });
    assert.deepEqual(records.map((record) => record.seq), [1, 2, 3, 4]);
    // Later drops are counted from the last dropped record on.
    for (let n = 0; n < 5; n++) engine.evaluate(read(n));
    const later = engine.drainAudit();
    assert.deepEqual([later[0].type, later[0].dropped, later[0].dropped_total], ['dropped', 2, 19]);
    assert.equal(later[0].prev, records[3].hash);
  });

  test('a secret param outside include_params and the context never reach a record', () => {
    const engine = memoryEngine();
    engine.evaluate({
      tool: 'db.read',
      agent: { id: 'a1' },
      params: { table: 'users', password: 'hunter2-secret', nested: { id: 9, token: 'tok-secret' } },
      context: { session: 'ctx-secret', tenant: 'acme-secret' },
    });
    engine.evaluate('{"tool": "db.read", "agent": {"id": "a1"}, "params": {"apiKey": "text-secret"}, "context": {"user": "ctx2-secret"}}');
    const records = engine.drainAudit();
    assert.equal(records.length, 2);
    assert.deepEqual(records[0].params, { 'params.table': 'users', 'params.nested.id': 9 });
    assert.deepEqual(records[1].params, {});
    const text = JSON.stringify(records);
    for (const secret of ['secret', 'password', 'token', 'apiKey', 'session', 'tenant', 'context']) {
      assert.ok(!text.includes(secret), `${secret} leaked into the audit records`);
    }
  });

  test('a value the binding cannot encode (a cycle) is audited as an invalid_action deny', () => {
    const engine = memoryEngine();
    const params = { table: 'users' };
    params.self = params;
    const decision = engine.evaluate({ tool: 'db.read', agent: { id: 'a1' }, params });
    assert.equal(decision.code, 'invalid_action');
    const bigint = engine.evaluate({ tool: 'db.read', agent: { id: 'a1' }, params: { n: 1n } });
    const records = engine.drainAudit();
    assert.equal(records.length, 2);
    for (const [record, returned] of [[records[0], decision], [records[1], bigint]]) {
      assert.equal(record.type, 'decision');
      assert.equal(record.effect, 'deny');
      assert.equal(record.code, 'invalid_action');
      assert.equal(record.reason, returned.reason);
      assert.equal(record.rule, null);
      assert.equal(record.action_hash, null);
      assert.deepEqual([record.agent, record.kind, record.tool, record.target], [null, null, null, null]);
      assert.deepEqual(record.policy, { name: 'audited', version: '3' });
    }
    assert.match(records[0].reason, /^params(\.self)+: nested deeper than 64 levels \(or a cycle\)$/);
    assert.match(records[1].reason, /^params\.n: a BigInt is not a JSON value$/);
  });

  test('drainAudit takes a whole number of records, at least 1', () => {
    const engine = memoryEngine();
    engine.evaluate(read(1));
    for (const bad of [0, -1, 1.5, NaN, '10', null, 2 ** 32]) {
      assert.throws(() => engine.drainAudit(bad), (error) => error instanceof InvalidArgumentError && /drainAudit takes a maximum from 1/.test(error.message), String(bad));
    }
    assert.equal(engine.drainAudit(1).length, 1);
  });
});

describe('file sink', () => {
  test('flushAudit writes every decision; the trail verifies, and a second engine cannot open it', () => {
    const path = trailPath();
    const engine = fileEngine(path, { fsync: true });
    for (let n = 0; n < 40; n++) engine.evaluate(n === 7 ? '{not json' : read(n));
    engine.flushAudit();
    assert.deepEqual(engine.auditStats(), { recorded: 40, dropped: 0 });
    const written = lines(path).map((line) => JSON.parse(line));
    assert.equal(written.length, 40);
    assert.deepEqual(written.map((record) => record.seq), Array.from({ length: 40 }, (_, i) => i + 1));
    assert.equal(written[7].code, 'invalid_action');
    assert.deepEqual(engine.drainAudit(), []);
    const { status, output } = verify(path);
    assert.equal(status, 0, output);
    assert.match(output, /ok: 40 records verify \(40 decisions, 0 dropped\)/);

    // The engine holds the trail's lock while it lives: a second engine cannot interleave
    // records into it (continuing a trail after an engine stops is tested in the core).
    assert.throws(() => fileEngine(path), (error) => error instanceof AuditError && /is in use by another engine/.test(error.message));
    engine.evaluate(read(99));
    engine.flushAudit();
    const continued = JSON.parse(lines(path)[40]);
    assert.equal(continued.seq, 41);
    assert.equal(continued.prev, written[39].hash);
    assert.equal(verify(path).status, 0);
  });

  test('an edited record fails verification', () => {
    const path = trailPath();
    const engine = fileEngine(path);
    for (let n = 0; n < 5; n++) engine.evaluate({ tool: 'db.drop', agent: { id: 'a' } });
    engine.flushAudit();
    const text = readFileSync(path, 'utf8');
    const edited = join(scratch, 'edited.jsonl');
    const records = text.split('\n');
    records[2] = records[2].replace('"effect":"deny"', '"effect":"allow"');
    assert.notEqual(records.join('\n'), text);
    writeFileSync(edited, records.join('\n'));
    const { status, output } = verify(edited);
    assert.equal(status, 1);
    assert.match(output, /edited\.jsonl:3: hash mismatch/);
  });

  test("overflow 'drop' with a tiny queue: decisions plus dropped in the file is every decision", () => {
    const path = trailPath();
    const engine = fileEngine(path, { overflow: 'drop', queueCapacity: 1 });
    const total = 5000;
    for (let n = 0; n < total; n++) engine.evaluate(read(n));
    engine.flushAudit();
    const { recorded, dropped } = engine.auditStats();
    assert.ok(dropped > 0, 'a queue of 1 must overflow');
    assert.equal(recorded + dropped, total);
    const records = lines(path).map((line) => JSON.parse(line));
    const decisions = records.filter((record) => record.type === 'decision').length;
    const droppedInFile = records.filter((record) => record.type === 'dropped').reduce((sum, record) => sum + record.dropped, 0);
    assert.equal(decisions, recorded);
    assert.equal(droppedInFile, dropped);
    const { status, output } = verify(path);
    assert.equal(status, 0, output);
    assert.match(output, new RegExp(`\\(${recorded} decisions, ${dropped} dropped\\)`));
  });

  test('maxBytes rotates into PATH.000001, ...; the files verify together, oldest first', () => {
    const path = trailPath();
    const engine = fileEngine(path, { maxBytes: 2000, flushIntervalMs: 1 });
    for (let n = 0; n < 30; n++) {
      engine.evaluate(read(n));
      engine.flushAudit();
    }
    const base = path.slice(scratch.length + 1);
    const rotated = readdirSync(scratch).filter((name) => name.startsWith(`${base}.`)).sort();
    assert.ok(rotated.length >= 3, `expected rotated files, found ${rotated}`);
    assert.match(rotated[0], /\.000001$/);
    const { status, output } = verify(...rotated.map((name) => join(scratch, name)), path);
    assert.equal(status, 0, output);
    assert.match(output, /\(30 decisions, 0 dropped\)/);
  });

  test('records still buffered reach the file when the process exits', () => {
    const path = trailPath();
    const child = `
      const { Engine } = require('portcullis');
      const engine = Engine.fromPolicy(${JSON.stringify(policy)}, { audit: { sink: 'file', path: ${JSON.stringify(path)}, flushIntervalMs: 3600000 } });
      for (let n = 0; n < 12; n++) engine.evaluate({ tool: 'db.read', agent: { id: 'a' } });
      process.exit(0);`;
    const result = spawnSync(process.execPath, ['-e', child], { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(lines(path).length, 12);
    assert.equal(verify(path).status, 0);
  });

  test('a trail that cannot be opened is an AuditError naming the file; a bad policy never creates one', () => {
    const missing = join(scratch, 'no', 'such', 'dir', 'trail.jsonl');
    assert.throws(() => fileEngine(missing), (error) => {
      assert.ok(error instanceof AuditError);
      assert.ok(error instanceof PortcullisError);
      assert.equal(error.name, 'AuditError');
      assert.match(error.message, /^audit trail: cannot open audit file .*no\/such\/dir\/trail\.jsonl: No such file or directory/);
      return true;
    });
    const notATrail = join(scratch, 'not-a-trail.txt');
    writeFileSync(notATrail, 'hello\n');
    assert.throws(() => fileEngine(notATrail), (error) => error instanceof AuditError && /not valid JSON/.test(error.message));
    const untouched = trailPath();
    assert.throws(() => Engine.fromPolicy({ portcullis: 2, name: 'x' }, { audit: { sink: 'file', path: untouched } }), PolicyError);
    assert.equal(existsSync(untouched), false);
  });

  test('a trail that cannot be written makes flushAudit throw an AuditError; evaluate still decides', () => {
    const engine = fileEngine('/dev/full');
    assert.equal(engine.evaluate(read(1)).effect, 'allow');
    assert.throws(() => engine.flushAudit(), (error) => error instanceof AuditError && /cannot write \/dev\/full: No space left on device/.test(error.message));
    assert.equal(engine.evaluate({ tool: 'db.drop', agent: { id: 'a' } }).effect, 'deny');
  });
});

describe('audit options', () => {
  test('bad audit options are InvalidArgumentErrors that name the option', () => {
    const path = trailPath();
    const cases = [
      [{}, /audit\.sink must be 'file' or 'memory', got undefined/],
      [{ sink: 'syslog' }, /audit\.sink must be 'file' or 'memory', got "syslog"/],
      [{ sink: 'memory', sinkk: 1 }, /audit options: unknown option "sinkk"/],
      [{ sink: 'memory', overflow: 'block' }, /audit\.overflow 'block' would hang a memory sink/],
      [{ sink: 'memory', path }, /audit\.path needs sink: 'file'/],
      [{ sink: 'memory', fsync: true }, /audit\.fsync needs sink: 'file'/],
      [{ sink: 'memory', queueCapacity: 0 }, /audit\.queueCapacity must be an integer from 1 to 1048576/],
      [{ sink: 'memory', queueCapacity: 2 ** 20 + 1 }, /audit\.queueCapacity/],
      [{ sink: 'file' }, /audit\.path must be the trail file's path/],
      [{ sink: 'file', path: '' }, /audit\.path must be the trail file's path/],
      [{ sink: 'file', path: 'a\ud800' }, /audit\.path has a lone surrogate/],
      [{ sink: 'file', path, overflow: 'lose' }, /audit\.overflow must be 'block' or 'drop', got "lose"/],
      [{ sink: 'file', path, maxBytes: -1 }, /audit\.maxBytes must be a non-negative integer/],
      [{ sink: 'file', path, flushIntervalMs: 0 }, /audit\.flushIntervalMs must be a positive integer/],
      [{ sink: 'file', path, fsync: 'yes' }, /audit\.fsync must be a boolean/],
      [null, /audit options must be an object/],
      ['memory', /audit options must be an object/],
    ];
    for (const [audit, message] of cases) {
      assert.throws(
        () => Engine.fromPolicy(policy, { audit }),
        (error) => error instanceof InvalidArgumentError && message.test(error.message),
        JSON.stringify(audit),
      );
    }
    assert.equal(existsSync(path), false);
  });

  test('an engine without a trail drains nothing, flushes at once and counts zero', () => {
    const engine = Engine.fromPolicy(policy);
    engine.evaluate(read(1));
    assert.deepEqual(engine.drainAudit(), []);
    engine.flushAudit();
    assert.deepEqual(engine.auditStats(), { recorded: 0, dropped: 0 });
  });
});
