// The Node percentile harness of the cross-language benchmark (benches/, BENCHMARKS.md): times
// single `engine.evaluate` calls on the reference workload and prints the common BENCH and MIX
// lines, one each per input mode.
//
//   node bench/percentile.mjs POLICY.json ACTIONS.json [--workload NAME] [--n N] [--warmup W]
//                             [--start-ms MS] [--step-ms MS]
//
// ACTIONS.json is one JSON array of actions. The engine has a manual clock that starts at
// --start-ms and moves --step-ms after each action (outside the timed region). W untimed calls,
// then N timed calls, replaying the actions in order, each mode on a fresh engine:
//   NAME-object  evaluate(action object): the binding encodes it, the decision comes back as an object
//   NAME-text    evaluate(JSON text of the action), encoded once before timing
// Exits 1 when an evaluation fails (invalid_action or engine_error).

import { readFileSync } from 'node:fs';

import { Engine } from 'portcullis';

function parseArgs(argv) {
  const args = { workload: 'ref', n: 200_000, warmup: 10_000, startMs: 1_772_463_600_000, stepMs: 10, paths: [] };
  const numeric = { '--n': 'n', '--warmup': 'warmup', '--start-ms': 'startMs', '--step-ms': 'stepMs' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--workload') args.workload = argv[++i];
    else if (flag in numeric) args[numeric[flag]] = Number(argv[++i]);
    else if (!flag.startsWith('-')) args.paths.push(flag);
    else throw new Error(`unknown argument ${flag}`);
  }
  if (args.paths.length !== 2 || !(args.n > 0) || !(args.warmup >= 0)) {
    throw new Error('usage: percentile.mjs POLICY.json ACTIONS.json [--workload NAME] [--n N] [--warmup W] [--start-ms MS] [--step-ms MS]');
  }
  return args;
}

/** The nearest-rank percentile `q` of sorted samples. */
function rank(sorted, q) {
  const idx = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[idx - 1];
}

function emptyMix() {
  return { allow: 0, deny: 0, rate_limited: 0, approval: 0, unknown_agent: 0, failed: 0 };
}

function addToMix(mix, decision) {
  const { effect, code } = decision;
  if (code === 'invalid_action' || code === 'engine_error') mix.failed++;
  else if (code === 'rate_limited') mix.rate_limited++;
  else if (code === 'unknown_agent') mix.unknown_agent++;
  else if (effect === 'require_approval') mix.approval++;
  else if (effect === 'allow') mix.allow++;
  else mix.deny++;
}

function run(args, policy, inputs, mode) {
  const engine = Engine.fromPolicy(policy, { clock: 'manual', startMs: args.startMs });
  const samples = new Float64Array(args.n);
  const mix = emptyMix();
  const total = args.warmup + args.n;
  let wallStart = 0n;
  for (let i = 0; i < total; i++) {
    if (i === args.warmup) wallStart = process.hrtime.bigint();
    const input = inputs[i % inputs.length];
    const t0 = process.hrtime.bigint();
    const decision = engine.evaluate(input);
    const elapsed = process.hrtime.bigint() - t0;
    if (i >= args.warmup) {
      samples[i - args.warmup] = Number(elapsed);
      addToMix(mix, decision);
    }
    engine.setTime(args.startMs + (i + 1) * args.stepMs);
  }
  const wall = Number(process.hrtime.bigint() - wallStart);
  samples.sort();
  const name = `${args.workload}-${mode}`;
  const opsPerS = Math.round((args.n * 1e9) / wall);
  console.log(
    `BENCH lang=node case=${name} n=${args.n} p50=${rank(samples, 0.5)} p90=${rank(samples, 0.9)} ` +
      `p99=${rank(samples, 0.99)} p999=${rank(samples, 0.999)} ops_per_s=${opsPerS}`,
  );
  console.log(`MIX lang=node case=${name} ${Object.entries(mix).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  return mix.failed;
}

const args = parseArgs(process.argv.slice(2));
const policy = readFileSync(args.paths[0], 'utf8');
const actions = JSON.parse(readFileSync(args.paths[1], 'utf8'));
if (!Array.isArray(actions) || actions.length === 0) throw new Error(`${args.paths[1]}: not a non-empty JSON array`);
let failed = run(args, policy, actions, 'object');
failed += run(args, policy, actions.map((a) => JSON.stringify(a)), 'text');
if (failed > 0) {
  console.error(`${failed} evaluations failed`);
  process.exitCode = 1;
}
