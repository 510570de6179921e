// Compiled by test/types.test.mjs: what must type-check, and (under @ts-expect-error) what must not.
import {
  AuditError,
  Engine,
  PolicyError,
  UnavailableError,
  guard,
  type Action,
  type AuditOptions,
  type AuditRecord,
  type AuditStats,
  type Condition,
  type Decision,
  type Policy,
  type Rule,
  type Verdict,
} from 'portcullis';
import { guardTool, toolInputGuardrail } from 'portcullis/openai';
import { portcullisMiddleware } from 'portcullis/langchain';
import { guardCallToolHandler } from 'portcullis/mcp';

const policy: Policy = {
  portcullis: 1,
  name: 'typed',
  default: 'deny',
  combining: 'first_match',
  agents: [{ id: 'agent-*', roles: ['researcher'] }],
  roles: { executor: { inherits: ['researcher'] } },
  rules: [
    { id: 'a', effect: 'allow', match: { tool: ['search.*'], role: ['researcher'] }, modify: { clamp: { 'params.limit': { max: 100 } } } },
    { id: 'b', effect: 'deny', when: { any: [{ field: 'params.path', path_within: ['/etc'] }, { not: { field: 'params.url', host_in: ['*.example.com'] } }] } },
    { id: 'c', effect: 'rate_limit', limit: { max: 10, window: '1m', per: ['agent', 'params.user'] } },
    { id: 'd', effect: 'require_approval', when: { time: { between: ['17:00', '09:00'], days: ['mon'], tz: 'Europe/Berlin' } } },
  ],
};

const conditions: Condition[] = [
  { field: 'params.amount', gt: 100 },
  { field: 'tool', glob: ['a.*', 'b.*'] },
  { field: 'context.tenant', in: ['acme', 'globex'] },
  { field: '/params/a.b', exists: true },
  { all: [{ field: 'agent.roles', contains: 'admin' }] },
];

// @ts-expect-error: a leaf has exactly one operator
const twoOperators: Condition = { field: 'params.x', eq: 1, ne: 2 };
// @ts-expect-error: `equals` is not an operator
const unknownOperator: Condition = { field: 'params.x', equals: 1 };
// @ts-expect-error: gt takes a number
const wrongOperand: Condition = { field: 'params.x', gt: '5' };
// @ts-expect-error: fields start at a known root
const wrongRoot: Condition = { field: 'session.id', exists: true };
// @ts-expect-error: a rate_limit rule needs a limit
const noLimit: Rule = { id: 'r', effect: 'rate_limit' };
// @ts-expect-error: modify only goes with allow
const denyModify: Rule = { id: 'r', effect: 'deny', modify: { remove: ['params.x'] } };
// @ts-expect-error: the format version is 1
const version2: Policy = { portcullis: 2, name: 'x' };

const engine = Engine.fromPolicy(policy, { clock: 'manual', startMs: 0 });
const action: Action = { tool: 'search.web', agent: { id: 'agent-1' }, params: { q: 'x' }, context: { tenant: 'acme' } };
const decision: Decision = engine.evaluate(action);
const effect: 'allow' | 'deny' | 'require_approval' = decision.effect;
const rule: string | null = decision.rule;
const hash: string = engine.approve(action, { ttlMs: 1000, uses: 2 });
engine.evaluate('{"tool": "x", "agent": {"id": "a"}}');
const verdict: Verdict = engine.evaluateVerdict(action);
const modified: boolean = verdict.params_modified;
const retry: number | null = verdict.retry_after_ms;
// @ts-expect-error: a verdict has no action hash (evaluate returns the full decision)
verdict.action_hash;
const unavailable: boolean = new UnavailableError('store down') instanceof Error;
// @ts-expect-error: an action names its agent
engine.evaluate({ tool: 'x' });
// @ts-expect-error: ttlMs is required
engine.approve(hash, {});

const search = guard(engine, 'agent-1', 'search.web', (params: { q: string }, page: number) => `${params.q}:${page}`);
const result: string = search({ q: 'x' }, 2);
// @ts-expect-error: the wrapper keeps fn's parameter types
search({ q: 1 }, 2);

const fileTrail: AuditOptions = { sink: 'file', path: '/var/log/portcullis.jsonl', maxBytes: 1 << 26, flushIntervalMs: 50, fsync: true, overflow: 'block' };
const audited = Engine.fromPolicy(policy, { audit: { sink: 'memory', queueCapacity: 1024 } });
const records: AuditRecord[] = audited.drainAudit(100);
for (const record of records) {
  if (record.type === 'decision') {
    const code: Decision['code'] = record.code;
    const agent: string | null = record.agent;
    console.log(code, agent, record.params?.['params.table'], record.prev, record.hash);
  } else if (record.type === 'dropped') {
    const lost: number = record.dropped;
    console.log(lost);
  }
}
const stats: AuditStats = audited.auditStats();
audited.flushAudit();
// @ts-expect-error: a file sink needs its path
const noPath: AuditOptions = { sink: 'file' };
// @ts-expect-error: a memory sink never blocks
const blockingMemory: AuditOptions = { sink: 'memory', overflow: 'block' };
// @ts-expect-error: rotation is for files
const memoryRotation: AuditOptions = { sink: 'memory', maxBytes: 10 };
// @ts-expect-error: only the decision record has an effect
const droppedEffect = (record: AuditRecord) => record.effect;

try {
  engine.updatePolicy('{}');
} catch (error) {
  if (error instanceof PolicyError) console.log(error.path, error.message);
  else if (error instanceof AuditError) console.log(error.message);
}

export { fileTrail, stats, noPath, blockingMemory, memoryRotation, droppedEffect };
export { conditions, twoOperators, unknownOperator, wrongOperand, wrongRoot, noLimit, denyModify, version2, effect, rule, result };
export { guardTool, toolInputGuardrail, portcullisMiddleware, guardCallToolHandler };
