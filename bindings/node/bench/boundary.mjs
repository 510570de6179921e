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
const { readDecision, readVerdict } = require('../dist/cjs/compact.js');

const args = process.argv.slice(2);
const flag = args.indexOf('--iterations');
const iterations = flag >= 0 ? Number(args.splice(flag, 2)[1]) : 100_000;
const [policyPath, actionPath] = args;
const { policy, action } = workload(policyPath, actionPath);
const policyText = typeof policy === 'string' ? policy : JSON.stringify(policy);

function rows(title, engine) {
  const text = encodeJson(action);
  const decisionText = engine.evaluateJson(text);
  const compactText = engine.evaluate(text);
  const coreNs = JSON.parse(decisionText).eval_ns;

  console.log(`== ${title}: core eval_ns of one call ${(coreNs / 1000).toFixed(2)} µs ==`);
  console.log('  decision out (action in as text in every row):');
  printComparison(
    compare(
      {
        'compact form + object literal (shipped)': () => readDecision(engine.evaluate(text)),
        'JSON text + JSON.parse (before)': () => JSON.parse(engine.evaluateJson(text)),
        'verdict only, compact (evaluateVerdict)': () => readVerdict(engine.evaluateVerdict(text)),
        'compact form, not read (lower bound)': () => engine.evaluate(text),
      },
      iterations,
    ),
  );
  console.log('  action in (decision out by the compact form in every row):');
  printComparison(
    compare(
      {
        'JS encoder + text (shipped)': () => readDecision(engine.evaluate(encodeJson(action))),
        'JSON.stringify + text (not safe, reference)': () => readDecision(engine.evaluate(JSON.stringify(action))),
        'text already encoded (lower bound)': () => readDecision(engine.evaluate(text)),
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
        'reading the compact form': () => readDecision(compactText),
      },
      iterations,
    ),
  );
}

const create = (text) => native.NativeEngine.create(text, false, 0, 0);
rows('100-rule policy', create(policyText));
rows('empty policy (default allow)', create('{"portcullis": 1, "name": "empty", "default": "allow"}'));
