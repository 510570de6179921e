// p50/p99 of one `engine.evaluate` call through the public API, for an action passed as an
// object and as JSON text, on a 100-rule policy (bench/workload.mjs) or the one given.
//
//   node bench/bench.mjs [POLICY.json [ACTION.json]] [--iterations N]

import { Engine } from 'portcullis';

import { compare, printComparison, workload } from './workload.mjs';

const args = process.argv.slice(2);
const flag = args.indexOf('--iterations');
const iterations = flag >= 0 ? Number(args.splice(flag, 2)[1]) : 200_000;
const [policyPath, actionPath] = args;
const { policy, action } = workload(policyPath, actionPath);

const engine = Engine.fromPolicy(policy);
const text = JSON.stringify(action);
const first = engine.evaluate(action);
if (first.effect === 'deny' && first.code === 'invalid_action') throw new Error(`the benchmark action is invalid: ${first.reason}`);
const rules = typeof policy === 'string' ? JSON.parse(policy).rules?.length ?? 0 : policy.rules.length;

console.log(`== Node: evaluate, ${rules} rules, decision ${first.effect}/${first.code}, ${iterations} calls, node ${process.version} ==`);
printComparison(
  compare({ 'evaluate(object)': () => engine.evaluate(action), 'evaluate(JSON text)': () => engine.evaluate(text) }, iterations),
);
