// How to cross the JavaScript/Rust boundary: the measurements behind the choices in README.md.
// Each row is one call of the native module (built by scripts/build.mjs) on the same workload as
// bench.mjs; the rows differ only in how the action goes in or the decision comes out.
//
//   node bench/boundary.mjs [POLICY.json [ACTION.json]] [--iterations N]

import { createRequire } from 'node:module';

import { compare, printComparison, workload } from './workload.mjs';

const require = createRequire(import.meta.url);
const { native } = require('../dist/cjs/native.js');
const { encodeJson } = require('../dist/cjs/encode.js');

const args = process.argv.slice(2);
const flag = args.indexOf('--iterations');
const iterations = flag >= 0 ? Number(args.splice(flag, 2)[1]) : 100_000;
const [policyPath, actionPath] = args;
const { policy, action } = workload(policyPath, actionPath);
const policyText = typeof policy === 'string' ? policy : JSON.stringify(policy);

function rows(title, engine) {
  const text = JSON.stringify(action);
  const decisionText = engine.evaluateJson(text);
  const coreNs = JSON.parse(decisionText).eval_ns;
  const fields = () =>
    engine.evaluateFields(action.tool, action.agent.id, encodeJson(action.params ?? {}), encodeJson(action.context ?? {}));
  for (const variant of [engine.evaluateValue(action), fields(), engine.evaluateJson(JSON.stringify(action))]) {
    if (JSON.parse(variant).action_hash !== JSON.parse(decisionText).action_hash) throw new Error('the variants disagree');
  }

  console.log(`== ${title}: core eval_ns of one call ${(coreNs / 1000).toFixed(2)} µs ==`);
  console.log('  action in (decision out by JSON.parse in every row):');
  printComparison(
    compare(
      {
        'JS encoder + text (shipped)': () => JSON.parse(engine.evaluateJson(encodeJson(action))),
        'JSON.stringify + text (not safe, reference)': () => JSON.parse(engine.evaluateJson(JSON.stringify(action))),
        'object walk in Rust via Node-API': () => JSON.parse(engine.evaluateValue(action)),
        'typed fields + encoded params/context': () => JSON.parse(fields()),
        'text already encoded (lower bound)': () => JSON.parse(engine.evaluateJson(text)),
      },
      iterations,
    ),
  );
  console.log('  decision out (action in as text in every row):');
  printComparison(
    compare(
      {
        'JSON text + JSON.parse (shipped)': () => JSON.parse(engine.evaluateJson(text)),
        'object built in Rust via Node-API': () => engine.evaluateJsonObject(text),
        'JSON text, not decoded (lower bound)': () => engine.evaluateJson(text),
      },
      iterations,
    ),
  );
  console.log('  the JavaScript side alone:');
  printComparison(
    compare(
      {
        'JS encoder': () => encodeJson(action),
        'JSON.stringify': () => JSON.stringify(action),
        'JSON.parse of the decision': () => JSON.parse(decisionText),
      },
      iterations,
    ),
  );
}

const create = (text) => native.NativeEngine.create(text, false, 0, 0);
rows('100-rule policy', create(policyText));
rows('empty policy (default allow)', create('{"portcullis": 1, "name": "empty", "default": "allow"}'));
